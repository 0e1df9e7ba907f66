// CPU reduction kernels: the arithmetic on every collective's hot path.
//
// Every dtype and op. Integers wrap modulo 2^bits (two's complement), so results do not depend
// on reduction order. f16 and bf16 are computed in f32 and rounded to nearest-even once per call.
// kAvg reduces as kSum; callers apply Scale(1/n) once at the end.
// Pointers need no alignment; dst may alias a source exactly (never partially overlap).
// Runtime dispatch picks AVX-512, AVX2 or portable code once, on first use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/base/dtype.h"

namespace cohort::kernels {

// dst[i] = dst[i] op src[i]
void Reduce(void* dst, const void* src, size_t count, DataType dtype, ReduceOp op);
// dst[i] = a[i] op b[i]   (saves the copy a separate memcpy + Reduce would cost)
void ReduceCopy(void* dst, const void* a, const void* b, size_t count, DataType dtype, ReduceOp op);
// dst[i] = srcs[0][i] op srcs[1][i] op ... op srcs[num_srcs-1][i], combined left to right, in
// one pass over dst (blocks stay in L1 while every source is folded in). f16/bf16 accumulate in
// f32 and round once, so the result does not depend on how the sources were grouped into calls.
// dst may equal any source exactly. num_srcs == 1 is a copy; num_srcs == 0 does nothing.
void ReduceMany(void* dst, const void* const* srcs, size_t num_srcs, size_t count, DataType dtype,
                ReduceOp op);
// dst[i] = dst[i] * factor, for floating-point dtypes (avg); integer dtypes are left unchanged.
void Scale(void* dst, size_t count, DataType dtype, double factor);

// Conversions with round-to-nearest-even, NaN preserved.
void HalfToFloat(float* dst, const uint16_t* src, size_t count);
void FloatToHalf(uint16_t* dst, const float* src, size_t count);
void BFloat16ToFloat(float* dst, const uint16_t* src, size_t count);
void FloatToBFloat16(uint16_t* dst, const float* src, size_t count);

// Which implementation the dispatcher chose: "avx512", "avx2" or "portable".
std::string_view ActiveIsa();
// Forces an implementation (tests compare each against the reference); false if the CPU lacks it.
// "auto" returns to the dispatcher's own choice.
bool ForceIsa(std::string_view isa);

}  // namespace cohort::kernels
