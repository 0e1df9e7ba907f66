// AVX2 (+FMA, F16C) kernels: hand-written f32, f16 and bf16 loops; every other dtype uses the
// generic loops compiled with this file's flags. Tails run the scalar ops from generic_loops.h,
// which round exactly like the vector code.
#include <immintrin.h>

#include "kernels/cpu/generic_loops.h"

namespace cohort::kernels::detail {
namespace {

struct SumV {
  static __m256 Apply(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static float Scalar(float a, float b) { return SumOp<float>::Apply(a, b); }
};
struct ProdV {
  static __m256 Apply(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
  static float Scalar(float a, float b) { return ProdOp<float>::Apply(a, b); }
};
// Same select as MinOp/MaxOp: take b when a is not NaN and !(a <= b) (resp. !(a >= b)).
struct MinV {
  static __m256 Apply(__m256 a, __m256 b) {
    const __m256 take_b = _mm256_and_ps(_mm256_cmp_ps(a, a, _CMP_ORD_Q), _mm256_cmp_ps(a, b, _CMP_NLE_UQ));
    return _mm256_blendv_ps(a, b, take_b);
  }
  static float Scalar(float a, float b) { return MinOp<float>::Apply(a, b); }
};
struct MaxV {
  static __m256 Apply(__m256 a, __m256 b) {
    const __m256 take_b = _mm256_and_ps(_mm256_cmp_ps(a, a, _CMP_ORD_Q), _mm256_cmp_ps(a, b, _CMP_NGE_UQ));
    return _mm256_blendv_ps(a, b, take_b);
  }
  static float Scalar(float a, float b) { return MaxOp<float>::Apply(a, b); }
};

// Rounds f32 lanes to bf16 (nearest-even, NaN quieted); the result sits in each lane's low half.
__m256i NarrowToBFloat16(__m256 v) {
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
  const __m256i quiet_nan = _mm256_or_si256(bits, _mm256_set1_epi32(0x400000));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_srli_epi32(_mm256_blendv_epi8(rounded, quiet_nan, is_nan), 16);
}

// A codec moves blocks of kElems elements between memory and two f32 vectors.
struct F32Codec {
  using Policy = Plain<float>;
  static constexpr size_t kElems = 16;
  static void Load(const char* p, __m256* v) {
    v[0] = _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    v[1] = _mm256_loadu_ps(reinterpret_cast<const float*>(p + 32));
  }
  static void Store(char* p, const __m256* v) {
    _mm256_storeu_ps(reinterpret_cast<float*>(p), v[0]);
    _mm256_storeu_ps(reinterpret_cast<float*>(p + 32), v[1]);
  }
};
struct HalfCodec {
  using Policy = Half;
  static constexpr size_t kElems = 16;
  static void Load(const char* p, __m256* v) {
    v[0] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    v[1] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
  }
  static void Store(char* p, const __m256* v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v[0], _MM_FROUND_TO_NEAREST_INT));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 16), _mm256_cvtps_ph(v[1], _MM_FROUND_TO_NEAREST_INT));
  }
};
// v[0] holds the even elements (shifted up), v[1] the odd ones (low half masked off): no shuffles.
struct BFloat16Codec {
  using Policy = BFloat16;
  static constexpr size_t kElems = 16;
  static void Load(const char* p, __m256* v) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    v[0] = _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
    v[1] = _mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static void Store(char* p, const __m256* v) {
    const __m256i words = _mm256_or_si256(NarrowToBFloat16(v[0]), _mm256_slli_epi32(NarrowToBFloat16(v[1]), 16));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), words);
  }
};

template <class Codec, class Op>
void Combine(void* dst, const void* a, const void* b, size_t count) {
  using P = typename Codec::Policy;
  using S = typename P::Stored;
  constexpr size_t kBytes = Codec::kElems * sizeof(S);
  char* d = static_cast<char*>(dst);
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  size_t i = 0;
  for (; i + 2 * Codec::kElems <= count; i += 2 * Codec::kElems) {
    __m256 x[4], y[4];
    Codec::Load(pa + i * sizeof(S), x);
    Codec::Load(pa + i * sizeof(S) + kBytes, x + 2);
    Codec::Load(pb + i * sizeof(S), y);
    Codec::Load(pb + i * sizeof(S) + kBytes, y + 2);
    for (int k = 0; k < 4; ++k) x[k] = Op::Apply(x[k], y[k]);
    Codec::Store(d + i * sizeof(S), x);
    Codec::Store(d + i * sizeof(S) + kBytes, x + 2);
  }
  for (; i + Codec::kElems <= count; i += Codec::kElems) {
    __m256 x[2], y[2];
    Codec::Load(pa + i * sizeof(S), x);
    Codec::Load(pb + i * sizeof(S), y);
    x[0] = Op::Apply(x[0], y[0]);
    x[1] = Op::Apply(x[1], y[1]);
    Codec::Store(d + i * sizeof(S), x);
  }
  for (; i < count; ++i) {
    StoreAt<S>(d, i, P::Narrow(Op::Scalar(P::Widen(LoadAt<S>(pa, i)), P::Widen(LoadAt<S>(pb, i)))));
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

template <class Codec>
void ScaleVec(void* dst, size_t count, double factor) {
  using P = typename Codec::Policy;
  using S = typename P::Stored;
  const float f = static_cast<float>(factor);
  const __m256 vf = _mm256_set1_ps(f);
  char* d = static_cast<char*>(dst);
  size_t i = 0;
  for (; i + Codec::kElems <= count; i += Codec::kElems) {
    __m256 x[2];
    Codec::Load(d + i * sizeof(S), x);
    x[0] = _mm256_mul_ps(x[0], vf);
    x[1] = _mm256_mul_ps(x[1], vf);
    Codec::Store(d + i * sizeof(S), x);
  }
  for (; i < count; ++i) StoreAt<S>(d, i, P::Narrow(P::Widen(LoadAt<S>(d, i)) * f));
}

void HalfToFloatVec(float* dst, const uint16_t* src, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  GenericHalfToFloat(dst + i, src + i, count - i);
}

void FloatToHalfVec(uint16_t* dst, const float* src, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  }
  GenericFloatToHalf(dst + i, src + i, count - i);
}

void BFloat16ToFloatVec(float* dst, const uint16_t* src, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256 v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(x), 16));
    const __m256 quiet = _mm256_or_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x400000)));
    _mm256_storeu_ps(dst + i, _mm256_blendv_ps(v, quiet, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
  }
  GenericBFloat16ToFloat(dst + i, src + i, count - i);
}

void FloatToBFloat16Vec(uint16_t* dst, const float* src, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m256i lo = NarrowToBFloat16(_mm256_loadu_ps(src + i));
    const __m256i hi = NarrowToBFloat16(_mm256_loadu_ps(src + i + 8));
    // packus interleaves 128-bit lanes (lo0 hi0 lo1 hi1); the permute restores lo0 lo1 hi0 hi1.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), packed);
  }
  GenericFloatToBFloat16(dst + i, src + i, count - i);
}

}  // namespace

KernelTable Avx2Kernels() {
  KernelTable table = GenericKernels("avx2");
  table.reduce_copy[static_cast<size_t>(DataType::kF32)] = ReduceCopyVec<F32Codec>;
  table.reduce_copy[static_cast<size_t>(DataType::kF16)] = ReduceCopyVec<HalfCodec>;
  table.reduce_copy[static_cast<size_t>(DataType::kBF16)] = ReduceCopyVec<BFloat16Codec>;
  table.scale[static_cast<size_t>(DataType::kF32)] = ScaleVec<F32Codec>;
  table.scale[static_cast<size_t>(DataType::kF16)] = ScaleVec<HalfCodec>;
  table.scale[static_cast<size_t>(DataType::kBF16)] = ScaleVec<BFloat16Codec>;
  table.half_to_float = HalfToFloatVec;
  table.float_to_half = FloatToHalfVec;
  table.bfloat16_to_float = BFloat16ToFloatVec;
  table.float_to_bfloat16 = FloatToBFloat16Vec;
  return table;
}

}  // namespace cohort::kernels::detail
