// Test data for collective tests: values unique to (rank, index) that every dtype holds exactly
// and whose sums / products stay exact (so expected results are computed independently, in
// double or int64, without tolerance), element load/store for every dtype written independently
// of kernels/, and the one tolerance helper (for avg).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/base/dtype.h"

namespace cohort::testing {

// Value of element `index` of rank `rank`'s input, chosen for (dtype, op) as described above.
double InputValue(int rank, size_t index, DataType dtype, ReduceOp op);

// Stores an exactly representable value (integers wrap modulo 2^bits) / loads one as double.
void StoreValue(DataType dtype, void* base, size_t index, double value);
double LoadValue(DataType dtype, const void* base, size_t index);
// What `value` reads back as after StoreValue (the wrapped integer; floats are exact here).
double Representable(DataType dtype, double value);

// Combines a and b as the op does (avg as sum), exactly in double; integer wrap happens on store.
double Combine(ReduceOp op, double a, double b);

// Whether actual matches expected: exactly, except for op avg whose tolerance depends on dtype.
bool Matches(DataType dtype, ReduceOp op, double actual, double expected);

}  // namespace cohort::testing
