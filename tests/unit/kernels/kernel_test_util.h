// Helpers shared by the kernel tests: the ISAs to run, seeded random buffers and the one
// element-wise comparison used against the reference.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/reduce.h"
#include "runtime/base/dtype.h"

namespace cohort::kernels::testing {

inline const char* const kIsas[] = {"portable", "avx2", "avx512"};

// Forces the ISA named by the test parameter and restores automatic choice afterwards; skips
// when this CPU lacks it.
class IsaTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!ForceIsa(GetParam())) GTEST_SKIP() << "CPU lacks " << GetParam();
    ASSERT_EQ(ActiveIsa(), GetParam());
  }
  void TearDown() override { ASSERT_TRUE(ForceIsa("auto")); }
};

// Base seed; set COHORT_TEST_SEED to try others. Every case derives its own seed and prints it.
inline uint64_t BaseSeed() {
  const char* env = std::getenv("COHORT_TEST_SEED");
  return env != nullptr ? std::stoull(env) : 0x5eed2024u;
}

// Random elements that exercise what matters for each dtype: ordinary values, equal values
// (min/max ties), signed zeros, infinities, NaNs with payloads, subnormals, overflow.
void FillRandom(std::mt19937_64& rng, DataType dtype, void* data, size_t count);

// Compares `count` elements of `actual` with `expected` bit for bit, except that sum/prod/avg
// may pick either input's payload when both inputs are NaN (x86 keeps the first operand's, and a
// compiler may swap the operands of a commutative op). Returns "" or a description of the
// first mismatch.
std::string CompareElements(DataType dtype, ReduceOp op, const void* expected, const void* actual,
                            size_t count);

}  // namespace cohort::kernels::testing
