// Scalar f16 / bf16 <-> f32 conversions (IEEE binary16 and bfloat16 bit patterns in uint16_t).
//
// f32 -> f16/bf16 rounds to nearest-even, overflows to infinity and keeps subnormals; NaN stays
// NaN with its payload's top bits and the quiet bit set, exactly as F16C and AVX-512 conversions
// do, so vector code and this scalar code agree bit for bit. Every function is always inlined:
// the ISA-specific .cc files include this header with different target flags, and an out-of-line
// copy compiled with AVX-512 must never be the one the linker keeps for the portable code.
#pragma once

#include <cstdint>

#define COHORT_HALF_INLINE inline __attribute__((always_inline))

namespace cohort::kernels {

COHORT_HALF_INLINE uint32_t FloatBits(float value) { return __builtin_bit_cast(uint32_t, value); }
COHORT_HALF_INLINE float FloatFromBits(uint32_t bits) { return __builtin_bit_cast(float, bits); }

COHORT_HALF_INLINE float HalfBitsToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) {
    const uint32_t quiet = mantissa != 0 ? 0x400000u : 0u;
    return FloatFromBits(sign | 0x7f800000u | quiet | (mantissa << 13));
  }
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in f32.
    return FloatFromBits(sign | FloatBits(static_cast<float>(mantissa) * 0x1p-24f));
  }
  return FloatFromBits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

COHORT_HALF_INLINE uint16_t FloatToHalfBits(float value) {
  const uint32_t bits = FloatBits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  // 65520 is halfway between 65504 (the largest f16, odd mantissa) and 65536: ties go to inf.
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (magnitude < 0x38800000u) {
    // Below the smallest normal f16 (2^-14): count units of 2^-24, rounding half to even.
    const uint32_t exponent = magnitude >> 23;
    if (exponent < 102) return static_cast<uint16_t>(sign);  // below 2^-25: rounds to zero
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exponent;
    uint32_t units = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half_unit = 1u << (shift - 1);
    if (rest > half_unit || (rest == half_unit && (units & 1))) ++units;
    return static_cast<uint16_t>(sign | units);
  }
  const uint32_t rebiased = magnitude - 0x38000000u;  // exponent bias 127 -> 15
  const uint32_t rounded = rebiased + 0xfffu + ((rebiased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

COHORT_HALF_INLINE float BFloat16BitsToFloat(uint16_t bf16) {
  uint32_t bits = static_cast<uint32_t>(bf16) << 16;
  if ((bits & 0x7fffffffu) > 0x7f800000u) bits |= 0x400000u;
  return FloatFromBits(bits);
}

COHORT_HALF_INLINE uint16_t FloatToBFloat16Bits(float value) {
  const uint32_t bits = FloatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  // Adding 0x7fff plus the kept lsb rounds half to even; a carry into the exponent is correct.
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace cohort::kernels
