// Element types and arithmetic shared by the multi-tensor kernels (private to kernels/cuda).
//
// f16 and bf16 are carried as 16-bit patterns (F16, BF16) and converted here so that every
// result matches kernels/cpu/half.h bit for bit: finite values use CUDA's round-to-nearest-even
// conversions, and NaNs are handled explicitly because the hardware conversions return a
// canonical NaN while the CPU code keeps the payload's top bits (and sets the quiet bit).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "runtime/base/dtype.h"

namespace cohort::kernels::cuda::detail {

struct F16 {
  uint16_t bits;
};
struct BF16 {
  uint16_t bits;
};

// The type arithmetic is done in: f32 for f32/f16/bf16, f64 for f64.
template <typename T>
struct ComputeOf {
  using type = float;
};
template <>
struct ComputeOf<double> {
  using type = double;
};
template <typename T>
using Compute = typename ComputeOf<T>::type;

__device__ __forceinline__ float Widen(float x) { return x; }
__device__ __forceinline__ double Widen(double x) { return x; }
__device__ __forceinline__ float Widen(F16 h) {
  if ((h.bits & 0x7fffu) > 0x7c00u) {  // NaN: quiet it, keep the payload (half.h)
    return __uint_as_float((static_cast<uint32_t>(h.bits & 0x8000u) << 16) | 0x7fc00000u |
                           (static_cast<uint32_t>(h.bits & 0x3ffu) << 13));
  }
  return __half2float(__ushort_as_half(h.bits));
}
__device__ __forceinline__ float Widen(BF16 b) {
  uint32_t bits = static_cast<uint32_t>(b.bits) << 16;
  if ((bits & 0x7fffffffu) > 0x7f800000u) bits |= 0x400000u;
  return __uint_as_float(bits);
}

template <typename T>
__device__ __forceinline__ T Narrow(Compute<T> x);
template <>
__device__ __forceinline__ float Narrow<float>(float x) { return x; }
template <>
__device__ __forceinline__ double Narrow<double>(double x) { return x; }
template <>
__device__ __forceinline__ F16 Narrow<F16>(float x) {
  if (isnan(x)) {
    const uint32_t bits = __float_as_uint(x);
    return F16{static_cast<uint16_t>(((bits >> 16) & 0x8000u) | 0x7e00u | ((bits >> 13) & 0x3ffu))};
  }
  return F16{__half_as_ushort(__float2half_rn(x))};
}
template <>
__device__ __forceinline__ BF16 Narrow<BF16>(float x) {
  if (isnan(x)) return BF16{static_cast<uint16_t>((__float_as_uint(x) >> 16) | 0x40u)};
  return BF16{__bfloat16_as_ushort(__float2bfloat16_rn(x))};
}

__device__ __forceinline__ bool IsFinite(float x) { return isfinite(x); }
__device__ __forceinline__ bool IsFinite(double x) { return isfinite(x); }

// Combines two values the way kernels/cpu/reference.cc does: min/max return the first NaN
// (so that a NaN anywhere poisons the result, and the payload is the CPU's); avg sums here and
// divides once at the end.
template <ReduceOp Op, typename C>
__device__ __forceinline__ C Combine(C a, C b) {
  if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kAvg) {
    return a + b;
  } else if constexpr (Op == ReduceOp::kProd) {
    return a * b;
  } else if constexpr (Op == ReduceOp::kMin) {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    return b < a ? b : a;
  } else {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    return b > a ? b : a;
  }
}

// V elements of T moved as 16-byte words, or as one 8-byte word when they fill only 8 bytes
// (the narrow side of a widening copy); the address must be aligned to the vector's size, or
// to 16 bytes for larger vectors.
template <typename T, int V>
union Vec {
  static constexpr size_t kBytes = V * sizeof(T);
  static_assert(kBytes == 8 || kBytes % 16 == 0, "a vector is 8 bytes or whole 16-byte words");
  using Word = std::conditional_t<kBytes == 8, uint2, uint4>;
  static constexpr int kWords = static_cast<int>(kBytes / sizeof(Word));
  Word words[kWords];
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ void LoadVec(Vec<T, V>& out, const T* p) {
  using Word = typename Vec<T, V>::Word;
  const Word* q = reinterpret_cast<const Word*>(p);
#pragma unroll
  for (int w = 0; w < Vec<T, V>::kWords; ++w) out.words[w] = q[w];
}

template <typename T, int V>
__device__ __forceinline__ void StoreVec(T* p, const Vec<T, V>& in) {
  using Word = typename Vec<T, V>::Word;
  Word* q = reinterpret_cast<Word*>(p);
#pragma unroll
  for (int w = 0; w < Vec<T, V>::kWords; ++w) q[w] = in.words[w];
}

// Host side: the first element index h < elements_per_vector at which every pointer
// (advanced by h elements of its own size) is 16-byte aligned, or kNoVector when none is.
inline constexpr uint32_t kNoVector = 0xffffffffu;

inline uint32_t VectorHead(const void* const* pointers, const size_t* element_sizes, size_t n,
                           uint32_t elements_per_vector) {
  for (uint32_t h = 0; h < elements_per_vector; ++h) {
    bool aligned = true;
    for (size_t j = 0; j < n && aligned; ++j) {
      aligned = (reinterpret_cast<uintptr_t>(pointers[j]) + h * element_sizes[j]) % 16 == 0;
    }
    if (aligned) return h;
  }
  return kNoVector;
}

}  // namespace cohort::kernels::cuda::detail
