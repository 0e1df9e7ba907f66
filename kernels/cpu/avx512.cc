// AVX-512 (F, BW, VL) kernels: hand-written f32, f16 and bf16 loops with masked tails; other
// dtypes use the generic loops compiled with this file's flags. f16 sum/prod/min/max switch to
// native f16 arithmetic (avx512_fp16.cc) with AVX512_FP16, and bf16 rounds with vcvtne2ps2bf16
// (avx512_bf16.cc) with AVX512_BF16; both give the same bits as the code here.
#include <immintrin.h>

#include "kernels/cpu/avx512_loops.h"
#include "kernels/cpu/generic_loops.h"

namespace cohort::kernels::detail {
namespace {

struct F32Codec {
  static constexpr size_t kElems = 32;
  static constexpr size_t kElemBytes = 4;
  static void Load(const char* p, __m512* v) {
    v[0] = _mm512_loadu_ps(p);
    v[1] = _mm512_loadu_ps(p + 64);
  }
  static void Store(char* p, const __m512* v) {
    _mm512_storeu_ps(p, v[0]);
    _mm512_storeu_ps(p + 64, v[1]);
  }
  static void LoadMasked(const char* p, size_t rest, __m512* v) {
    const __mmask32 m = TailMask(rest);
    v[0] = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
    v[1] = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), p + 64);
  }
  static void StoreMasked(char* p, size_t rest, const __m512* v) {
    const __mmask32 m = TailMask(rest);
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), v[0]);
    _mm512_mask_storeu_ps(p + 64, static_cast<__mmask16>(m >> 16), v[1]);
  }
};
struct HalfCodec {
  static constexpr size_t kElems = 32;
  static constexpr size_t kElemBytes = 2;
  static constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  static void Load(const char* p, __m512* v) {
    v[0] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    v[1] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)));
  }
  static void Store(char* p, const __m512* v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v[0], kRound));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32), _mm512_cvtps_ph(v[1], kRound));
  }
  static void LoadMasked(const char* p, size_t rest, __m512* v) {
    const __mmask32 m = TailMask(rest);
    v[0] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(static_cast<__mmask16>(m), p));
    v[1] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(static_cast<__mmask16>(m >> 16), p + 32));
  }
  static void StoreMasked(char* p, size_t rest, const __m512* v) {
    const __mmask32 m = TailMask(rest);
    _mm256_mask_storeu_epi16(p, static_cast<__mmask16>(m), _mm512_cvtps_ph(v[0], kRound));
    _mm256_mask_storeu_epi16(p + 32, static_cast<__mmask16>(m >> 16), _mm512_cvtps_ph(v[1], kRound));
  }
};
// Unpacking with zero widens in-lane (v[0] holds elements 0-3, 8-11, ...); packus undoes exactly
// that, so no cross-lane permute is needed.
struct BFloat16Codec {
  static constexpr size_t kElems = 32;
  static constexpr size_t kElemBytes = 2;
  static void Widen(__m512i x, __m512* v) {
    v[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(_mm512_setzero_si512(), x));
    v[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(_mm512_setzero_si512(), x));
  }
  static __m512i Narrow(const __m512* v) {
    return _mm512_packus_epi32(NarrowToBFloat16(v[0]), NarrowToBFloat16(v[1]));
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

void HalfToFloatVec(float* dst, const uint16_t* src, size_t count) {
  for (size_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (count - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

void FloatToHalfVec(uint16_t* dst, const float* src, size_t count) {
  for (size_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (count - i)) - 1);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), HalfCodec::kRound);
    _mm256_mask_storeu_epi16(dst + i, m, h);
  }
}

void BFloat16ToFloatVec(float* dst, const uint16_t* src, size_t count) {
  for (size_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (count - i)) - 1);
    const __m512i bits = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i)), 16);
    const __mmask16 is_nan = _mm512_cmp_ps_mask(_mm512_castsi512_ps(bits), _mm512_castsi512_ps(bits), _CMP_UNORD_Q);
    _mm512_mask_storeu_epi32(dst + i, m, _mm512_mask_or_epi32(bits, is_nan, bits, _mm512_set1_epi32(0x400000)));
  }
}

void FloatToBFloat16Vec(uint16_t* dst, const float* src, size_t count) {
  for (size_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (count - i)) - 1);
    const __m512i narrowed = NarrowToBFloat16(_mm512_maskz_loadu_ps(m, src + i));
    _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtepi32_epi16(narrowed));
  }
}

}  // namespace

KernelTable Avx512Kernels(const Avx512Extensions& extensions) {
  KernelTable table = GenericKernels("avx512");
  table.reduce_copy[static_cast<size_t>(DataType::kF32)] = ReduceCopyVec<F32Codec>;
  table.reduce_copy[static_cast<size_t>(DataType::kF16)] =
      extensions.fp16 ? Avx512Fp16ReduceCopyHalf : ReduceCopyVec<HalfCodec>;
  table.reduce_copy[static_cast<size_t>(DataType::kBF16)] =
      extensions.bf16 ? Avx512Bf16ReduceCopy : ReduceCopyVec<BFloat16Codec>;
  table.reduce_many[static_cast<size_t>(DataType::kF32)] = ReduceManyVec<F32Codec>;
  table.reduce_many[static_cast<size_t>(DataType::kF16)] = ReduceManyVec<HalfCodec>;
  table.reduce_many[static_cast<size_t>(DataType::kBF16)] =
      extensions.bf16 ? Avx512Bf16ReduceMany : ReduceManyVec<BFloat16Codec>;
  table.scale[static_cast<size_t>(DataType::kF32)] = ScaleVec<F32Codec>;
  table.scale[static_cast<size_t>(DataType::kF16)] = ScaleVec<HalfCodec>;
  table.scale[static_cast<size_t>(DataType::kBF16)] = extensions.bf16 ? Avx512Bf16Scale : ScaleVec<BFloat16Codec>;
  table.half_to_float = HalfToFloatVec;
  table.float_to_half = FloatToHalfVec;
  table.bfloat16_to_float = BFloat16ToFloatVec;
  table.float_to_bfloat16 = extensions.bf16 ? Avx512Bf16FloatToBFloat16 : FloatToBFloat16Vec;
  return table;
}

}  // namespace cohort::kernels::detail
