// CPU fused optimizer steps (see optimizer.h) and the input checks both implementations share.
//
// The shard is walked in blocks of kBlock elements that stay in L1: a block's bf16/f16 gradients
// are widened into a stack buffer by the runtime-dispatched conversions of reduce.h, one f32 loop
// updates parameters and state, and the model copy is narrowed from the updated parameters. The
// f32 loops are templates over the options, so each loop is branch-free and vectorises (Adam's
// sqrt only with -fno-math-errno: see the comment at AdamBlock). They evaluate the formulas of
// optimizer_params.h in the order written, with no contraction into fma (ISO C++ mode), which is
// what the CUDA kernels do too.
#include "kernels/cpu/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "kernels/cpu/reduce.h"

namespace cohort::kernels {
namespace {

constexpr size_t kBlock = 1024;

enum class Momentum { kNone, kFirst, kRunning };
enum class Decay { kNone, kL2, kDecoupled };

template <bool kWeightDecay, Momentum kMomentum, bool kNesterov>
void SgdBlock(const SgdCoefficients& c, float* __restrict p, const float* __restrict grad,
              float* __restrict buf, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i] * c.grad_scale;
    if constexpr (kWeightDecay) g = g + c.weight_decay * p[i];
    if constexpr (kMomentum != Momentum::kNone) {
      float b = g;
      if constexpr (kMomentum == Momentum::kRunning) b = c.momentum * buf[i] + c.one_minus_dampening * g;
      buf[i] = b;
      g = kNesterov ? g + c.momentum * b : b;
    }
    p[i] = p[i] - c.lr * g;
  }
}

// GCC vectorises std::sqrt only under -fno-math-errno (otherwise it keeps a scalar call for the
// negative-input errno case). fabs costs nothing: v is a sum of non-negative terms in any valid
// state, and sqrt(|v|) keeps NaN; the CUDA kernel takes fabs too, so both agree on any input.
template <Decay kDecay, bool kAmsgrad>
void AdamBlock(const AdamCoefficients& c, float* __restrict p, const float* __restrict grad,
               float* __restrict m, float* __restrict v, float* __restrict vmax, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i] * c.grad_scale;
    float param = p[i];
    if constexpr (kDecay == Decay::kL2) g = g + c.weight_decay * param;
    if constexpr (kDecay == Decay::kDecoupled) param = param - c.lr_weight_decay * param;
    const float mi = c.beta1 * m[i] + c.one_minus_beta1 * g;
    const float vi = c.beta2 * v[i] + c.one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float used = vi;
    if constexpr (kAmsgrad) {
      // torch.maximum semantics: a NaN in either operand wins.
      const float old = vmax[i];
      used = (vi > old || vi != vi) ? vi : old;
      vmax[i] = used;
    }
    const float denom = std::sqrt(std::fabs(used)) / c.bias_correction2_sqrt + c.eps;
    p[i] = param - c.step_size * mi / denom;
  }
}

using SgdBlockFn = void (*)(const SgdCoefficients&, float*, const float*, float*, size_t);
using AdamBlockFn = void (*)(const AdamCoefficients&, float*, const float*, float*, float*, float*,
                             size_t);

template <bool kWeightDecay>
SgdBlockFn PickSgd(Momentum momentum, bool nesterov) {
  switch (momentum) {
    case Momentum::kNone: return &SgdBlock<kWeightDecay, Momentum::kNone, false>;
    case Momentum::kFirst:
      return nesterov ? &SgdBlock<kWeightDecay, Momentum::kFirst, true>
                      : &SgdBlock<kWeightDecay, Momentum::kFirst, false>;
    case Momentum::kRunning:
      return nesterov ? &SgdBlock<kWeightDecay, Momentum::kRunning, true>
                      : &SgdBlock<kWeightDecay, Momentum::kRunning, false>;
  }
  return nullptr;
}

template <Decay kDecay>
AdamBlockFn PickAdam(bool amsgrad) {
  return amsgrad ? &AdamBlock<kDecay, true> : &AdamBlock<kDecay, false>;
}

// Calls body(offset, length, f32 grads) for each block, then writes the block's model copy.
template <typename Body>
void ForEachBlock(const OptimizerShard& shard, Body body) {
  float widened[kBlock];
  for (size_t offset = 0; offset < shard.count; offset += kBlock) {
    const size_t n = std::min(kBlock, shard.count - offset);
    const float* grads = widened;
    switch (shard.grad_dtype) {
      case DataType::kBF16:
        BFloat16ToFloat(widened, static_cast<const uint16_t*>(shard.grads) + offset, n);
        break;
      case DataType::kF16:
        HalfToFloat(widened, static_cast<const uint16_t*>(shard.grads) + offset, n);
        break;
      default:  // f32 (validated)
        grads = static_cast<const float*>(shard.grads) + offset;
        break;
    }
    body(offset, n, grads);
    if (shard.model_params != nullptr) {
      uint16_t* model = static_cast<uint16_t*>(shard.model_params) + offset;
      if (shard.model_dtype == DataType::kBF16) {
        FloatToBFloat16(model, shard.params + offset, n);
      } else {
        FloatToHalf(model, shard.params + offset, n);
      }
    }
  }
}

bool Skipped(const OptimizerShard& shard) {
  return shard.found_nonfinite != nullptr && *shard.found_nonfinite != 0.0f;
}

// ---- validation ----------------------------------------------------------------------------

struct Span {
  const char* name;
  const void* data;
  size_t element_bytes;
};

std::string Num(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

Status CheckShard(std::string_view what, const OptimizerShard& shard, const Span* state,
                  size_t state_count) {
  const std::string prefix = std::string(what) + ": ";
  const DataType g = shard.grad_dtype;
  if (g != DataType::kF32 && g != DataType::kBF16 && g != DataType::kF16) {
    return InvalidArgumentError(prefix + "gradient dtype " + std::string(DataTypeName(g)) +
                                " is not supported (f32, bf16 or f16)");
  }
  const DataType m = shard.model_dtype;
  if (shard.model_params != nullptr && m != DataType::kBF16 && m != DataType::kF16) {
    return InvalidArgumentError(prefix + "model copy dtype " + std::string(DataTypeName(m)) +
                                " is not supported (bf16 or f16; leave model_params null for f32 only)");
  }
  if (shard.count == 0) return Status::Ok();
  Span spans[8] = {{"params", shard.params, 4},
                   {"grads", shard.grads, DataTypeSize(g)},
                   {"model_params", shard.model_params, 2}};
  size_t spans_used = 3;
  for (size_t i = 0; i < state_count; ++i) spans[spans_used++] = state[i];
  for (size_t i = 0; i < spans_used; ++i) {
    const Span& s = spans[i];
    if (s.data == nullptr) {
      if (i == 2) continue;  // the model copy is optional
      return InvalidArgumentError(prefix + s.name + " is null but count is " +
                                  std::to_string(shard.count));
    }
    if (reinterpret_cast<uintptr_t>(s.data) % s.element_bytes != 0) {
      return InvalidArgumentError(prefix + s.name + " is not aligned to its " +
                                  std::to_string(s.element_bytes) + "-byte elements");
    }
    const uintptr_t begin = reinterpret_cast<uintptr_t>(s.data);
    for (size_t j = 0; j < i; ++j) {
      const Span& t = spans[j];
      if (t.data == nullptr) continue;
      const uintptr_t other = reinterpret_cast<uintptr_t>(t.data);
      if (begin < other + shard.count * t.element_bytes &&
          other < begin + shard.count * s.element_bytes) {
        return InvalidArgumentError(prefix + s.name + " overlaps " + t.name +
                                    "; every buffer of a step must be distinct");
      }
    }
  }
  return Status::Ok();
}

Status CheckStep(const std::string& prefix, int64_t step) {
  if (step < 1) {
    return InvalidArgumentError(prefix + "step " + std::to_string(step) +
                                " is invalid; steps count from 1");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateSgdStep(std::string_view what, const SgdParams& p, const OptimizerShard& shard,
                       const float* momentum_buffer) {
  const std::string prefix = std::string(what) + ": ";
  // PyTorch's checks (torch.optim.SGD.__init__), plus a finite scale. `!(x >= 0)` also catches NaN.
  if (!(p.lr >= 0)) return InvalidArgumentError(prefix + "invalid learning rate " + Num(p.lr));
  if (!(p.momentum >= 0)) return InvalidArgumentError(prefix + "invalid momentum " + Num(p.momentum));
  if (!(p.weight_decay >= 0)) {
    return InvalidArgumentError(prefix + "invalid weight_decay " + Num(p.weight_decay));
  }
  if (p.nesterov && (p.momentum <= 0 || p.dampening != 0)) {
    return InvalidArgumentError(prefix + "nesterov needs momentum > 0 and dampening == 0 (momentum " +
                                Num(p.momentum) + ", dampening " + Num(p.dampening) + ")");
  }
  if (!std::isfinite(p.grad_scale)) {
    return InvalidArgumentError(prefix + "grad_scale " + Num(p.grad_scale) + " is not finite");
  }
  COHORT_RETURN_IF_ERROR(CheckStep(prefix, p.step));
  const Span state[] = {{"momentum_buffer", momentum_buffer, 4}};
  return CheckShard(what, shard, state, p.momentum != 0 ? 1 : 0);
}

Status ValidateAdamStep(std::string_view what, const AdamParams& p, const OptimizerShard& shard,
                        const float* exp_avg, const float* exp_avg_sq,
                        const float* max_exp_avg_sq) {
  const std::string prefix = std::string(what) + ": ";
  // PyTorch's checks (torch.optim.Adam.__init__), plus a finite scale.
  if (!(p.lr >= 0)) return InvalidArgumentError(prefix + "invalid learning rate " + Num(p.lr));
  if (!(p.eps >= 0)) return InvalidArgumentError(prefix + "invalid epsilon " + Num(p.eps));
  if (!(p.beta1 >= 0 && p.beta1 < 1)) {
    return InvalidArgumentError(prefix + "invalid beta1 " + Num(p.beta1) + " (need 0 <= beta1 < 1)");
  }
  if (!(p.beta2 >= 0 && p.beta2 < 1)) {
    return InvalidArgumentError(prefix + "invalid beta2 " + Num(p.beta2) + " (need 0 <= beta2 < 1)");
  }
  if (!(p.weight_decay >= 0)) {
    return InvalidArgumentError(prefix + "invalid weight_decay " + Num(p.weight_decay));
  }
  if (!std::isfinite(p.grad_scale)) {
    return InvalidArgumentError(prefix + "grad_scale " + Num(p.grad_scale) + " is not finite");
  }
  COHORT_RETURN_IF_ERROR(CheckStep(prefix, p.step));
  const Span state[] = {{"exp_avg", exp_avg, 4},
                        {"exp_avg_sq", exp_avg_sq, 4},
                        {"max_exp_avg_sq", max_exp_avg_sq, 4}};
  return CheckShard(what, shard, state, p.amsgrad ? 3 : 2);
}

Status SgdStep(const SgdParams& params, const OptimizerShard& shard, float* momentum_buffer) {
  COHORT_RETURN_IF_ERROR(ValidateSgdStep("SgdStep", params, shard, momentum_buffer));
  if (Skipped(shard)) return Status::Ok();
  const Momentum momentum = params.momentum == 0 ? Momentum::kNone
                            : params.step == 1   ? Momentum::kFirst
                                                 : Momentum::kRunning;
  const SgdBlockFn block = params.weight_decay != 0 ? PickSgd<true>(momentum, params.nesterov)
                                                    : PickSgd<false>(momentum, params.nesterov);
  const SgdCoefficients c = MakeSgdCoefficients(params);
  ForEachBlock(shard, [&](size_t offset, size_t n, const float* grads) {
    block(c, shard.params + offset, grads,
          momentum == Momentum::kNone ? nullptr : momentum_buffer + offset, n);
  });
  return Status::Ok();
}

Status AdamStep(const AdamParams& params, const OptimizerShard& shard, float* exp_avg,
                float* exp_avg_sq, float* max_exp_avg_sq) {
  COHORT_RETURN_IF_ERROR(
      ValidateAdamStep("AdamStep", params, shard, exp_avg, exp_avg_sq, max_exp_avg_sq));
  if (Skipped(shard)) return Status::Ok();
  const AdamBlockFn block = params.weight_decay == 0       ? PickAdam<Decay::kNone>(params.amsgrad)
                            : params.decoupled_weight_decay ? PickAdam<Decay::kDecoupled>(params.amsgrad)
                                                            : PickAdam<Decay::kL2>(params.amsgrad);
  const AdamCoefficients c = MakeAdamCoefficients(params);
  ForEachBlock(shard, [&](size_t offset, size_t n, const float* grads) {
    block(c, shard.params + offset, grads, exp_avg + offset, exp_avg_sq + offset,
          params.amsgrad ? max_exp_avg_sq + offset : nullptr, n);
  });
  return Status::Ok();
}

}  // namespace cohort::kernels
