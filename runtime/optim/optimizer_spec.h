// OptimizerSpec: which optimizer updates a flat shard of parameters and with which
// hyperparameters. Shared by the parameter server (runtime/ps), which receives it from workers,
// and the ZeRO ShardedOptimizer (runtime/zero). The arithmetic is the fused kernels'
// (kernels/cpu/optimizer.h): PyTorch's torch.optim.SGD / Adam / AdamW formulas.
//
// kAggregate is no optimizer: the parameter server then stores what workers push (the sum or mean
// of a synchronous step's pushes, BytePS's push_pull; in asynchronous mode each push is added).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/cpu/optimizer_params.h"
#include "runtime/base/status.h"

namespace cohort {

enum class OptimizerType : uint8_t { kAggregate = 0, kSgd = 1, kAdam = 2, kAdamW = 3 };

struct OptimizerSpec {
  OptimizerType type = OptimizerType::kSgd;
  double lr = 0.01;
  // SGD
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
  // SGD (L2 added to the gradient), Adam (L2) and AdamW (decoupled)
  double weight_decay = 0;
  // Adam / AdamW
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  bool amsgrad = false;
  bool maximize = false;

  static OptimizerSpec Aggregate();
  static OptimizerSpec Sgd(double lr, double momentum = 0, bool nesterov = false,
                           double weight_decay = 0);
  static OptimizerSpec Adam(double lr = 1e-3, double weight_decay = 0);
  static OptimizerSpec AdamW(double lr = 1e-3, double weight_decay = 1e-2);

  bool operator==(const OptimizerSpec&) const = default;
};

// "aggregate", "sgd", "adam", "adamw".
std::string_view OptimizerTypeName(OptimizerType type);
Result<OptimizerType> ParseOptimizerType(std::string_view name);

// "adamw(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)" for messages and logs.
std::string DescribeOptimizer(const OptimizerSpec& spec);

// PyTorch's hyperparameter rules (the kernels' own checks); `what` prefixes the message.
Status ValidateOptimizerSpec(const OptimizerSpec& spec, std::string_view what);

// Whether `next` may replace `current` on state that already exists: hyperparameters may change
// (learning-rate schedules, weight decay, betas); the type and the state it keeps (momentum or
// not, amsgrad) may not, since the state buffers would not match.
Status CheckOptimizerChange(const OptimizerSpec& current, const OptimizerSpec& next,
                            std::string_view what);

// How many f32 state buffers of the shard's size the optimizer keeps, and their names
// (PyTorch's state keys): momentum_buffer; exp_avg, exp_avg_sq (, max_exp_avg_sq).
int StateBufferCount(const OptimizerSpec& spec);
std::string_view StateBufferName(const OptimizerSpec& spec, int index);

// Kernel parameters for 1-based step `step`, gradients multiplied by `grad_scale` on load.
kernels::SgdParams ToSgdParams(const OptimizerSpec& spec, int64_t step, double grad_scale);
kernels::AdamParams ToAdamParams(const OptimizerSpec& spec, int64_t step, double grad_scale);

}  // namespace cohort
