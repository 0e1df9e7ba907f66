// Expected outputs of every collective, checked against an in-process simulation of each
// collective over the ranks' actual input buffers.
#include "benchmarks/cohort_bench/expected.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace cohort::bench {
namespace {

using Bytes = std::vector<unsigned char>;

// Every rank's input, as FillCheckInput writes it.
std::vector<Bytes> Inputs(CheckCase c) {
  std::vector<Bytes> inputs;
  for (int r = 0; r < c.nranks; ++r) {
    c.rank = r;
    inputs.emplace_back(InputCount(c) * DataTypeSize(c.dtype));
    FillCheckInput(c, inputs.back().data());
  }
  return inputs;
}

// Sum (or avg) over ranks of element `at` of the actual input buffers.
RawElement Reduce(const CheckCase& c, const std::vector<Bytes>& in, size_t at) {
  double real = 0;
  uint64_t integer = 0;
  for (const Bytes& input : in) {
    const RawElement v = LoadElement(input.data(), at, c.dtype);
    real += ToDouble(v, c.dtype);
    integer += static_cast<uint64_t>(ToInt64(v, c.dtype));
  }
  if (c.op == ReduceOp::kAvg) real /= c.nranks;
  return IsFloatingPoint(c.dtype) ? FromDouble(real, c.dtype)
                                  : FromInt64(static_cast<int64_t>(integer), c.dtype);
}

// What rank `rank` should hold after the collective, moved block by block from the inputs.
Bytes Simulate(CheckCase c, const std::vector<Bytes>& in) {
  const size_t es = DataTypeSize(c.dtype);
  Bytes out(OutputCount(c) * es);
  auto copy = [&](size_t dst, int from, size_t src) {
    std::memcpy(&out[dst * es], &in[static_cast<size_t>(from)][src * es], es);
  };
  for (size_t i = 0; i < OutputCount(c); ++i) {
    const size_t block = i / (c.count ? c.count : 1), within = i % (c.count ? c.count : 1);
    switch (c.kind) {
      case CollectiveKind::kAllreduce:
      case CollectiveKind::kReduce: StoreElement(out.data(), i, c.dtype, Reduce(c, in, i)); break;
      case CollectiveKind::kReduceScatter:
        StoreElement(out.data(), i, c.dtype, Reduce(c, in, static_cast<size_t>(c.rank) * c.count + i));
        break;
      case CollectiveKind::kAllgather: copy(i, static_cast<int>(block), within); break;
      case CollectiveKind::kBroadcast: copy(i, c.root, i); break;
      case CollectiveKind::kAlltoall:
        copy(i, static_cast<int>(block), static_cast<size_t>(c.rank) * c.count + within);
        break;
      default: break;
    }
  }
  return out;
}

TEST(Expected, SimulatedCollectivesPassAndCorruptionIsCaught) {
  const CollectiveKind kinds[] = {CollectiveKind::kAllreduce, CollectiveKind::kReduceScatter,
                                  CollectiveKind::kAllgather, CollectiveKind::kBroadcast,
                                  CollectiveKind::kReduce, CollectiveKind::kAlltoall};
  for (CollectiveKind kind : kinds) {
    for (DataType dtype : {DataType::kF16, DataType::kI32, DataType::kF64}) {
      for (int nranks : {1, 3, 4}) {
        CheckCase c{kind, dtype, ReduceOp::kSum, nranks - 1, 0, nranks, 13, 99};
        const std::vector<Bytes> in = Inputs(c);
        for (int r = 0; r < nranks; ++r) {
          c.rank = r;
          Bytes out = Simulate(c, in);
          EXPECT_EQ(CheckOutput(c, out.data()).wrong, 0u) << CollectiveName(kind) << " rank " << r;
          EXPECT_EQ(CheckInputUnchanged(c, in[static_cast<size_t>(r)].data()).wrong, 0u);
          if (kind == CollectiveKind::kReduce && r != c.root) continue;  // unspecified there
          // A wrong element is counted and located.
          StoreElement(out.data(), 5, dtype, LoadElement(out.data(), 5, dtype) ^ 0x10);
          const Mismatch m = CheckOutput(c, out.data());
          EXPECT_EQ(m.wrong, 1u) << CollectiveName(kind);
          EXPECT_EQ(m.first_index, 5u);
          EXPECT_NE(DescribeMismatch(m, dtype).find("index 5: got"), std::string::npos);
        }
      }
    }
  }
}

TEST(Expected, SwappedBlocksAreCaught) {
  CheckCase c{CollectiveKind::kAllgather, DataType::kF32, ReduceOp::kSum, 0, 1, 3, 100, 5};
  const std::vector<Bytes> in = Inputs(c);
  Bytes out = Simulate(c, in);
  std::swap_ranges(out.begin(), out.begin() + 400, out.begin() + 400);
  EXPECT_GT(CheckOutput(c, out.data()).wrong, 150u);
}

TEST(Expected, AvgUsesToleranceOthersExact) {
  CheckCase c{CollectiveKind::kAllreduce, DataType::kF32, ReduceOp::kAvg, 0, 0, 3, 50, 1};
  const std::vector<Bytes> in = Inputs(c);
  Bytes out = Simulate(c, in);
  // Off by one ulp: accepted for avg only.
  for (size_t i = 0; i < 50; ++i) {
    const RawElement e = LoadElement(out.data(), i, c.dtype);
    if (ToDouble(e, c.dtype) != 0) StoreElement(out.data(), i, c.dtype, e + 1);
  }
  EXPECT_EQ(CheckOutput(c, out.data()).wrong, 0u);
  c.op = ReduceOp::kSum;
  EXPECT_GT(CheckOutput(c, out.data()).wrong, 0u);
}

}  // namespace
}  // namespace cohort::bench
