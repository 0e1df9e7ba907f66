// CUDA fused optimizer steps (see optimizer.h): one launch of a bandwidth-bound element-wise
// kernel per step.
//
// Shape of the kernel: a grid of as many blocks as fit on the device at once (a persistent grid),
// each thread walking the shard grid-stride. A thread loads kUnroll vectors of 4 elements from
// every buffer before it computes or stores anything, so many 16-byte (f32) or 8-byte (bf16/f16)
// loads are in flight per thread; that, not occupancy, is what saturates HBM. The body is
// vectorised when all buffers sit at the same element phase modulo 4 (always, for cudaMalloc'd
// shards cut at multiples of 4 elements); the few elements before and after it, or the whole
// shard when the phases differ, go through the same code one element at a time.
//
// Arithmetic: the __f*_rn intrinsics spell out every rounding so that nvcc cannot contract a*b+c
// into an fma; with the f32 constants of optimizer_params.h, IEEE division and sqrt, the results
// equal the CPU implementation's, whose loops are the same expressions in the same order.
#include "kernels/cuda/optimizer.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

namespace cohort::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;  // vectors in flight per thread
constexpr int kVector = 4;  // elements per vector: 16 bytes of f32, 8 bytes of bf16/f16

// Element types as tags; NoCopy means "no model copy to write".
struct F32 { using Storage = float; };
struct BF16 { using Storage = uint16_t; };
struct F16 { using Storage = uint16_t; };
struct NoCopy { using Storage = uint16_t; };

__device__ __forceinline__ float Widen(F32, float x) { return x; }
__device__ __forceinline__ float Widen(BF16, uint16_t x) {
  return __uint_as_float(static_cast<uint32_t>(x) << 16);  // exact
}
__device__ __forceinline__ float Widen(F16, uint16_t x) { return __half2float(__ushort_as_half(x)); }
__device__ __forceinline__ uint16_t Narrow(BF16, float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}
__device__ __forceinline__ uint16_t Narrow(F16, float x) { return __half_as_ushort(__float2half_rn(x)); }

// W consecutive elements starting at element e: one vector access when W == kVector (the caller
// guarantees alignment), a scalar one when W == 1.
template <typename T, int W>
__device__ __forceinline__ void LoadWide(const typename T::Storage* src, size_t e, float (&out)[W]) {
  static_assert(W == 1 || W == kVector);
  if constexpr (W == 1) {
    out[0] = Widen(T{}, src[e]);
  } else if constexpr (sizeof(typename T::Storage) == 4) {
    const float4 x = *reinterpret_cast<const float4*>(src + e);
    out[0] = x.x, out[1] = x.y, out[2] = x.z, out[3] = x.w;
  } else {
    const uint2 x = *reinterpret_cast<const uint2*>(src + e);  // little-endian: element e is low
    out[0] = Widen(T{}, static_cast<uint16_t>(x.x)), out[1] = Widen(T{}, static_cast<uint16_t>(x.x >> 16));
    out[2] = Widen(T{}, static_cast<uint16_t>(x.y)), out[3] = Widen(T{}, static_cast<uint16_t>(x.y >> 16));
  }
}

template <int W>
__device__ __forceinline__ void StoreF32(float* dst, size_t e, const float (&in)[W]) {
  if constexpr (W == 1) {
    dst[e] = in[0];
  } else {
    *reinterpret_cast<float4*>(dst + e) = make_float4(in[0], in[1], in[2], in[3]);
  }
}

template <typename T, int W>
__device__ __forceinline__ void StoreNarrow(uint16_t* dst, size_t e, const float (&in)[W]) {
  if constexpr (W == 1) {
    dst[e] = Narrow(T{}, in[0]);
  } else {
    const uint32_t lo = Narrow(T{}, in[0]) | (static_cast<uint32_t>(Narrow(T{}, in[1])) << 16);
    const uint32_t hi = Narrow(T{}, in[2]) | (static_cast<uint32_t>(Narrow(T{}, in[3])) << 16);
    *reinterpret_cast<uint2*>(dst + e) = make_uint2(lo, hi);
  }
}

enum : int { kMomentumNone, kMomentumFirst, kMomentumRunning };
enum : int { kDecayNone, kDecayL2, kDecayDecoupled };

// The options are uniform kernel arguments: branching on them costs nothing measurable in a
// memory-bound kernel, and keeps the instantiations to one per dtype pair.
template <typename G, typename M>
struct SgdOp {
  float* params;
  const typename G::Storage* grads;
  uint16_t* model;
  float* buf;
  SgdCoefficients c;
  int momentum;
  bool weight_decay;
  bool nesterov;

  template <int W>
  struct Regs {
    float p[W], g[W], b[W];
  };
  template <int W>
  __device__ __forceinline__ void Load(size_t e, Regs<W>& r) const {
    LoadWide<F32, W>(params, e, r.p);
    LoadWide<G, W>(grads, e, r.g);
    if (momentum == kMomentumRunning) LoadWide<F32, W>(buf, e, r.b);
  }
  template <int W>
  __device__ __forceinline__ void Update(size_t e, Regs<W>& r) const {
#pragma unroll
    for (int k = 0; k < W; ++k) {
      float g = __fmul_rn(r.g[k], c.grad_scale);
      if (weight_decay) g = __fadd_rn(g, __fmul_rn(c.weight_decay, r.p[k]));
      if (momentum != kMomentumNone) {
        float b = g;
        if (momentum == kMomentumRunning) {
          b = __fadd_rn(__fmul_rn(c.momentum, r.b[k]), __fmul_rn(c.one_minus_dampening, g));
        }
        r.b[k] = b;
        g = nesterov ? __fadd_rn(g, __fmul_rn(c.momentum, b)) : b;
      }
      r.p[k] = __fsub_rn(r.p[k], __fmul_rn(c.lr, g));
    }
    StoreF32<W>(params, e, r.p);
    if (momentum != kMomentumNone) StoreF32<W>(buf, e, r.b);
    if constexpr (!std::is_same_v<M, NoCopy>) StoreNarrow<M, W>(model, e, r.p);
  }
};

template <typename G, typename M>
struct AdamOp {
  float* params;
  const typename G::Storage* grads;
  uint16_t* model;
  float* exp_avg;
  float* exp_avg_sq;
  float* max_exp_avg_sq;
  AdamCoefficients c;
  int decay;
  bool amsgrad;

  template <int W>
  struct Regs {
    float p[W], g[W], m[W], v[W], vmax[W];
  };
  template <int W>
  __device__ __forceinline__ void Load(size_t e, Regs<W>& r) const {
    LoadWide<F32, W>(params, e, r.p);
    LoadWide<G, W>(grads, e, r.g);
    LoadWide<F32, W>(exp_avg, e, r.m);
    LoadWide<F32, W>(exp_avg_sq, e, r.v);
    if (amsgrad) LoadWide<F32, W>(max_exp_avg_sq, e, r.vmax);
  }
  template <int W>
  __device__ __forceinline__ void Update(size_t e, Regs<W>& r) const {
#pragma unroll
    for (int k = 0; k < W; ++k) {
      float g = __fmul_rn(r.g[k], c.grad_scale);
      float p = r.p[k];
      if (decay == kDecayL2) g = __fadd_rn(g, __fmul_rn(c.weight_decay, p));
      if (decay == kDecayDecoupled) p = __fsub_rn(p, __fmul_rn(c.lr_weight_decay, p));
      const float m = __fadd_rn(__fmul_rn(c.beta1, r.m[k]), __fmul_rn(c.one_minus_beta1, g));
      const float v = __fadd_rn(__fmul_rn(c.beta2, r.v[k]), __fmul_rn(__fmul_rn(c.one_minus_beta2, g), g));
      float used = v;
      if (amsgrad) {
        used = (v > r.vmax[k] || v != v) ? v : r.vmax[k];  // torch.maximum: NaN wins
        r.vmax[k] = used;
      }
      const float denom =
          __fadd_rn(__fdiv_rn(__fsqrt_rn(fabsf(used)), c.bias_correction2_sqrt), c.eps);
      r.p[k] = __fsub_rn(p, __fdiv_rn(__fmul_rn(c.step_size, m), denom));
      r.m[k] = m;
      r.v[k] = v;
    }
    StoreF32<W>(params, e, r.p);
    StoreF32<W>(exp_avg, e, r.m);
    StoreF32<W>(exp_avg_sq, e, r.v);
    if (amsgrad) StoreF32<W>(max_exp_avg_sq, e, r.vmax);
    if constexpr (!std::is_same_v<M, NoCopy>) StoreNarrow<M, W>(model, e, r.p);
  }
};

// Which elements the vector body covers: [head, body_end) in `vectors` vectors; the `scalars`
// others are [0, head) and [body_end, count).
struct Layout {
  size_t head, vectors, body_end, scalars;
};

// Grid-stride over `items` work items of W elements; element_of(i) is item i's first element.
template <int W, typename Op, typename ElementOf>
__device__ __forceinline__ void Sweep(const Op& op, size_t items, ElementOf element_of) {
  const size_t stride = static_cast<size_t>(gridDim.x) * kThreads * kUnroll;
  for (size_t first = static_cast<size_t>(blockIdx.x) * kThreads * kUnroll + threadIdx.x;
       first < items; first += stride) {
    typename Op::template Regs<W> r[kUnroll] = {};
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {  // all loads first: kUnroll accesses per buffer in flight
      const size_t i = first + static_cast<size_t>(u) * kThreads;
      if (i < items) op.template Load<W>(element_of(i), r[u]);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const size_t i = first + static_cast<size_t>(u) * kThreads;
      if (i < items) op.template Update<W>(element_of(i), r[u]);
    }
  }
}

template <typename Op>
__global__ void __launch_bounds__(kThreads)
    ShardKernel(Op op, Layout layout, const float* found_nonfinite) {
  // Read on the device, so a mixed-precision step needs no host round trip to be skipped.
  if (found_nonfinite != nullptr && *found_nonfinite != 0.0f) return;
  Sweep<kVector>(op, layout.vectors, [&](size_t i) { return layout.head + i * kVector; });
  Sweep<1>(op, layout.scalars, [&](size_t s) {
    return s < layout.head ? s : layout.body_end + (s - layout.head);
  });
}

Status CudaCheck(cudaError_t code, const char* what, const char* call) {
  if (code == cudaSuccess) return Status::Ok();
  std::string message = std::string(what) + ": " + call + " failed: " + cudaGetErrorName(code) +
                        " (" + cudaGetErrorString(code) + ")";
  return code == cudaErrorInvalidValue || code == cudaErrorInvalidDevice
             ? InvalidArgumentError(std::move(message))
             : InternalError(std::move(message));
}

// Vectorise when every buffer has the same element index modulo kVector (validation already
// checked element alignment, so address / size is exact).
Layout MakeLayout(const OptimizerShard& shard, std::initializer_list<const float*> state) {
  int phase = -1;
  bool same = true;
  auto visit = [&](const void* data, size_t element_bytes) {
    if (data == nullptr) return;
    const int p = static_cast<int>((reinterpret_cast<uintptr_t>(data) / element_bytes) % kVector);
    if (phase < 0) phase = p;
    same = same && p == phase;
  };
  visit(shard.params, 4);
  visit(shard.grads, DataTypeSize(shard.grad_dtype));
  visit(shard.model_params, 2);
  for (const float* s : state) visit(s, 4);
  Layout layout{};
  const size_t n = shard.count;
  layout.head = same ? std::min<size_t>(n, (kVector - phase) % kVector) : n;
  layout.vectors = (n - layout.head) / kVector;
  layout.body_end = layout.head + layout.vectors * kVector;
  layout.scalars = layout.head + (n - layout.body_end);
  return layout;
}

template <typename Op>
Status Launch(const char* what, const Op& op, const Layout& layout, const float* found_nonfinite,
              void* stream) {
  int device = 0, sms = 0, per_sm = 0;
  COHORT_RETURN_IF_ERROR(CudaCheck(cudaGetDevice(&device), what, "cudaGetDevice"));
  COHORT_RETURN_IF_ERROR(CudaCheck(
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), what,
      "cudaDeviceGetAttribute(MultiProcessorCount)"));
  COHORT_RETURN_IF_ERROR(CudaCheck(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, ShardKernel<Op>, kThreads, 0), what,
      "cudaOccupancyMaxActiveBlocksPerMultiprocessor"));
  const size_t items = std::max(layout.vectors, layout.scalars);
  const size_t wanted = (items + kThreads * kUnroll - 1) / (kThreads * kUnroll);
  const size_t resident = static_cast<size_t>(std::max(sms, 1)) * std::max(per_sm, 1);
  const auto grid = static_cast<unsigned>(std::clamp<size_t>(wanted, 1, resident));
  ShardKernel<Op><<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(op, layout,
                                                                            found_nonfinite);
  return CudaCheck(cudaGetLastError(), what, "launching the optimizer kernel");
}

// Calls f(G{}, M{}) with the tags of the gradient and model-copy dtypes (validated before).
template <typename F>
Status WithTypes(const OptimizerShard& shard, F f) {
  auto with_model = [&](auto grad_tag) -> Status {
    if (shard.model_params == nullptr) return f(grad_tag, NoCopy{});
    if (shard.model_dtype == DataType::kBF16) return f(grad_tag, BF16{});
    return f(grad_tag, F16{});
  };
  switch (shard.grad_dtype) {
    case DataType::kBF16: return with_model(BF16{});
    case DataType::kF16: return with_model(F16{});
    default: return with_model(F32{});
  }
}

}  // namespace

Status SgdStepCuda(const SgdParams& params, const OptimizerShard& shard, float* momentum_buffer,
                   void* stream) {
  constexpr const char* kWhat = "SgdStepCuda";
  COHORT_RETURN_IF_ERROR(ValidateSgdStep(kWhat, params, shard, momentum_buffer));
  if (shard.count == 0) return Status::Ok();
  const int momentum = params.momentum == 0 ? kMomentumNone
                       : params.step == 1   ? kMomentumFirst
                                            : kMomentumRunning;
  float* buf = momentum == kMomentumNone ? nullptr : momentum_buffer;
  const Layout layout = MakeLayout(shard, {buf});
  return WithTypes(shard, [&](auto grad_tag, auto model_tag) {
    using G = decltype(grad_tag);
    using M = decltype(model_tag);
    const SgdOp<G, M> op{shard.params,
                         static_cast<const typename G::Storage*>(shard.grads),
                         static_cast<uint16_t*>(shard.model_params),
                         buf,
                         MakeSgdCoefficients(params),
                         momentum,
                         params.weight_decay != 0,
                         params.nesterov};
    return Launch(kWhat, op, layout, shard.found_nonfinite, stream);
  });
}

Status AdamStepCuda(const AdamParams& params, const OptimizerShard& shard, float* exp_avg,
                    float* exp_avg_sq, float* max_exp_avg_sq, void* stream) {
  constexpr const char* kWhat = "AdamStepCuda";
  COHORT_RETURN_IF_ERROR(
      ValidateAdamStep(kWhat, params, shard, exp_avg, exp_avg_sq, max_exp_avg_sq));
  if (shard.count == 0) return Status::Ok();
  float* vmax = params.amsgrad ? max_exp_avg_sq : nullptr;
  const Layout layout = MakeLayout(shard, {exp_avg, exp_avg_sq, vmax});
  const int decay = params.weight_decay == 0       ? kDecayNone
                    : params.decoupled_weight_decay ? kDecayDecoupled
                                                    : kDecayL2;
  return WithTypes(shard, [&](auto grad_tag, auto model_tag) {
    using G = decltype(grad_tag);
    using M = decltype(model_tag);
    const AdamOp<G, M> op{shard.params,
                          static_cast<const typename G::Storage*>(shard.grads),
                          static_cast<uint16_t*>(shard.model_params),
                          exp_avg,
                          exp_avg_sq,
                          vmax,
                          MakeAdamCoefficients(params),
                          decay,
                          params.amsgrad};
    return Launch(kWhat, op, layout, shard.found_nonfinite, stream);
  });
}

}  // namespace cohort::kernels
