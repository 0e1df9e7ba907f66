// f16/bf16 <-> f32 conversions on every ISA: exhaustive round trips over all 65536 patterns,
// random f32 inputs against an independent rounding oracle, and the tie, overflow and NaN cases.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/reference.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace cohort::kernels::testing {
namespace {

// Rounds x to a format with `mantissa_bits` stored bits, minimum normal exponent `min_exponent`
// and overflow threshold 2^max_exponent_plus_one, in double arithmetic (exact for f32 inputs).
double OracleRound(float x, int mantissa_bits, int min_exponent, int max_exponent_plus_one) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  int exponent = std::ilogb(x);
  if (exponent < min_exponent) exponent = min_exponent;
  const double unit = std::ldexp(1.0, exponent - mantissa_bits);
  const double rounded = std::nearbyint(static_cast<double>(x) / unit) * unit;  // ties to even
  if (std::fabs(rounded) >= std::ldexp(1.0, max_exponent_plus_one)) return std::copysign(INFINITY, x);
  return rounded == 0 ? std::copysign(0.0, x) : rounded;
}

bool SameValue(double want, float got) {
  if (std::isnan(want)) return std::isnan(got);
  return want == got && std::signbit(want) == std::signbit(got);
}

std::vector<uint16_t> AllPatterns() {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  return all;
}

// Random f32 bit patterns plus values near every f16/bf16 boundary.
std::vector<float> InterestingFloats(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> values;
  for (int i = 0; i < (1 << 18); ++i) values.push_back(FloatFromBits(static_cast<uint32_t>(rng())));
  for (int i = 0; i < (1 << 16); ++i) {
    // Concentrated on f16's range, where its rounding has the most cases.
    const float mag = std::ldexp(std::uniform_real_distribution<float>(1, 2)(rng), static_cast<int>(rng() % 48) - 32);
    values.push_back(rng() % 2 ? mag : -mag);
  }
  for (float v : {65504.0f, 65519.99f, 65520.0f, 65536.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f,
                  0x1.ffcp-15f, 0x1.ffep-15f, 3.4028235e38f, 0x1p-126f, 0x1p-149f, 0x1.fep-127f}) {
    values.push_back(v);
    values.push_back(-v);
  }
  return values;
}

TEST_P(IsaTest, HalfRoundTripsEveryPattern) {
  const std::vector<uint16_t> all = AllPatterns();
  std::vector<float> widened(all.size()), expected(all.size());
  HalfToFloat(widened.data(), all.data(), all.size());
  reference::HalfToFloat(expected.data(), all.data(), all.size());
  ASSERT_EQ(std::memcmp(widened.data(), expected.data(), widened.size() * 4), 0);
  std::vector<uint16_t> back(all.size());
  FloatToHalf(back.data(), widened.data(), widened.size());
  for (uint32_t h = 0; h < 65536; ++h) {
    const bool nan = (h & 0x7fff) > 0x7c00;
    ASSERT_EQ(back[h], nan ? (h | 0x200) : h) << "pattern " << h;
    // Independent value check: (1024 + m) * 2^(e - 25), or m * 2^-24 for subnormals.
    const uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const float v = widened[h];
    if (e == 0x1f) {
      ASSERT_TRUE(m ? std::isnan(v) : std::isinf(v)) << h;
      if (m) {
        ASSERT_EQ(FloatBits(v) & 0x400000u, 0x400000u) << "quiet NaN for " << h;
      }
    } else {
      const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, static_cast<int>(e) - 25);
      ASSERT_EQ(static_cast<double>(v), (h & 0x8000) ? -mag : mag) << h;
    }
  }
}

TEST_P(IsaTest, BFloat16RoundTripsEveryPattern) {
  const std::vector<uint16_t> all = AllPatterns();
  std::vector<float> widened(all.size());
  BFloat16ToFloat(widened.data(), all.data(), all.size());
  std::vector<uint16_t> back(all.size());
  FloatToBFloat16(back.data(), widened.data(), widened.size());
  for (uint32_t h = 0; h < 65536; ++h) {
    const bool nan = (h & 0x7fff) > 0x7f80;
    ASSERT_EQ(FloatBits(widened[h]), nan ? ((h << 16) | 0x400000u) : (h << 16)) << "pattern " << h;
    ASSERT_EQ(back[h], nan ? (h | 0x40) : h) << "pattern " << h;
  }
}

TEST_P(IsaTest, NarrowingMatchesOracle) {
  const std::vector<float> values = InterestingFloats(BaseSeed());
  std::vector<uint16_t> half(values.size()), bf16(values.size()), half_ref(values.size()), bf16_ref(values.size());
  FloatToHalf(half.data(), values.data(), values.size());
  FloatToBFloat16(bf16.data(), values.data(), values.size());
  reference::FloatToHalf(half_ref.data(), values.data(), values.size());
  reference::FloatToBFloat16(bf16_ref.data(), values.data(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float x = values[i];
    ASSERT_EQ(half[i], half_ref[i]) << "f16 of " << std::hexfloat << x << " seed " << BaseSeed();
    ASSERT_EQ(bf16[i], bf16_ref[i]) << "bf16 of " << std::hexfloat << x << " seed " << BaseSeed();
    ASSERT_TRUE(SameValue(OracleRound(x, 10, -14, 16), HalfBitsToFloat(half[i]))) << std::hexfloat << x;
    ASSERT_TRUE(SameValue(OracleRound(x, 7, -126, 128), BFloat16BitsToFloat(bf16[i]))) << std::hexfloat << x;
    if (std::isnan(x)) {
      ASSERT_EQ(half[i], ((FloatBits(x) >> 16) & 0x8000) | 0x7e00 | ((FloatBits(x) >> 13) & 0x3ff));
      ASSERT_EQ(bf16[i], (FloatBits(x) >> 16) | 0x40);
    }
  }
}

TEST_P(IsaTest, RoundsTiesToEven) {
  struct Case {
    uint32_t f32;
    uint16_t bf16;
  };
  const Case kBFloat16Cases[] = {
      {0x3f808000, 0x3f80},  // 1 + half an ulp: tie, keep even 1
      {0x3f818000, 0x3f82},  // odd lsb: tie rounds up
      {0x3f808001, 0x3f81},  // just above the tie
      {0x3f807fff, 0x3f80},  // just below
      {0xbf818000, 0xbf82},  // negative ties the same way
      {0x7f7fffff, 0x7f80},  // largest f32 overflows to inf
      {0x00018000, 0x0002},  // subnormal tie with odd lsb
      {0x7f800001, 0x7fc0},  // signalling NaN comes back quiet
  };
  for (const Case& c : kBFloat16Cases) {
    const float x = FloatFromBits(c.f32);
    uint16_t out = 0;
    FloatToBFloat16(&out, &x, 1);
    EXPECT_EQ(out, c.bf16) << std::hex << c.f32;
  }
  struct HalfCase {
    float f32;
    uint16_t f16;
  };
  const HalfCase kHalfCases[] = {
      {1.0f + 0x1p-11f, 0x3c00},         // tie, keep even 1
      {1.0f + 3 * 0x1p-11f, 0x3c02},     // tie, odd lsb rounds up
      {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},
      {65519.996f, 0x7bff},              // below the overflow tie
      {65520.0f, 0x7c00},                // the tie overflows to inf
      {-65520.0f, 0xfc00},
      {0x1p-25f, 0x0000},                // half the smallest subnormal: tie to even zero
      {0x1.8p-24f, 0x0002},              // 1.5 units: tie, odd lsb rounds up to 2
      {0x1.4p-24f, 0x0001},              // 1.25 units rounds down
      {0x1.ffep-15f, 0x0400},            // largest subnormal's tie rounds up into the normals
      {-0.0f, 0x8000},
  };
  for (const HalfCase& c : kHalfCases) {
    uint16_t out = 0;
    FloatToHalf(&out, &c.f32, 1);
    EXPECT_EQ(out, c.f16) << std::hexfloat << c.f32;
  }
}

// Conversions with every tail length and misaligned pointers.
TEST_P(IsaTest, ConversionsHandleTailsAndMisalignment) {
  std::mt19937_64 rng(BaseSeed());
  for (size_t count : {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 100}) {
    for (size_t offset : {0, 1, 3}) {
      std::vector<char> src16(count * 2 + 8), src32(count * 4 + 8), out16(count * 2 + 8, 0x5a),
          out32(count * 4 + 8, 0x5a), ref16(count * 2), ref32(count * 4);
      FillRandom(rng, DataType::kF16, src16.data() + offset, count);
      FillRandom(rng, DataType::kF32, src32.data() + offset, count);
      const auto* in16 = reinterpret_cast<const uint16_t*>(src16.data() + offset);
      const auto* in32 = reinterpret_cast<const float*>(src32.data() + offset);
      auto* o16 = reinterpret_cast<uint16_t*>(out16.data() + offset);
      auto* o32 = reinterpret_cast<float*>(out32.data() + offset);
      auto* r16 = reinterpret_cast<uint16_t*>(ref16.data());
      auto* r32 = reinterpret_cast<float*>(ref32.data());
      auto check = [&](const char* what, const void* want, const char* got, size_t bytes, const std::vector<char>& buf) {
        EXPECT_TRUE(bytes == 0 || std::memcmp(want, got + offset, bytes) == 0) << what << " count " << count << " offset " << offset;
        for (size_t i = offset + bytes; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0x5a) << what << " overran";
      };
      HalfToFloat(o32, in16, count);
      reference::HalfToFloat(r32, in16, count);
      check("HalfToFloat", r32, out32.data(), count * 4, out32);
      BFloat16ToFloat(o32, in16, count);
      reference::BFloat16ToFloat(r32, in16, count);
      check("BFloat16ToFloat", r32, out32.data(), count * 4, out32);
      FloatToHalf(o16, in32, count);
      reference::FloatToHalf(r16, in32, count);
      check("FloatToHalf", r16, out16.data(), count * 2, out16);
      FloatToBFloat16(o16, in32, count);
      reference::FloatToBFloat16(r16, in32, count);
      check("FloatToBFloat16", r16, out16.data(), count * 2, out16);
    }
  }
}

}  // namespace
}  // namespace cohort::kernels::testing
