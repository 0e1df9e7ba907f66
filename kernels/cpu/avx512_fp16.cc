// f16 reductions in native AVX512_FP16 arithmetic: 32 lanes per op and no conversions.
//
// One f16 add or multiply rounds exactly like widening to f32, operating and rounding back once
// (f32 carries more than 2 * 11 + 2 significand bits, so the double rounding is innocuous), and
// min/max only select, so results match the f32-based kernels and the reference bit for bit.
// FP16 instructions ignore MXCSR.DAZ/FTZ; the f32 path never sees f32 subnormals here either.
#include <immintrin.h>

#include "kernels/cpu/kernel_table.h"

namespace cohort::kernels::detail {
namespace {

struct SumH {
  static __m512h Apply(__m512h a, __m512h b) { return _mm512_add_ph(a, b); }
};
struct ProdH {
  static __m512h Apply(__m512h a, __m512h b) { return _mm512_mul_ph(a, b); }
};

// Take b when a is not NaN and !(a <= b) (min) or !(a >= b) (max); then quiet a NaN result, as
// the widen-select-narrow path does.
template <int kPredicate>
__m512h Select(__m512h a, __m512h b) {
  const __mmask32 take_b = _mm512_mask_cmp_ph_mask(_mm512_cmp_ph_mask(a, a, _CMP_ORD_Q), a, b, kPredicate);
  const __m512i r = _mm512_mask_mov_epi16(_mm512_castph_si512(a), take_b, _mm512_castph_si512(b));
  const __mmask32 is_nan = _mm512_cmp_ph_mask(_mm512_castsi512_ph(r), _mm512_castsi512_ph(r), _CMP_UNORD_Q);
  return _mm512_castsi512_ph(_mm512_mask_mov_epi16(r, is_nan, _mm512_or_si512(r, _mm512_set1_epi16(0x200))));
}
struct MinH {
  static __m512h Apply(__m512h a, __m512h b) { return Select<_CMP_NLE_UQ>(a, b); }
};
struct MaxH {
  static __m512h Apply(__m512h a, __m512h b) { return Select<_CMP_NGE_UQ>(a, b); }
};

__m512h Load(const char* p) { return _mm512_castsi512_ph(_mm512_loadu_si512(p)); }
void Store(char* p, __m512h v) { _mm512_storeu_si512(p, _mm512_castph_si512(v)); }

template <class Op>
void Combine(void* dst, const void* a, const void* b, size_t count) {
  constexpr size_t kLanes = 32;
  char* d = static_cast<char*>(dst);
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  size_t i = 0;
  for (; i + 2 * kLanes <= count; i += 2 * kLanes) {
    const size_t at = i * 2;
    const __m512h x0 = Load(pa + at), x1 = Load(pa + at + 64);
    const __m512h y0 = Load(pb + at), y1 = Load(pb + at + 64);
    Store(d + at, Op::Apply(x0, y0));
    Store(d + at + 64, Op::Apply(x1, y1));
  }
  for (; i < count; i += kLanes) {
    const size_t rest = count - i;
    const __mmask32 m = rest >= kLanes ? ~__mmask32{0} : static_cast<__mmask32>((1u << rest) - 1);
    const __m512h x = _mm512_castsi512_ph(_mm512_maskz_loadu_epi16(m, pa + i * 2));
    const __m512h y = _mm512_castsi512_ph(_mm512_maskz_loadu_epi16(m, pb + i * 2));
    _mm512_mask_storeu_epi16(d + i * 2, m, _mm512_castph_si512(Op::Apply(x, y)));
  }
}

}  // namespace

void Avx512Fp16ReduceCopyHalf(void* dst, const void* a, const void* b, size_t count, ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return Combine<SumH>(dst, a, b, count);
    case ReduceOp::kProd: return Combine<ProdH>(dst, a, b, count);
    case ReduceOp::kMin: return Combine<MinH>(dst, a, b, count);
    case ReduceOp::kMax: return Combine<MaxH>(dst, a, b, count);
  }
}

}  // namespace cohort::kernels::detail
