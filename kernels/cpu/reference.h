// Plain scalar reference for the CPU reduction kernels: one element at a time, no vectors.
//
// Same contract and signatures as reduce.h. Tests (here and in other layers) compare the
// dispatched kernels against it bit for bit; it is never on a hot path.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/base/dtype.h"

namespace cohort::kernels::reference {

void Reduce(void* dst, const void* src, size_t count, DataType dtype, ReduceOp op);
void ReduceCopy(void* dst, const void* a, const void* b, size_t count, DataType dtype, ReduceOp op);
void ReduceMany(void* dst, const void* const* srcs, size_t num_srcs, size_t count, DataType dtype,
                ReduceOp op);
void Scale(void* dst, size_t count, DataType dtype, double factor);

void HalfToFloat(float* dst, const uint16_t* src, size_t count);
void FloatToHalf(uint16_t* dst, const float* src, size_t count);
void BFloat16ToFloat(float* dst, const uint16_t* src, size_t count);
void FloatToBFloat16(uint16_t* dst, const float* src, size_t count);

}  // namespace cohort::kernels::reference
