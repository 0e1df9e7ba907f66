// Test values for checking collectives: every element of every rank's input is a counter-based
// hash of (seed, rank, index), drawn from a set on which the reduction is exact in every dtype,
// so that any rank can regenerate every other rank's input and compute the expected result
// independently of the library under test.
//
// Used by cohort-bench (-c 1) and compiled into tests/multiproc/collective_check as well.
// Pure code: no communicator, no kernels (its own f16/bf16 conversions), thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/base/dtype.h"

namespace cohort::bench {

// One element as its storage bits, zero-extended to 64 bits (f16 in the low 16 bits, ...).
using RawElement = uint64_t;

// The set values are drawn from, chosen by what the collective does with them.
enum class ValueSet {
  kSum,   // sum and avg: small integers, so every partial sum is exact (|partial| <= 256)
  kProd,  // prod: {-2,-1,-0.5,0.5,1,2} for floats (powers of two), odd numbers for integers
  kAny,   // min, max and data movement: wide-ranging values, exact in every dtype
};
ValueSet ValueSetFor(ReduceOp op);

// splitmix64 over (seed, rank, index): the same on every rank and platform.
uint64_t HashElement(uint64_t seed, uint64_t rank, uint64_t index);
// Mixes extra words into a seed (to give each test case its own values).
uint64_t MixSeed(uint64_t seed, uint64_t value);

// Element `index` of `rank`'s input. `nranks` bounds magnitudes so that sums and products over
// all ranks stay exact in f16 and bf16.
RawElement InputElement(uint64_t seed, int rank, size_t index, DataType dtype, ValueSet set,
                        int nranks);
// Writes elements first_index .. first_index+count-1 of `rank`'s input to dst[0..count).
void FillInput(void* dst, size_t count, DataType dtype, ValueSet set, uint64_t seed, int rank,
               size_t first_index, int nranks);
// Fills `count` elements with a byte pattern that no input produces often (catches unwritten
// outputs): 0xA5 in every byte.
void FillSentinel(void* dst, size_t count, DataType dtype);

RawElement LoadElement(const void* buffer, size_t index, DataType dtype);
void StoreElement(void* buffer, size_t index, DataType dtype, RawElement value);

// Conversions between storage bits and numbers. Floats round to nearest even.
double ToDouble(RawElement raw, DataType dtype);
RawElement FromDouble(double value, DataType dtype);
// Integers: sign-extended for signed dtypes, zero-extended for unsigned ones.
int64_t ToInt64(RawElement raw, DataType dtype);
RawElement FromInt64(int64_t value, DataType dtype);  // wraps modulo 2^bits

// Reduction over ranks 0..nranks-1 of input element `index`: in double for floating point (then
// rounded to dtype; avg divides by nranks), with wrap-around (unsigned arithmetic) for integers.
RawElement ExpectedReduction(uint64_t seed, int nranks, size_t index, DataType dtype, ReduceOp op);

// The one float tolerance rule: |got - expected| <= 4 ulp of dtype, relative to max(|expected|, 1).
bool WithinTolerance(double got, double expected, DataType dtype);
// Exact equality, except avg on floating point, which is compared with WithinTolerance.
bool ElementMatches(RawElement got, RawElement expected, DataType dtype, ReduceOp op);

// "-3.5" or "-17" (integers) with the raw bits for floats: "-3.5 (0xc060)".
std::string ElementToString(RawElement raw, DataType dtype);

}  // namespace cohort::bench
