#include "runtime/optim/shard_optimizer.h"

#include <string>

#include "kernels/cpu/optimizer.h"

namespace cohort {

Result<ShardOptimizer> ShardOptimizer::Make(const OptimizerSpec& spec, size_t count,
                                            std::string_view what) {
  COHORT_RETURN_IF_ERROR(ValidateOptimizerSpec(spec, what));
  ShardOptimizer optimizer;
  optimizer.spec_ = spec;
  optimizer.count_ = count;
  optimizer.state_.resize(static_cast<size_t>(StateBufferCount(spec)));
  for (std::vector<float>& buffer : optimizer.state_) buffer.assign(count, 0.0f);
  return optimizer;
}

Status ShardOptimizer::SetSpec(const OptimizerSpec& spec, std::string_view what) {
  COHORT_RETURN_IF_ERROR(CheckOptimizerChange(spec_, spec, what));
  spec_ = spec;
  return Status::Ok();
}

Status ShardOptimizer::Apply(size_t offset, size_t count, float* params, const void* grads,
                             DataType grad_dtype, void* model, DataType model_dtype,
                             double grad_scale) {
  if (offset > count_ || count > count_ - offset) {
    return InternalError("ShardOptimizer::Apply: range [" + std::to_string(offset) + ", " +
                         std::to_string(offset + count) + ") outside a shard of " +
                         std::to_string(count_));
  }
  if (step_ < 1) return InternalError("ShardOptimizer::Apply before BeginStep");
  kernels::OptimizerShard shard;
  shard.count = count;
  shard.params = params;
  shard.grads = grads;
  shard.grad_dtype = grad_dtype;
  shard.model_params = model;
  shard.model_dtype = model_dtype;
  auto state = [&](int i) { return state_[static_cast<size_t>(i)].data() + offset; };
  switch (spec_.type) {
    case OptimizerType::kSgd:
      return kernels::SgdStep(ToSgdParams(spec_, step_, grad_scale), shard,
                              state_.empty() ? nullptr : state(0));
    case OptimizerType::kAdam:
    case OptimizerType::kAdamW:
      return kernels::AdamStep(ToAdamParams(spec_, step_, grad_scale), shard, state(0), state(1),
                               spec_.amsgrad ? state(2) : nullptr);
    case OptimizerType::kAggregate:
      break;
  }
  return InternalError("ShardOptimizer::Apply: no optimizer step for " +
                       std::string(OptimizerTypeName(spec_.type)));
}

}  // namespace cohort
