// The multi-tensor CPU references (kernels/cpu/multi_tensor_reference.h) against plain scalar
// code written here: every supported cast and scale, pack/unpack through a fusion buffer with
// gaps, reduce-k for every float dtype and op, and the L2 norm with its non-finite flag.
// Inputs are unique per (tensor, index) where the dtype allows, outputs are poisoned first and
// compared byte for byte (so unwritten or overwritten bytes show), and pointers sit at odd byte
// addresses because the references promise not to need alignment.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/cpu/multi_tensor_reference.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace cohort::kernels::testing {
namespace {

constexpr double kScales[] = {1.0, 0.37, 0.125, -3.0};

// Element `g` of all the data a test makes: distinct for every g (odd integers times powers of
// two for f32/f64, a bijection of g for the 16-bit types), with NaNs (payloads, signalling),
// infinities, signed zeros, subnormals and rounding ties sprinkled in.
void FillUnique(std::mt19937_64& rng, DataType dtype, uint8_t* out, size_t count, size_t& g) {
  const size_t size = DataTypeSize(dtype);
  for (size_t i = 0; i < count; ++i, ++g) {
    const bool special = rng() % 64 == 0;
    uint64_t bits = 0;
    if (dtype == DataType::kF32) {
      static const uint32_t kSpecial[] = {0x7fc00001u, 0xffa00000u, 0x7f800001u, 0x7f800000u,
                                          0xff800000u, 0x80000000u, 0x00000001u, 0x807fffffu,
                                          0x477ff000u, 0x3f808000u, 0x3f818000u, 0x7f7fffffu};
      const float value = std::ldexp(static_cast<float>(2 * (g % (1 << 22)) + 1),
                                     static_cast<int>(rng() % 40) - 30) * (rng() % 2 ? 1 : -1);
      bits = special ? kSpecial[rng() % std::size(kSpecial)] : FloatBits(value);
    } else if (dtype == DataType::kF64) {
      static const uint64_t kSpecial[] = {0x7ff8000000000123ull, 0xfff0000000000000ull,
                                          0x7ff0000000000001ull, 0x8000000000000000ull,
                                          0x0000000000000001ull};
      const double value = std::ldexp(static_cast<double>(2 * g + 1),
                                      static_cast<int>(rng() % 600) - 300) * (rng() % 2 ? 1 : -1);
      if (special) {
        bits = kSpecial[rng() % std::size(kSpecial)];
      } else {
        std::memcpy(&bits, &value, 8);
      }
    } else if (size == 2) {
      bits = (g * 40503u + 12345u) & 0xffffu;  // odd multiplier: a bijection on 16 bits
    } else {
      bits = rng();
    }
    std::memcpy(out + i * size, &bits, size);
  }
}

// ---- scalar model of the contract (deliberately element by element, nothing shared) ----

// f32, f16 and bf16 widen to float (a float NaN keeps its bits, signalling or not); f64 stays
// double. The double overload is only for f64 and for exact sums of squares.
float ScalarWidenFloat(DataType dtype, const uint8_t* p) {
  uint16_t h;
  float f = 0;
  switch (dtype) {
    case DataType::kF32: std::memcpy(&f, p, 4); return f;
    case DataType::kF16: std::memcpy(&h, p, 2); return HalfBitsToFloat(h);
    case DataType::kBF16: std::memcpy(&h, p, 2); return BFloat16BitsToFloat(h);
    default: return f;
  }
}

double ScalarWiden(DataType dtype, const uint8_t* p) {
  if (dtype != DataType::kF64) return ScalarWidenFloat(dtype, p);
  double d;
  std::memcpy(&d, p, 8);
  return d;
}

void ScalarStore(DataType dtype, float f, uint8_t* p) {
  uint16_t h;
  switch (dtype) {
    case DataType::kF32: std::memcpy(p, &f, 4); return;
    case DataType::kF16: h = FloatToHalfBits(f); std::memcpy(p, &h, 2); return;
    case DataType::kBF16: h = FloatToBFloat16Bits(f); std::memcpy(p, &h, 2); return;
    default: return;
  }
}

void ScalarStore(DataType dtype, double d, uint8_t* p) {
  if (dtype == DataType::kF64) {
    std::memcpy(p, &d, 8);
  } else {
    ScalarStore(dtype, static_cast<float>(d), p);
  }
}

void ScalarCopy(DataType in, DataType out, double scale, const uint8_t* src, uint8_t* dst,
                size_t count) {
  const size_t in_size = DataTypeSize(in), out_size = DataTypeSize(out);
  for (size_t i = 0; i < count; ++i) {
    if (in == out && scale == 1.0) {
      std::memcpy(dst + i * out_size, src + i * in_size, in_size);
    } else if (in == DataType::kF64) {
      const double x = ScalarWiden(in, src + i * in_size);
      ScalarStore(out, std::isnan(x) ? x : x * scale, dst + i * out_size);
    } else {
      // The f32 product, then one rounding to the output type; NaN passes unscaled.
      const float x = ScalarWidenFloat(in, src + i * in_size);
      ScalarStore(out, std::isnan(x) ? x : x * static_cast<float>(scale), dst + i * out_size);
    }
  }
}

std::string Seed(uint64_t seed) { return "seed " + std::to_string(seed) + " (COHORT_TEST_SEED)"; }

struct CopyCase {
  DataType in, out;
};

const CopyCase kCopyCases[] = {
    {DataType::kF32, DataType::kF32},   {DataType::kF32, DataType::kBF16},
    {DataType::kF32, DataType::kF16},   {DataType::kBF16, DataType::kF32},
    {DataType::kF16, DataType::kF32},   {DataType::kBF16, DataType::kBF16},
    {DataType::kF16, DataType::kF16},   {DataType::kF16, DataType::kBF16},
    {DataType::kBF16, DataType::kF16},  {DataType::kF64, DataType::kF64},
};

// Segments of many sizes at odd byte offsets inside one source and one destination arena,
// with poisoned guard bytes between destinations.
TEST(MultiTensorReference, CopyMatchesScalarForEveryCastAndScale) {
  const size_t kSizes[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 1000, 16384, 16387, 40000};
  for (const CopyCase& c : kCopyCases) {
    for (double scale : kScales) {
      const uint64_t seed = BaseSeed() + static_cast<uint64_t>(c.in) * 131 + static_cast<uint64_t>(c.out) * 7 +
                            static_cast<uint64_t>(scale * 100);
      SCOPED_TRACE(std::string(DataTypeName(c.in)) + " -> " + std::string(DataTypeName(c.out)) +
                   " scale " + std::to_string(scale) + ", " + Seed(seed));
      std::mt19937_64 rng(seed);
      const size_t in_size = DataTypeSize(c.in), out_size = DataTypeSize(c.out);
      std::vector<uint8_t> src(1 << 20), actual(1 << 20, 0xff), expected(1 << 20, 0xff);
      std::vector<CopySegment> segments, expected_segments;
      size_t src_at = 3, dst_at = 5, g = 0;  // odd: nothing is even element-aligned
      for (size_t count : kSizes) {
        FillUnique(rng, c.in, src.data() + src_at, count, g);
        segments.push_back({src.data() + src_at, actual.data() + dst_at, count});
        expected_segments.push_back({src.data() + src_at, expected.data() + dst_at, count});
        src_at += count * in_size + 1 + rng() % 7;
        dst_at += count * out_size + 1 + rng() % 7;  // gaps that must stay poisoned
      }
      ASSERT_LT(std::max(src_at, dst_at), src.size());
      ASSERT_TRUE(reference::MultiTensorCopy(segments, c.in, c.out, scale).ok());
      for (const CopySegment& s : expected_segments) {
        ScalarCopy(c.in, c.out, scale, static_cast<const uint8_t*>(s.src),
                   static_cast<uint8_t*>(s.dst), s.count);
      }
      ASSERT_EQ(std::memcmp(actual.data(), expected.data(), actual.size()), 0)
          << CompareElements(DataType::kU8, ReduceOp::kMax, expected.data(), actual.data(),
                             actual.size());
    }
  }
}

TEST(MultiTensorReference, SameTypeCopyIsBitwiseForEveryDtype) {
  for (DataType dtype : kAllDataTypes) {
    std::mt19937_64 rng(BaseSeed());
    std::vector<uint8_t> src(1001 * 8 + 1), dst(src.size(), 0xff);
    size_t g = 0;
    FillUnique(rng, dtype, src.data() + 1, 1001, g);
    const CopySegment segment{src.data() + 1, dst.data() + 1, 1001};
    ASSERT_TRUE(reference::MultiTensorCopy({&segment, 1}, dtype, dtype, 1.0).ok());
    EXPECT_EQ(std::memcmp(src.data() + 1, dst.data() + 1, 1001 * DataTypeSize(dtype)), 0)
        << DataTypeName(dtype);
  }
}

TEST(MultiTensorReference, RefusesUnsupportedCopies) {
  std::vector<uint8_t> a(64), b(64);
  const CopySegment segment{a.data(), b.data(), 4};
  EXPECT_EQ(reference::MultiTensorCopy({&segment, 1}, DataType::kI32, DataType::kF32, 1.0).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(reference::MultiTensorCopy({&segment, 1}, DataType::kI32, DataType::kI32, 2.0).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(reference::MultiTensorCopy({&segment, 1}, DataType::kF64, DataType::kF32, 1.0).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(reference::MultiTensorCopy({&segment, 1}, DataType::kF32, DataType::kF32, NAN).code(),
            StatusCode::kInvalidArgument);
  const CopySegment null_segment{nullptr, b.data(), 4};
  EXPECT_EQ(reference::MultiTensorCopy({&null_segment, 1}, DataType::kF32, DataType::kF32, 1.0).code(),
            StatusCode::kInvalidArgument);
}

// 300 tensors (some empty) packed into a buffer with gaps, then unpacked into fresh tensors.
TEST(MultiTensorReference, PackThenUnpackThroughAFusionBuffer) {
  for (const CopyCase& c : kCopyCases) {
    const uint64_t seed = BaseSeed() + 17 * static_cast<uint64_t>(c.in) + static_cast<uint64_t>(c.out);
    SCOPED_TRACE(std::string(DataTypeName(c.in)) + " tensors, " + std::string(DataTypeName(c.out)) +
                 " buffer, " + Seed(seed));
    std::mt19937_64 rng(seed);
    const size_t in_size = DataTypeSize(c.in), out_size = DataTypeSize(c.out);
    std::vector<std::vector<uint8_t>> tensors(300);
    std::vector<FusionEntry> entries;
    size_t offset = 1, g = 0;
    for (auto& tensor : tensors) {
      const size_t count = rng() % 10 == 0 ? 0 : static_cast<size_t>(std::exp2(std::uniform_real_distribution<double>(0, 14)(rng)));
      tensor.resize(count * in_size + 1);
      FillUnique(rng, c.in, tensor.data() + 1, count, g);
      entries.push_back({tensor.data() + 1, count, offset});
      offset += count + rng() % 3;
    }
    const size_t buffer_count = offset + 5;
    std::vector<uint8_t> buffer(buffer_count * out_size + 1, 0xff), expected = buffer;
    ASSERT_TRUE(reference::PackFusionBuffer(entries, c.in, buffer.data() + 1, buffer_count, c.out, 0.5).ok());
    for (const FusionEntry& e : entries) {
      ScalarCopy(c.in, c.out, 0.5, static_cast<const uint8_t*>(e.tensor),
                 expected.data() + 1 + e.offset * out_size, e.count);
    }
    ASSERT_EQ(std::memcmp(buffer.data(), expected.data(), buffer.size()), 0);

    std::vector<std::vector<uint8_t>> back(tensors.size()), back_expected(tensors.size());
    std::vector<FusionEntry> back_entries = entries;
    for (size_t t = 0; t < tensors.size(); ++t) {
      back[t].assign(tensors[t].size() + 2, 0xff);
      back_expected[t] = back[t];
      back_entries[t].tensor = back[t].data() + 1;
      ScalarCopy(c.out, c.in, 2.0, buffer.data() + 1 + entries[t].offset * out_size,
                 back_expected[t].data() + 1, entries[t].count);
    }
    ASSERT_TRUE(reference::UnpackFusionBuffer(buffer.data() + 1, buffer_count, c.out, back_entries, c.in, 2.0).ok());
    for (size_t t = 0; t < tensors.size(); ++t) ASSERT_EQ(back[t], back_expected[t]) << "tensor " << t;
  }
}

TEST(MultiTensorReference, PackRefusesEntriesPastTheBuffer) {
  std::vector<float> tensor(10), buffer(16);
  const FusionEntry inside{tensor.data(), 10, 6}, outside{tensor.data(), 10, 7};
  EXPECT_TRUE(reference::PackFusionBuffer({&inside, 1}, DataType::kF32, buffer.data(), 16, DataType::kF32, 1.0).ok());
  const Status status = reference::PackFusionBuffer({&outside, 1}, DataType::kF32, buffer.data(), 16, DataType::kF32, 1.0);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("16 elements"), std::string::npos) << status.message();
  const FusionEntry huge{tensor.data(), SIZE_MAX, 1};
  EXPECT_EQ(reference::UnpackFusionBuffer(buffer.data(), 16, DataType::kF32, {&huge, 1}, DataType::kF32, 1.0).code(),
            StatusCode::kInvalidArgument);
}

// ---- reduce-k ----

template <typename C>
C ScalarReduceOne(DataType dtype, ReduceOp op, const std::vector<const uint8_t*>& srcs, size_t i) {
  const size_t size = DataTypeSize(dtype);
  const auto widen = [&](size_t j) -> C {
    if constexpr (std::is_same_v<C, double>) {
      return ScalarWiden(dtype, srcs[j] + i * size);
    } else {
      return ScalarWidenFloat(dtype, srcs[j] + i * size);
    }
  };
  C acc = widen(0);
  for (size_t j = 1; j < srcs.size(); ++j) {
    const C x = widen(j);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg: acc = acc + x; break;
      case ReduceOp::kProd: acc = acc * x; break;
      case ReduceOp::kMin: acc = std::isnan(acc) ? acc : std::isnan(x) ? x : (x < acc ? x : acc); break;
      case ReduceOp::kMax: acc = std::isnan(acc) ? acc : std::isnan(x) ? x : (x > acc ? x : acc); break;
    }
  }
  return op == ReduceOp::kAvg ? acc / static_cast<C>(srcs.size()) : acc;
}

void ScalarReduceK(DataType dtype, ReduceOp op, const std::vector<const uint8_t*>& srcs,
                   size_t count, uint8_t* dst) {
  const size_t size = DataTypeSize(dtype);
  for (size_t i = 0; i < count; ++i) {
    if (dtype == DataType::kF64) {
      ScalarStore(dtype, ScalarReduceOne<double>(dtype, op, srcs, i), dst + i * size);
    } else {
      ScalarStore(dtype, ScalarReduceOne<float>(dtype, op, srcs, i), dst + i * size);
    }
  }
}

TEST(MultiTensorReference, ReduceKMatchesScalarForEveryDtypeAndOp) {
  const DataType kFloats[] = {DataType::kF32, DataType::kF64, DataType::kF16, DataType::kBF16};
  for (DataType dtype : kFloats) {
    for (ReduceOp op : kAllReduceOps) {
      for (size_t k : {1, 2, 3, 5, 16}) {
        const uint64_t seed = BaseSeed() + static_cast<uint64_t>(dtype) * 1000 + static_cast<uint64_t>(op) * 100 + k;
        SCOPED_TRACE(std::string(DataTypeName(dtype)) + " " + std::string(ReduceOpName(op)) +
                     " k=" + std::to_string(k) + ", " + Seed(seed));
        std::mt19937_64 rng(seed);
        const size_t count = 2500 + rng() % 100, size = DataTypeSize(dtype);
        std::vector<std::vector<uint8_t>> srcs(k, std::vector<uint8_t>(count * size + 1));
        std::vector<const void*> pointers;
        std::vector<const uint8_t*> scalar_pointers;
        size_t g = 0;
        for (auto& src : srcs) {
          FillRandom(rng, dtype, src.data() + 1, count);  // random bits: NaNs, infinities, ties
          if (rng() % 2) FillUnique(rng, dtype, src.data() + 1, count, g);
          pointers.push_back(src.data() + 1);
          scalar_pointers.push_back(src.data() + 1);
        }
        std::vector<uint8_t> actual(count * size + 2, 0xff), expected(actual);
        ASSERT_TRUE(reference::ReduceK(actual.data() + 1, pointers, count, dtype, op).ok());
        ScalarReduceK(dtype, op, scalar_pointers, count, expected.data() + 1);
        ASSERT_EQ(actual[0], 0xff);
        ASSERT_EQ(actual.back(), 0xff);
        ASSERT_EQ(CompareElements(dtype, op, expected.data() + 1, actual.data() + 1, count), "");

        // In place: dst aliases source 0, then the last source.
        for (size_t alias : {size_t{0}, k - 1}) {
          std::vector<uint8_t> saved = srcs[alias];
          pointers[alias] = srcs[alias].data() + 1;
          ASSERT_TRUE(reference::ReduceK(srcs[alias].data() + 1, pointers, count, dtype, op).ok());
          ASSERT_EQ(CompareElements(dtype, op, expected.data() + 1, srcs[alias].data() + 1, count), "")
              << "dst aliasing source " << alias;
          srcs[alias] = saved;
        }
      }
    }
  }
}

TEST(MultiTensorReference, ReduceKRefusesBadArguments) {
  std::vector<float> a(4), b(4);
  std::vector<const void*> none, many(17, a.data()), one{a.data()};
  EXPECT_EQ(reference::ReduceK(b.data(), none, 4, DataType::kF32, ReduceOp::kSum).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reference::ReduceK(b.data(), many, 4, DataType::kF32, ReduceOp::kSum).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reference::ReduceK(b.data(), one, 4, DataType::kI32, ReduceOp::kSum).code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(reference::ReduceK(b.data(), one, 0, DataType::kF32, ReduceOp::kSum).ok());
}

// ---- L2 norm ----

// The one tolerance rule for norms: relative to the expected value, by accumulation type (f32
// sums of 16384 squares in another order differ by a few 1e-7; f64 by ~1e-15).
void ExpectNormNear(double expected, double actual, DataType accum_dtype, const std::string& what) {
  const double tolerance = accum_dtype == DataType::kF64 ? 1e-12 : 1e-5;
  EXPECT_LE(std::fabs(actual - expected), tolerance * std::fabs(expected)) << what << ": expected "
      << expected << ", got " << actual;
}

struct NormInputs {
  std::vector<std::vector<uint8_t>> storage;
  std::vector<NormTensor> tensors;
  std::vector<double> sums;  // exact enough: long double accumulation of each tensor's squares
};

NormInputs MakeNormInputs(std::mt19937_64& rng, DataType dtype, size_t tensors) {
  NormInputs in;
  in.storage.resize(tensors);
  const size_t size = DataTypeSize(dtype);
  for (auto& bytes : in.storage) {
    const size_t count = rng() % 8 == 0 ? 0 : static_cast<size_t>(std::exp2(std::uniform_real_distribution<double>(0, 16)(rng)));
    bytes.resize(count * size + 1);
    long double sum = 0;
    for (size_t i = 0; i < count; ++i) {
      const double value = std::uniform_real_distribution<double>(-8, 8)(rng);
      ScalarStore(dtype, value, bytes.data() + 1 + i * size);
      const long double stored = ScalarWiden(dtype, bytes.data() + 1 + i * size);
      sum += stored * stored;
    }
    in.tensors.push_back({bytes.data() + 1, count});
    in.sums.push_back(static_cast<double>(sum));
  }
  return in;
}

TEST(MultiTensorReference, L2NormMatchesScalarForEveryDtypeAndAccumulation) {
  const DataType kFloats[] = {DataType::kF32, DataType::kF64, DataType::kF16, DataType::kBF16};
  for (DataType dtype : kFloats) {
    for (DataType accum : {DataType::kF32, DataType::kF64}) {
      const uint64_t seed = BaseSeed() + 10 * static_cast<uint64_t>(dtype) + static_cast<uint64_t>(accum);
      SCOPED_TRACE(std::string(DataTypeName(dtype)) + " accumulated in " + std::string(DataTypeName(accum)) + ", " + Seed(seed));
      std::mt19937_64 rng(seed);
      NormInputs in = MakeNormInputs(rng, dtype, 60);
      std::vector<float> per_tensor(in.tensors.size() + 1, NAN);
      auto result = reference::MultiTensorL2Norm(in.tensors, dtype, accum, per_tensor.data());
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      double total = 0;
      for (size_t t = 0; t < in.tensors.size(); ++t) {
        total += in.sums[t];
        // Per-tensor norms are floats: compare within float rounding as well.
        const double want = std::sqrt(in.sums[t]);
        EXPECT_LE(std::fabs(per_tensor[t] - want), 1e-5 * want + 1e-30) << "tensor " << t;
      }
      EXPECT_TRUE(std::isnan(per_tensor.back())) << "wrote past the per-tensor norms";
      ExpectNormNear(total, result->sum_of_squares, accum, "sum of squares");
      ExpectNormNear(std::sqrt(total), result->norm, accum, "norm");
      EXPECT_EQ(result->non_finite, 0u);
    }
  }
}

TEST(MultiTensorReference, L2NormFlagsNaNAndInfButNotOverflow) {
  std::vector<float> finite(100, 1.0f), with_nan(100, 1.0f), with_inf(100, 1.0f), huge(100, 1e30f);
  with_nan[57] = NAN;
  with_inf[99] = -INFINITY;
  const auto norm = [](std::vector<std::vector<float>*> tensors, DataType accum) {
    std::vector<NormTensor> list;
    for (auto* t : tensors) list.push_back({t->data(), t->size()});
    return reference::MultiTensorL2Norm(list, DataType::kF32, accum, nullptr).value();
  };
  EXPECT_EQ(norm({&finite}, DataType::kF32).non_finite, 0u);
  EXPECT_DOUBLE_EQ(norm({&finite}, DataType::kF32).norm, 10.0);
  const L2NormResult nan = norm({&finite, &with_nan}, DataType::kF32);
  EXPECT_EQ(nan.non_finite, 1u);
  EXPECT_TRUE(std::isnan(nan.norm));
  const L2NormResult inf = norm({&with_inf, &finite}, DataType::kF64);
  EXPECT_EQ(inf.non_finite, 1u);
  EXPECT_TRUE(std::isinf(inf.norm));
  // 1e30^2 overflows f32 but the inputs are finite: an infinite norm without the flag; f64
  // accumulation keeps it finite.
  EXPECT_TRUE(std::isinf(norm({&huge}, DataType::kF32).norm));
  EXPECT_EQ(norm({&huge}, DataType::kF32).non_finite, 0u);
  const double huge_norm = 10.0 * static_cast<double>(1e30f);
  EXPECT_NEAR(norm({&huge}, DataType::kF64).norm, huge_norm, huge_norm * 1e-12);
}

TEST(MultiTensorReference, L2NormOfNothingIsZero) {
  const std::vector<NormTensor> none;
  auto empty_list = reference::MultiTensorL2Norm(none, DataType::kBF16, DataType::kF32, nullptr);
  ASSERT_TRUE(empty_list.ok());
  EXPECT_EQ(empty_list->norm, 0.0);
  const std::vector<NormTensor> empties(3);
  std::vector<float> per_tensor(3, NAN);
  auto empty_tensors = reference::MultiTensorL2Norm(empties, DataType::kF16, DataType::kF64, per_tensor.data());
  ASSERT_TRUE(empty_tensors.ok());
  EXPECT_EQ(empty_tensors->norm, 0.0);
  EXPECT_EQ(per_tensor, std::vector<float>(3, 0.0f));
  EXPECT_EQ(reference::MultiTensorL2Norm(none, DataType::kI32, DataType::kF32, nullptr).status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(reference::MultiTensorL2Norm(none, DataType::kF32, DataType::kF16, nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::kernels::testing
