// ShardOptimizer: the optimizer state of one flat shard of parameters (momentum, or Adam's two
// moments) and the step count, updated by the fused CPU kernels (kernels/cpu/optimizer.h).
// A parameter-server slice owns one; a ZeRO rank owns one over its whole partition and updates
// it bucket by bucket (Apply over sub-ranges, one BeginStep per optimizer step).
//
// The state buffers are allocated (and zeroed) once, at construction, like PyTorch's lazily
// created zero state. Not thread-safe; disjoint ranges may be applied from different threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/base/dtype.h"
#include "runtime/base/status.h"
#include "runtime/optim/optimizer_spec.h"

namespace cohort {

class ShardOptimizer {
 public:
  ShardOptimizer() = default;
  // Validates `spec` (`what` names the caller in messages) and allocates the state.
  static Result<ShardOptimizer> Make(const OptimizerSpec& spec, size_t count, std::string_view what);

  const OptimizerSpec& spec() const { return spec_; }
  // Hyperparameter change (see CheckOptimizerChange).
  Status SetSpec(const OptimizerSpec& spec, std::string_view what);
  size_t count() const { return count_; }

  // Steps completed (PyTorch's state["step"]). BeginStep makes the next one current.
  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }
  void BeginStep() { ++step_; }

  // Updates elements [offset, offset + count) with step step(): params are f32 (updated in
  // place), grads of grad_dtype (f32, bf16, f16) are multiplied by grad_scale on load, and a
  // bf16/f16 model copy is written when `model` is not null. Not for kAggregate.
  Status Apply(size_t offset, size_t count, float* params, const void* grads, DataType grad_dtype,
               void* model, DataType model_dtype, double grad_scale);

  int state_buffer_count() const { return static_cast<int>(state_.size()); }
  float* state_buffer(int index) { return state_[static_cast<size_t>(index)].data(); }
  const float* state_buffer(int index) const { return state_[static_cast<size_t>(index)].data(); }
  // Bytes of optimizer state held (the f32 buffers).
  size_t state_bytes() const { return state_.size() * count_ * sizeof(float); }

 private:
  OptimizerSpec spec_;
  size_t count_ = 0;
  int64_t step_ = 0;
  std::vector<std::vector<float>> state_;
};

}  // namespace cohort
