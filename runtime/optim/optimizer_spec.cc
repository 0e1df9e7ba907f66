#include "runtime/optim/optimizer_spec.h"

#include <cstdio>

namespace cohort {
namespace {

std::string Num(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}

}  // namespace

OptimizerSpec OptimizerSpec::Aggregate() {
  OptimizerSpec spec;
  spec.type = OptimizerType::kAggregate;
  spec.lr = 0;
  return spec;
}

OptimizerSpec OptimizerSpec::Sgd(double lr, double momentum, bool nesterov, double weight_decay) {
  OptimizerSpec spec;
  spec.type = OptimizerType::kSgd;
  spec.lr = lr;
  spec.momentum = momentum;
  spec.nesterov = nesterov;
  spec.weight_decay = weight_decay;
  return spec;
}

OptimizerSpec OptimizerSpec::Adam(double lr, double weight_decay) {
  OptimizerSpec spec;
  spec.type = OptimizerType::kAdam;
  spec.lr = lr;
  spec.weight_decay = weight_decay;
  return spec;
}

OptimizerSpec OptimizerSpec::AdamW(double lr, double weight_decay) {
  OptimizerSpec spec = Adam(lr, weight_decay);
  spec.type = OptimizerType::kAdamW;
  return spec;
}

std::string_view OptimizerTypeName(OptimizerType type) {
  switch (type) {
    case OptimizerType::kAggregate: return "aggregate";
    case OptimizerType::kSgd: return "sgd";
    case OptimizerType::kAdam: return "adam";
    case OptimizerType::kAdamW: return "adamw";
  }
  return "unknown";
}

Result<OptimizerType> ParseOptimizerType(std::string_view name) {
  for (OptimizerType type : {OptimizerType::kAggregate, OptimizerType::kSgd, OptimizerType::kAdam,
                             OptimizerType::kAdamW}) {
    if (name == OptimizerTypeName(type)) return type;
  }
  return InvalidArgumentError("unknown optimizer '" + std::string(name) +
                              "' (expected aggregate, sgd, adam or adamw)");
}

std::string DescribeOptimizer(const OptimizerSpec& s) {
  std::string out(OptimizerTypeName(s.type));
  switch (s.type) {
    case OptimizerType::kAggregate:
      return out;
    case OptimizerType::kSgd:
      out += "(lr=" + Num(s.lr) + ", momentum=" + Num(s.momentum);
      if (s.dampening != 0) out += ", dampening=" + Num(s.dampening);
      if (s.nesterov) out += ", nesterov=True";
      break;
    case OptimizerType::kAdam:
    case OptimizerType::kAdamW:
      out += "(lr=" + Num(s.lr) + ", betas=(" + Num(s.beta1) + ", " + Num(s.beta2) +
             "), eps=" + Num(s.eps);
      if (s.amsgrad) out += ", amsgrad=True";
      break;
  }
  out += ", weight_decay=" + Num(s.weight_decay);
  if (s.maximize) out += ", maximize=True";
  return out + ")";
}

kernels::SgdParams ToSgdParams(const OptimizerSpec& s, int64_t step, double grad_scale) {
  kernels::SgdParams p;
  p.lr = s.lr;
  p.momentum = s.momentum;
  p.dampening = s.dampening;
  p.weight_decay = s.weight_decay;
  p.nesterov = s.nesterov;
  p.maximize = s.maximize;
  p.step = step;
  p.grad_scale = grad_scale;
  return p;
}

kernels::AdamParams ToAdamParams(const OptimizerSpec& s, int64_t step, double grad_scale) {
  kernels::AdamParams p;
  p.lr = s.lr;
  p.beta1 = s.beta1;
  p.beta2 = s.beta2;
  p.eps = s.eps;
  p.weight_decay = s.weight_decay;
  p.decoupled_weight_decay = s.type == OptimizerType::kAdamW;
  p.amsgrad = s.amsgrad;
  p.maximize = s.maximize;
  p.step = step;
  p.grad_scale = grad_scale;
  return p;
}

Status ValidateOptimizerSpec(const OptimizerSpec& spec, std::string_view what) {
  const kernels::OptimizerShard empty;  // hyperparameters only: no buffers to check
  switch (spec.type) {
    case OptimizerType::kAggregate:
      return Status::Ok();
    case OptimizerType::kSgd:
      return kernels::ValidateSgdStep(what, ToSgdParams(spec, 1, 1.0), empty, nullptr);
    case OptimizerType::kAdam:
    case OptimizerType::kAdamW:
      return kernels::ValidateAdamStep(what, ToAdamParams(spec, 1, 1.0), empty, nullptr, nullptr,
                                       nullptr);
  }
  return InvalidArgumentError(std::string(what) + ": unknown optimizer type " +
                              std::to_string(static_cast<int>(spec.type)));
}

Status CheckOptimizerChange(const OptimizerSpec& current, const OptimizerSpec& next,
                            std::string_view what) {
  COHORT_RETURN_IF_ERROR(ValidateOptimizerSpec(next, what));
  if (current.type != next.type || StateBufferCount(current) != StateBufferCount(next)) {
    return InvalidArgumentError(
        std::string(what) + ": cannot change the optimizer from " + DescribeOptimizer(current) +
        " to " + DescribeOptimizer(next) +
        "; hyperparameters may change, but not the optimizer type or the state it keeps "
        "(momentum on or off, amsgrad)");
  }
  return Status::Ok();
}

int StateBufferCount(const OptimizerSpec& spec) {
  switch (spec.type) {
    case OptimizerType::kAggregate: return 0;
    case OptimizerType::kSgd: return spec.momentum != 0 ? 1 : 0;
    case OptimizerType::kAdam:
    case OptimizerType::kAdamW: return spec.amsgrad ? 3 : 2;
  }
  return 0;
}

std::string_view StateBufferName(const OptimizerSpec& spec, int index) {
  if (spec.type == OptimizerType::kSgd) return "momentum_buffer";
  static constexpr std::string_view kAdam[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return index >= 0 && index < 3 ? kAdam[index] : "?";
}

}  // namespace cohort
