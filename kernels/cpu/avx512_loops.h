// AVX-512 building blocks shared by the files compiled for AVX-512: f32 vector ops with the
// same NaN and tie rules as the scalar ops, integer bf16 rounding, and the block loops that every
// codec (a way of moving 32 elements between memory and two f32 vectors) runs through.
// Include only from files compiled with -mavx512f -mavx512bw -mavx512vl; internal linkage.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/kernel_table.h"

namespace cohort::kernels::detail {
namespace {

struct SumV {
  static __m512 Apply(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
};
struct ProdV {
  static __m512 Apply(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
};
// Same select as MinOp/MaxOp: take b when a is not NaN and !(a <= b) (resp. !(a >= b)).
struct MinV {
  static __m512 Apply(__m512 a, __m512 b) {
    const __mmask16 take_b = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(a, a, _CMP_ORD_Q), a, b, _CMP_NLE_UQ);
    return _mm512_mask_mov_ps(a, take_b, b);
  }
};
struct MaxV {
  static __m512 Apply(__m512 a, __m512 b) {
    const __mmask16 take_b = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(a, a, _CMP_ORD_Q), a, b, _CMP_NGE_UQ);
    return _mm512_mask_mov_ps(a, take_b, b);
  }
};

// Rounds f32 lanes to bf16 (nearest-even, NaN quieted); the result sits in each lane's low half.
__m512i NarrowToBFloat16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  const __mmask16 is_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  const __m512i result = _mm512_mask_or_epi32(rounded, is_nan, bits, _mm512_set1_epi32(0x400000));
  return _mm512_srli_epi32(result, 16);
}

// A codec provides kElems (32), kElemBytes, Load/Store of two f32 vectors, and masked forms
// that touch only the first `rest` (< kElems) elements.
inline __mmask32 TailMask(size_t rest) { return static_cast<__mmask32>((uint64_t{1} << rest) - 1); }

template <class Codec, class Op>
void Combine(void* dst, const void* a, const void* b, size_t count) {
  constexpr size_t kBlockBytes = Codec::kElems * Codec::kElemBytes;
  char* d = static_cast<char*>(dst);
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  size_t i = 0;
  for (; i + 2 * Codec::kElems <= count; i += 2 * Codec::kElems) {
    const size_t at = i * Codec::kElemBytes;
    __m512 x[4], y[4];
    Codec::Load(pa + at, x);
    Codec::Load(pa + at + kBlockBytes, x + 2);
    Codec::Load(pb + at, y);
    Codec::Load(pb + at + kBlockBytes, y + 2);
    for (int k = 0; k < 4; ++k) x[k] = Op::Apply(x[k], y[k]);
    Codec::Store(d + at, x);
    Codec::Store(d + at + kBlockBytes, x + 2);
  }
  for (; i < count; i += Codec::kElems) {
    const size_t at = i * Codec::kElemBytes;
    const size_t rest = count - i;
    __m512 x[2], y[2];
    if (rest >= Codec::kElems) {
      Codec::Load(pa + at, x);
      Codec::Load(pb + at, y);
    } else {
      Codec::LoadMasked(pa + at, rest, x);
      Codec::LoadMasked(pb + at, rest, y);
    }
    x[0] = Op::Apply(x[0], y[0]);
    x[1] = Op::Apply(x[1], y[1]);
    if (rest >= Codec::kElems) {
      Codec::Store(d + at, x);
    } else {
      Codec::StoreMasked(d + at, rest, x);
    }
  }
}

template <class Codec>
void ReduceCopyVec(void* dst, const void* a, const void* b, size_t count, ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return Combine<Codec, SumV>(dst, a, b, count);
    case ReduceOp::kProd: return Combine<Codec, ProdV>(dst, a, b, count);
    case ReduceOp::kMin: return Combine<Codec, MinV>(dst, a, b, count);
    case ReduceOp::kMax: return Combine<Codec, MaxV>(dst, a, b, count);
  }
}

// dst[i] = srcs[0][i] op ... op srcs[k-1][i], combined left to right in f32 registers and
// stored (rounded, for f16/bf16) once per block: no f32 round trip through memory, which made
// the widen-combine-narrow form 4x slower than ReduceCopy for the half types. Every source of a
// block is read before the block is stored, so dst may equal any source exactly.
template <class Codec, class Op, size_t kVectors>
void FoldBlock(char* d, const void* const* srcs, size_t num_srcs, size_t at, size_t rest) {
  constexpr size_t kBlockBytes = Codec::kElems * Codec::kElemBytes;
  const auto load = [&](const void* src, __m512* v) {
    const char* p = static_cast<const char*>(src) + at;
    if constexpr (kVectors == 4) {
      Codec::Load(p, v);
      Codec::Load(p + kBlockBytes, v + 2);
    } else if (rest >= Codec::kElems) {
      Codec::Load(p, v);
    } else {
      Codec::LoadMasked(p, rest, v);
    }
  };
  __m512 acc[kVectors], x[kVectors];
  load(srcs[0], acc);
  for (size_t j = 1; j < num_srcs; ++j) {
    load(srcs[j], x);
    for (size_t k = 0; k < kVectors; ++k) acc[k] = Op::Apply(acc[k], x[k]);
  }
  if constexpr (kVectors == 4) {
    Codec::Store(d + at, acc);
    Codec::Store(d + at + kBlockBytes, acc + 2);
  } else if (rest >= Codec::kElems) {
    Codec::Store(d + at, acc);
  } else {
    Codec::StoreMasked(d + at, rest, acc);
  }
}

template <class Codec, class Op>
void CombineMany(void* dst, const void* const* srcs, size_t num_srcs, size_t count) {
  char* d = static_cast<char*>(dst);
  size_t i = 0;
  for (; i + 2 * Codec::kElems <= count; i += 2 * Codec::kElems) {
    FoldBlock<Codec, Op, 4>(d, srcs, num_srcs, i * Codec::kElemBytes, count - i);
  }
  for (; i < count; i += Codec::kElems) {
    FoldBlock<Codec, Op, 2>(d, srcs, num_srcs, i * Codec::kElemBytes, count - i);
  }
}

template <class Codec>
void ReduceManyVec(void* dst, const void* const* srcs, size_t num_srcs, size_t count, ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return CombineMany<Codec, SumV>(dst, srcs, num_srcs, count);
    case ReduceOp::kProd: return CombineMany<Codec, ProdV>(dst, srcs, num_srcs, count);
    case ReduceOp::kMin: return CombineMany<Codec, MinV>(dst, srcs, num_srcs, count);
    case ReduceOp::kMax: return CombineMany<Codec, MaxV>(dst, srcs, num_srcs, count);
  }
}

template <class Codec>
void ScaleVec(void* dst, size_t count, double factor) {
  const __m512 vf = _mm512_set1_ps(static_cast<float>(factor));
  char* d = static_cast<char*>(dst);
  for (size_t i = 0; i < count; i += Codec::kElems) {
    const size_t at = i * Codec::kElemBytes;
    const size_t rest = count - i;
    __m512 x[2];
    if (rest >= Codec::kElems) {
      Codec::Load(d + at, x);
    } else {
      Codec::LoadMasked(d + at, rest, x);
    }
    x[0] = _mm512_mul_ps(x[0], vf);
    x[1] = _mm512_mul_ps(x[1], vf);
    if (rest >= Codec::kElems) {
      Codec::Store(d + at, x);
    } else {
      Codec::StoreMasked(d + at, rest, x);
    }
  }
}

}  // namespace
}  // namespace cohort::kernels::detail
