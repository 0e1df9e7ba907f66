// bf16 kernels that round with AVX512_BF16's vcvtne2ps2bf16 instead of integer arithmetic.
//
// The instruction treats f32 subnormals as zero (in and out), unlike the reference, so every
// block whose results include an f32 subnormal is rounded again with the integer code; vfpclassps
// (AVX512DQ) finds them. Elements are widened as even/odd halves of each 32-bit lane (a shift and
// a mask, no shuffles); one permute puts them back in order after the conversion.
#include <immintrin.h>

#include "kernels/cpu/avx512_loops.h"

namespace cohort::kernels::detail {
namespace {

constexpr int kSubnormal = 0x20;  // vfpclassps category: denormal

bool AnySubnormal(__m512 x, __m512 y) {
  return (_mm512_fpclass_ps_mask(x, kSubnormal) | _mm512_fpclass_ps_mask(y, kSubnormal)) != 0;
}

__m512i ConvertPair(__m512 high, __m512 low) { return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(high, low)); }

struct BFloat16NativeCodec {
  static constexpr size_t kElems = 32;
  static constexpr size_t kElemBytes = 2;
  // v[0] holds the even elements, v[1] the odd ones.
  static void Widen(__m512i x, __m512* v) {
    v[0] = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
    v[1] = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static __m512i Narrow(const __m512* v) {
    if (AnySubnormal(v[0], v[1])) [[unlikely]] {
      return _mm512_or_si512(NarrowToBFloat16(v[0]), _mm512_slli_epi32(NarrowToBFloat16(v[1]), 16));
    }
    // Words 0-15 are the even elements, 16-31 the odd ones; interleave them again.
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23,
                                                7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, ConvertPair(v[1], v[0]));
  }
  static void Load(const char* p, __m512* v) { Widen(_mm512_loadu_si512(p), v); }
  static void Store(char* p, const __m512* v) { _mm512_storeu_si512(p, Narrow(v)); }
  static void LoadMasked(const char* p, size_t rest, __m512* v) {
    Widen(_mm512_maskz_loadu_epi16(TailMask(rest), p), v);
  }
  static void StoreMasked(char* p, size_t rest, const __m512* v) {
    _mm512_mask_storeu_epi16(p, TailMask(rest), Narrow(v));
  }
};

}  // namespace

void Avx512Bf16ReduceCopy(void* dst, const void* a, const void* b, size_t count, ReduceOp op) {
  ReduceCopyVec<BFloat16NativeCodec>(dst, a, b, count, op);
}

void Avx512Bf16ReduceMany(void* dst, const void* const* srcs, size_t num_srcs, size_t count, ReduceOp op) {
  ReduceManyVec<BFloat16NativeCodec>(dst, srcs, num_srcs, count, op);
}

void Avx512Bf16Scale(void* dst, size_t count, double factor) { ScaleVec<BFloat16NativeCodec>(dst, count, factor); }

void Avx512Bf16FloatToBFloat16(uint16_t* dst, const float* src, size_t count) {
  for (size_t i = 0; i < count; i += 32) {
    const size_t rest = count - i;
    const __mmask32 m = rest >= 32 ? ~__mmask32{0} : TailMask(rest);
    const __m512 low = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src + i);
    const __m512 high = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), src + i + 16);
    __m512i words;
    if (AnySubnormal(low, high)) [[unlikely]] {
      words = _mm512_packus_epi32(NarrowToBFloat16(low), NarrowToBFloat16(high));
      words = _mm512_permutexvar_epi64(_mm512_set_epi64(7, 5, 3, 1, 6, 4, 2, 0), words);
    } else {
      words = ConvertPair(high, low);
    }
    _mm512_mask_storeu_epi16(dst + i, m, words);
  }
}

}  // namespace cohort::kernels::detail
