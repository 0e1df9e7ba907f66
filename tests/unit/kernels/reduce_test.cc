// Reduce, ReduceCopy and Scale on every ISA, dtype and op against the scalar reference: random
// data, odd lengths, byte-misaligned pointers, dst aliasing either source, guard bytes around dst.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/reference.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace cohort::kernels::testing {
namespace {

constexpr size_t kLengths[] = {0, 1, 2, 3, 15, 16, 17, 31, 33, 63, 64, 65, 1000, 4097};
constexpr unsigned char kGuard = 0xa5;
constexpr size_t kPad = 64;

enum class Alias { kNone, kDstIsA, kDstIsB, kReduce };
constexpr Alias kAliases[] = {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB, Alias::kReduce};
const char* AliasName(Alias alias) {
  switch (alias) {
    case Alias::kNone: return "distinct";
    case Alias::kDstIsA: return "dst==a";
    case Alias::kDstIsB: return "dst==b";
    case Alias::kReduce: return "Reduce(dst,src)";
  }
  return "?";
}

// Byte offsets of dst, a and b from a 64-byte boundary; odd ones misalign every element type.
struct Offsets {
  size_t dst, a, b;
};
constexpr Offsets kOffsets[] = {{0, 0, 0}, {1, 3, 5}, {7, 2, 1}};

// A buffer with guard bytes on both sides of `count` elements starting `offset` bytes in.
class GuardedBuffer {
 public:
  GuardedBuffer(size_t bytes, size_t offset) : storage_(bytes + 2 * kPad, kGuard), offset_(kPad + offset), bytes_(bytes) {}
  char* data() { return reinterpret_cast<char*>(storage_.data()) + offset_; }
  bool GuardsIntact() const {
    for (size_t i = 0; i < storage_.size(); ++i) {
      if ((i < offset_ || i >= offset_ + bytes_) && storage_[i] != kGuard) return false;
    }
    return true;
  }

 private:
  std::vector<unsigned char> storage_;
  size_t offset_;
  size_t bytes_;
};

// Runs one case; returns "" or what went wrong.
std::string RunReduceCase(DataType dtype, ReduceOp op, size_t count, Alias alias, Offsets offsets, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t bytes = count * DataTypeSize(dtype);
  std::vector<char> a(bytes + 1), b(bytes + 1), expected(bytes + 1);
  FillRandom(rng, dtype, a.data(), count);
  FillRandom(rng, dtype, b.data(), count);
  reference::ReduceCopy(expected.data(), a.data(), b.data(), count, dtype, op);

  GuardedBuffer dst(bytes, offsets.dst), in_a(bytes, offsets.a), in_b(bytes, offsets.b);
  std::memcpy(in_a.data(), a.data(), bytes);
  std::memcpy(in_b.data(), b.data(), bytes);
  switch (alias) {
    case Alias::kNone:
      ReduceCopy(dst.data(), in_a.data(), in_b.data(), count, dtype, op);
      break;
    case Alias::kDstIsA:
      std::memcpy(dst.data(), a.data(), bytes);
      ReduceCopy(dst.data(), dst.data(), in_b.data(), count, dtype, op);
      break;
    case Alias::kDstIsB:
      std::memcpy(dst.data(), b.data(), bytes);
      ReduceCopy(dst.data(), in_a.data(), dst.data(), count, dtype, op);
      break;
    case Alias::kReduce:
      std::memcpy(dst.data(), a.data(), bytes);
      Reduce(dst.data(), in_b.data(), count, dtype, op);
      break;
  }
  if (!dst.GuardsIntact()) return "wrote outside dst";
  if (std::memcmp(in_a.data(), a.data(), bytes) != 0 || std::memcmp(in_b.data(), b.data(), bytes) != 0) {
    return "modified a source";
  }
  return CompareElements(dtype, op, expected.data(), dst.data(), count);
}

TEST_P(IsaTest, ReduceMatchesReference) {
  const uint64_t base = BaseSeed();
  int failures = 0;
  for (DataType dtype : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      for (size_t count : kLengths) {
        for (Alias alias : kAliases) {
          for (Offsets offsets : kOffsets) {
            const uint64_t seed = base ^ (static_cast<uint64_t>(dtype) << 40) ^ (static_cast<uint64_t>(op) << 32) ^
                                  (count << 8) ^ (static_cast<uint64_t>(alias) << 4) ^ offsets.dst;
            const std::string error = RunReduceCase(dtype, op, count, alias, offsets, seed);
            if (error.empty()) continue;
            ADD_FAILURE() << GetParam() << " " << DataTypeName(dtype) << " " << ReduceOpName(op) << " count " << count
                          << " " << AliasName(alias) << " offsets " << offsets.dst << "/" << offsets.a << "/"
                          << offsets.b << " seed " << seed << ": " << error;
            if (++failures >= 20) return;
          }
        }
      }
    }
  }
}

TEST_P(IsaTest, ScaleMatchesReference) {
  const double kFactors[] = {0.5, 1.0 / 3, -3.0, 1e-30, 65536.0, 0.125};
  const uint64_t base = BaseSeed();
  for (DataType dtype : kAllDataTypes) {
    for (double factor : kFactors) {
      for (size_t count : kLengths) {
        for (size_t offset : {0, 1, 6}) {
          const uint64_t seed = base ^ (static_cast<uint64_t>(dtype) << 40) ^ (count << 8) ^ offset;
          std::mt19937_64 rng(seed);
          const size_t bytes = count * DataTypeSize(dtype);
          std::vector<char> expected(bytes + 1);
          FillRandom(rng, dtype, expected.data(), count);
          GuardedBuffer dst(bytes, offset);
          std::memcpy(dst.data(), expected.data(), bytes);
          reference::Scale(expected.data(), count, dtype, factor);
          Scale(dst.data(), count, dtype, factor);
          ASSERT_TRUE(dst.GuardsIntact()) << DataTypeName(dtype) << " count " << count;
          const std::string error = CompareElements(dtype, ReduceOp::kMin, expected.data(), dst.data(), count);
          ASSERT_EQ(error, "") << GetParam() << " " << DataTypeName(dtype) << " factor " << factor << " count "
                               << count << " offset " << offset << " seed " << seed;
        }
      }
    }
  }
}

TEST_P(IsaTest, IntegersWrap) {
  int8_t i8_a[] = {127, -128, 16, -128, 100}, i8_b[] = {1, -1, 16, -1, 100}, i8_d[5];
  ReduceCopy(i8_d, i8_a, i8_b, 5, DataType::kI8, ReduceOp::kSum);
  EXPECT_EQ(i8_d[0], -128);
  EXPECT_EQ(i8_d[1], 127);
  ReduceCopy(i8_d, i8_a, i8_b, 5, DataType::kI8, ReduceOp::kProd);
  EXPECT_EQ(i8_d[2], 0);      // 256 wraps to 0
  EXPECT_EQ(i8_d[3], -128);   // -128 * -1 = 128 wraps to -128
  EXPECT_EQ(i8_d[4], 16);     // 10000 mod 256
  uint8_t u8[] = {255, 0}, one[] = {1, 255};
  Reduce(u8, one, 2, DataType::kU8, ReduceOp::kSum);
  EXPECT_EQ(u8[0], 0);
  EXPECT_EQ(u8[1], 255);
  int32_t i32[] = {std::numeric_limits<int32_t>::max(), 65536}, i32_b[] = {1, 65536};
  Reduce(i32, i32_b, 2, DataType::kI32, ReduceOp::kProd);
  EXPECT_EQ(i32[0], std::numeric_limits<int32_t>::max());
  EXPECT_EQ(i32[1], 0);
  int64_t i64[] = {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}, i64_b[] = {1, -1};
  Reduce(i64, i64_b, 2, DataType::kI64, ReduceOp::kSum);
  EXPECT_EQ(i64[0], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(i64[1], std::numeric_limits<int64_t>::max());
  int8_t mn[] = {-128, 127}, mx[] = {127, -128};
  Reduce(mn, mx, 2, DataType::kI8, ReduceOp::kMin);
  EXPECT_EQ(mn[0], -128);
  EXPECT_EQ(mn[1], -128);
}

// A NaN in either input of min/max gives NaN, wherever it sits (vector body or tail).
TEST_P(IsaTest, MinMaxPropagateNan) {
  constexpr size_t kCount = 67;
  for (DataType dtype : {DataType::kF32, DataType::kF64, DataType::kF16, DataType::kBF16}) {
    for (ReduceOp op : {ReduceOp::kMin, ReduceOp::kMax}) {
      for (size_t at : {size_t{0}, size_t{5}, size_t{40}, size_t{66}}) {
        for (bool nan_in_a : {true, false}) {
          std::vector<double> a(kCount, 1.0), b(kCount, 2.0);
          (nan_in_a ? a : b)[at] = std::numeric_limits<double>::quiet_NaN();
          const size_t size = DataTypeSize(dtype);
          std::vector<char> pa(kCount * size), pb(kCount * size), out(kCount * size);
          for (size_t i = 0; i < kCount; ++i) {
            auto put = [&](std::vector<char>& buf, double v) {
              if (dtype == DataType::kF32) { float f = static_cast<float>(v); std::memcpy(&buf[i * 4], &f, 4); }
              if (dtype == DataType::kF64) std::memcpy(&buf[i * 8], &v, 8);
              if (dtype == DataType::kF16) { uint16_t h = FloatToHalfBits(static_cast<float>(v)); std::memcpy(&buf[i * 2], &h, 2); }
              if (dtype == DataType::kBF16) { uint16_t h = FloatToBFloat16Bits(static_cast<float>(v)); std::memcpy(&buf[i * 2], &h, 2); }
            };
            put(pa, a[i]);
            put(pb, b[i]);
          }
          ReduceCopy(out.data(), pa.data(), pb.data(), kCount, dtype, op);
          for (size_t i = 0; i < kCount; ++i) {
            double v = 0;
            if (dtype == DataType::kF32) { float f; std::memcpy(&f, &out[i * 4], 4); v = f; }
            if (dtype == DataType::kF64) std::memcpy(&v, &out[i * 8], 8);
            if (dtype == DataType::kF16) { uint16_t h; std::memcpy(&h, &out[i * 2], 2); v = HalfBitsToFloat(h); }
            if (dtype == DataType::kBF16) { uint16_t h; std::memcpy(&h, &out[i * 2], 2); v = BFloat16BitsToFloat(h); }
            const double want = i == at ? std::numeric_limits<double>::quiet_NaN() : (op == ReduceOp::kMin ? 1.0 : 2.0);
            if (std::isnan(want)) {
              EXPECT_TRUE(std::isnan(v)) << DataTypeName(dtype) << " " << ReduceOpName(op) << " at " << i;
            } else {
              EXPECT_EQ(v, want) << DataTypeName(dtype) << " " << ReduceOpName(op) << " at " << i;
            }
          }
        }
      }
    }
  }
}

// Closed-form values, so that the reference is not only compared with itself.
TEST_P(IsaTest, KnownValues) {
  float f[] = {1.5f, -2.0f, 0.1f}, g[] = {2.25f, 0.5f, 0.2f};
  Reduce(f, g, 3, DataType::kF32, ReduceOp::kSum);
  EXPECT_EQ(f[0], 3.75f);
  EXPECT_EQ(f[1], -1.5f);
  EXPECT_EQ(f[2], 0.1f + 0.2f);
  // bf16: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 and rounds to even (1); 1 + 3 * 2^-8 rounds up.
  uint16_t bf[] = {0x3f80, 0x3f81}, bg[] = {0x3b80, 0x3b80};  // 1, 1 + 2^-7 plus 2^-8 each
  Reduce(bf, bg, 2, DataType::kBF16, ReduceOp::kSum);
  EXPECT_EQ(bf[0], 0x3f80);
  EXPECT_EQ(bf[1], 0x3f82);
  // f16: 65504 + 16 = 65520 is the tie to infinity; 2^-24 * 2^-1 underflows to +0.
  uint16_t hf[] = {0x7bff, 0x0001}, hg[] = {0x4c00, 0x3800};  // 65504, 2^-24; 16, 0.5
  Reduce(hf, hg, 1, DataType::kF16, ReduceOp::kSum);
  Reduce(hf + 1, hg + 1, 1, DataType::kF16, ReduceOp::kProd);
  EXPECT_EQ(hf[0], 0x7c00);
  EXPECT_EQ(hf[1], 0x0000);
  double d[] = {3.0, -0.0}, e[] = {-1.0, 0.0};
  Reduce(d, e, 2, DataType::kF64, ReduceOp::kMax);
  EXPECT_EQ(d[0], 3.0);
  EXPECT_TRUE(std::signbit(d[1]));  // ties keep the first operand
  double avg[] = {1.0}, other[] = {3.0};
  Reduce(avg, other, 1, DataType::kF64, ReduceOp::kAvg);
  Scale(avg, 1, DataType::kF64, 0.5);
  EXPECT_EQ(avg[0], 2.0);
  int32_t unchanged[] = {7};
  Scale(unchanged, 1, DataType::kI32, 0.5);
  EXPECT_EQ(unchanged[0], 7);
}

TEST(DispatchTest, PicksWidestAndRejectsUnknown) {
  ASSERT_TRUE(ForceIsa("auto"));
  const std::string_view best = ActiveIsa();
  EXPECT_TRUE(best == "avx512" || best == "avx2" || best == "portable") << best;
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    EXPECT_EQ(best, "avx512");
  }
  EXPECT_FALSE(ForceIsa("sse9"));
  EXPECT_EQ(ActiveIsa(), best);
  EXPECT_TRUE(ForceIsa("portable"));
  EXPECT_EQ(ActiveIsa(), "portable");
  EXPECT_TRUE(ForceIsa("auto"));
}

}  // namespace
}  // namespace cohort::kernels::testing
