// Test values: exactly representable, reproducible, and reductions computed the way the
// dtype's arithmetic does (exact floats, wrapping integers).
#include "benchmarks/cohort_bench/check_values.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace cohort::bench {
namespace {

TEST(Conversions, EveryHalfAndBf16RoundTrips) {
  for (DataType dtype : {DataType::kF16, DataType::kBF16}) {
    for (uint32_t bits = 0; bits < 65536; ++bits) {
      const double value = ToDouble(bits, dtype);
      if (std::isnan(value)) continue;
      ASSERT_EQ(FromDouble(value, dtype), bits) << DataTypeName(dtype) << " bits " << bits;
    }
  }
}

TEST(Conversions, HalfRoundsToNearestEven) {
  EXPECT_EQ(FromDouble(1.0, DataType::kF16), 0x3c00u);
  EXPECT_EQ(FromDouble(1.0 + 1.0 / 2048, DataType::kF16), 0x3c00u);  // tie: to even
  EXPECT_EQ(FromDouble(1.0 + 3.0 / 2048, DataType::kF16), 0x3c02u);  // tie: to even (up)
  EXPECT_EQ(FromDouble(65504, DataType::kF16), 0x7bffu);
  EXPECT_EQ(FromDouble(1e6, DataType::kF16), 0x7c00u);
  EXPECT_EQ(FromDouble(-2.0, DataType::kBF16), 0xc000u);
}

TEST(Conversions, IntegersWrapAndSignExtend) {
  EXPECT_EQ(ToInt64(0xff, DataType::kI8), -1);
  EXPECT_EQ(ToInt64(0xff, DataType::kU8), 255);
  EXPECT_EQ(FromInt64(-1, DataType::kI32), 0xffffffffu);
  EXPECT_EQ(FromInt64(300, DataType::kU8), 44u);
  EXPECT_EQ(ToInt64(FromInt64(INT64_MIN, DataType::kI64), DataType::kI64), INT64_MIN);
}

TEST(InputElement, ReproducibleAndRepresentable) {
  for (DataType dtype : kAllDataTypes) {
    for (ValueSet set : {ValueSet::kSum, ValueSet::kProd, ValueSet::kAny}) {
      for (size_t i = 0; i < 2000; ++i) {
        const RawElement raw = InputElement(42, 3, i, dtype, set, 8);
        ASSERT_EQ(raw, InputElement(42, 3, i, dtype, set, 8));
        if (IsFloatingPoint(dtype)) {
          const double v = ToDouble(raw, dtype);
          ASSERT_EQ(FromDouble(v, dtype), raw);
          if (set == ValueSet::kSum) {
            ASSERT_LE(std::fabs(v), 16.0);
          }
          if (set == ValueSet::kProd) {
            ASSERT_TRUE(std::fabs(v) == 0.5 || std::fabs(v) == 1 || std::fabs(v) == 2);
          }
        } else if (set == ValueSet::kProd) {
          ASSERT_EQ(raw & 1, 1u);
        }
      }
    }
  }
  // Values differ across ranks and seeds (a misplaced block is caught).
  int same = 0;
  for (size_t i = 0; i < 1000; ++i) {
    same += InputElement(1, 0, i, DataType::kF32, ValueSet::kAny, 4) ==
            InputElement(1, 1, i, DataType::kF32, ValueSet::kAny, 4);
  }
  EXPECT_LT(same, 20);
}

TEST(ExpectedReduction, IntegersWrapLikeTheDtype) {
  for (size_t i = 0; i < 100; ++i) {
    int8_t sum = 0, prod = 1, mn = 127, mx = -128;
    for (int r = 0; r < 5; ++r) {
      const auto v = static_cast<int8_t>(
          InputElement(7, r, i, DataType::kI8, ValueSetFor(ReduceOp::kSum), 5));
      const auto p = static_cast<int8_t>(
          InputElement(7, r, i, DataType::kI8, ValueSetFor(ReduceOp::kProd), 5));
      const auto a = static_cast<int8_t>(
          InputElement(7, r, i, DataType::kI8, ValueSetFor(ReduceOp::kMin), 5));
      sum = static_cast<int8_t>(static_cast<uint8_t>(sum) + static_cast<uint8_t>(v));
      prod = static_cast<int8_t>(static_cast<uint8_t>(prod) * static_cast<uint8_t>(p));
      mn = std::min(mn, a);
      mx = std::max(mx, a);
    }
    EXPECT_EQ(ToInt64(ExpectedReduction(7, 5, i, DataType::kI8, ReduceOp::kSum), DataType::kI8), sum);
    EXPECT_EQ(ToInt64(ExpectedReduction(7, 5, i, DataType::kI8, ReduceOp::kProd), DataType::kI8), prod);
    EXPECT_EQ(ToInt64(ExpectedReduction(7, 5, i, DataType::kI8, ReduceOp::kMin), DataType::kI8), mn);
    EXPECT_EQ(ToInt64(ExpectedReduction(7, 5, i, DataType::kI8, ReduceOp::kMax), DataType::kI8), mx);
  }
}

TEST(ExpectedReduction, FloatSumsAreExactAndAvgDivides) {
  for (size_t i = 0; i < 100; ++i) {
    double sum = 0;
    for (int r = 0; r < 3; ++r) {
      sum += ToDouble(InputElement(9, r, i, DataType::kBF16, ValueSet::kSum, 3), DataType::kBF16);
    }
    EXPECT_EQ(ToDouble(ExpectedReduction(9, 3, i, DataType::kBF16, ReduceOp::kSum), DataType::kBF16), sum);
    const double avg = ToDouble(ExpectedReduction(9, 3, i, DataType::kF64, ReduceOp::kAvg), DataType::kF64);
    double sum64 = 0;
    for (int r = 0; r < 3; ++r) {
      sum64 += ToDouble(InputElement(9, r, i, DataType::kF64, ValueSet::kSum, 3), DataType::kF64);
    }
    EXPECT_DOUBLE_EQ(avg, sum64 / 3);
  }
}

TEST(Tolerance, OneRuleScaledByDtype) {
  EXPECT_TRUE(WithinTolerance(1.0 / 3 + 1e-4, 1.0 / 3, DataType::kF16));
  EXPECT_FALSE(WithinTolerance(1.0 / 3 + 1e-2, 1.0 / 3, DataType::kF16));
  EXPECT_FALSE(WithinTolerance(1.0 / 3 + 1e-4, 1.0 / 3, DataType::kF32));
  EXPECT_TRUE(WithinTolerance(1000.0 + 1e-5, 1000.0, DataType::kF32));
  EXPECT_FALSE(WithinTolerance(NAN, 1.0, DataType::kF64));
  // Exact everywhere except floating-point avg.
  const RawElement a = FromDouble(1.0, DataType::kF32), b = FromDouble(1.0000001, DataType::kF32);
  EXPECT_FALSE(ElementMatches(a, b, DataType::kF32, ReduceOp::kSum));
  EXPECT_TRUE(ElementMatches(a, b, DataType::kF32, ReduceOp::kAvg));
}

TEST(ElementToString, ShowsValueAndBits) {
  EXPECT_EQ(ElementToString(0x3c00, DataType::kF16), "1 (0x3c00)");
  EXPECT_EQ(ElementToString(0xfe, DataType::kI8), "-2");
}

}  // namespace
}  // namespace cohort::bench
