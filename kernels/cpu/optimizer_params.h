// Hyperparameters and buffers of one fused optimizer step over a flat parameter shard, shared by
// the CPU implementation (kernels/cpu/optimizer.h) and the CUDA one (kernels/cuda/optimizer.h).
//
// Plain C++ (no CUDA): the per-step scalar coefficients are computed here, once, on the host in
// double precision and rounded to f32, so both implementations see the same f32 constants and
// evaluate the same f32 expressions in the same order (see the .cc / .cu for that order).
//
// Semantics are PyTorch's torch.optim.SGD / Adam / AdamW (the `fused=True` formula order):
//   SGD:  g = grad * grad_scale; if maximize g = -g; if wd != 0 g += wd * p;
//         if momentum != 0 { buf = step == 1 ? g : momentum * buf + (1 - dampening) * g;
//                            g = nesterov ? g + momentum * buf : buf }
//         p -= lr * g
//   Adam: g = grad * grad_scale; if maximize g = -g;
//         if wd != 0 { AdamW (decoupled): p -= lr * wd * p;  Adam: g += wd * p }
//         m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//         if amsgrad { vmax = max(vmax, v) (NaN propagates); v_used = vmax } else v_used = v
//         denom = sqrt(v_used) / sqrt(1 - beta2^step) + eps;  p -= (lr / (1 - beta1^step)) * m / denom
// grad_scale multiplies the gradient on load (pass 1/loss_scale, 1/world_size or their product;
// PyTorch divides by its scale, which is the same result when the scale is a power of two).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort::kernels {

// Hyperparameters of one SGD step (torch.optim.SGD's defaults except lr, which torch requires).
struct SgdParams {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // L2: added to the gradient
  bool nesterov = false;    // needs momentum > 0 and dampening == 0, as in PyTorch
  bool maximize = false;
  // 1-based number of this step. On step 1 the momentum buffer is initialised to the gradient
  // (its old contents are ignored), as PyTorch does when the buffer does not exist yet.
  int64_t step = 1;
  double grad_scale = 1.0;  // gradients are multiplied by this on load
};

// Hyperparameters of one Adam / AdamW step (torch.optim.Adam's defaults).
struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled_weight_decay = false;  // true: AdamW (p -= lr * wd * p); false: Adam (L2 on g)
  bool amsgrad = false;                 // needs the max_exp_avg_sq buffer
  bool maximize = false;
  // 1-based number of this step (PyTorch's state["step"] after its increment): bias correction
  // uses it. The caller owns the count; see OptimizerShard::found_nonfinite for skipped steps.
  int64_t step = 1;
  double grad_scale = 1.0;
};

// The buffers of one flat shard: `count` elements each, host memory for the CPU functions and
// device memory (of the current device) for the CUDA ones. Pointers must be aligned to their
// element size; 16-byte alignment (at the same element phase in every buffer) lets the CUDA code
// use vector loads. No two buffers (these and the optimizer state) may overlap: the functions
// refuse overlapping ones rather than guess what was meant.
struct OptimizerShard {
  size_t count = 0;
  // f32 parameters, updated in place. With model_params set, these are the f32 master weights.
  float* params = nullptr;
  const void* grads = nullptr;
  DataType grad_dtype = DataType::kF32;  // f32, bf16 or f16; widened to f32 on load
  // Optional low-precision model copy, written in the same pass: model = round_to_nearest_even(
  // params) after the update. nullptr when the parameters are f32 only.
  void* model_params = nullptr;
  DataType model_dtype = DataType::kBF16;  // bf16 or f16
  // Optional flag (host memory for CPU, device memory for CUDA), e.g. GradScaler's found_inf: when
  // *found_nonfinite != 0 the step is a no-op (no buffer is written). The CUDA kernels read it on
  // the device, so the host never waits for it; the step count in the params is the caller's to
  // keep consistent (read the flag before advancing it, as GradScaler's unfused path does).
  const float* found_nonfinite = nullptr;
};

// Per-step f32 constants, rounded once from the double hyperparameters. grad_scale carries the
// maximize sign: -(g * s) == g * (-s) exactly in IEEE arithmetic.
struct SgdCoefficients {
  float lr, momentum, one_minus_dampening, weight_decay, grad_scale;
};
struct AdamCoefficients {
  float grad_scale, weight_decay, lr_weight_decay, beta1, one_minus_beta1, beta2, one_minus_beta2,
      eps, step_size, bias_correction2_sqrt;
};

inline SgdCoefficients MakeSgdCoefficients(const SgdParams& p) {
  return {static_cast<float>(p.lr), static_cast<float>(p.momentum),
          static_cast<float>(1.0 - p.dampening), static_cast<float>(p.weight_decay),
          static_cast<float>(p.maximize ? -p.grad_scale : p.grad_scale)};
}

inline AdamCoefficients MakeAdamCoefficients(const AdamParams& p) {
  const double step = static_cast<double>(p.step);
  const double bias_correction1 = 1.0 - std::pow(p.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(p.beta2, step);
  return {static_cast<float>(p.maximize ? -p.grad_scale : p.grad_scale),
          static_cast<float>(p.weight_decay),
          static_cast<float>(p.lr * p.weight_decay),
          static_cast<float>(p.beta1),
          static_cast<float>(1.0 - p.beta1),
          static_cast<float>(p.beta2),
          static_cast<float>(1.0 - p.beta2),
          static_cast<float>(p.eps),
          static_cast<float>(p.lr / bias_correction1),
          static_cast<float>(std::sqrt(bias_correction2))};
}

// Input checks shared by both implementations, so that they refuse the same inputs: PyTorch's own
// hyperparameter rules, step >= 1, dtypes, required buffers, element alignment and overlap.
// `what` names the caller in messages ("SgdStep", "AdamStepCuda"). Defined in optimizer.cc.
Status ValidateSgdStep(std::string_view what, const SgdParams& params, const OptimizerShard& shard,
                       const float* momentum_buffer);
Status ValidateAdamStep(std::string_view what, const AdamParams& params,
                        const OptimizerShard& shard, const float* exp_avg,
                        const float* exp_avg_sq, const float* max_exp_avg_sq);

}  // namespace cohort::kernels
