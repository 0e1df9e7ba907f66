// Sizes, counts and bandwidth factors as nccl-tests computes them.
#include "benchmarks/cohort_bench/bench_math.h"

#include <gtest/gtest.h>

namespace cohort::bench {
namespace {

TEST(SizeList, FactorAndStep) {
  EXPECT_EQ(SizeList(8, 128, 2, 0), (std::vector<size_t>{8, 16, 32, 64, 128}));
  EXPECT_EQ(SizeList(8, 100, 4, 0), (std::vector<size_t>{8, 32}));
  EXPECT_EQ(SizeList(1000, 3500, 1, 1000), (std::vector<size_t>{1000, 2000, 3000}));
  EXPECT_EQ(SizeList(64, 64, 1, 0), (std::vector<size_t>{64}));
  EXPECT_EQ(SizeList(0, 100, 2, 0), (std::vector<size_t>{0}));  // no endless loop
  EXPECT_EQ(SizeList(8, 64u << 20, 4, 0).size(), 12u);          // 8 B .. 32 MiB
}

TEST(LayoutFor, FollowsNcclTests) {
  // allreduce: the whole size, in and out.
  BufferLayout l = LayoutFor(CollectiveKind::kAllreduce, 1024, 4, 4);
  EXPECT_EQ(l.count, 256u);
  EXPECT_EQ(l.send_count, 256u);
  EXPECT_EQ(l.recv_count, 256u);
  EXPECT_EQ(l.bytes, 1024u);
  // allgather: count per rank; the output is the size.
  l = LayoutFor(CollectiveKind::kAllgather, 1024, 4, 3);
  EXPECT_EQ(l.count, 85u);
  EXPECT_EQ(l.send_count, 85u);
  EXPECT_EQ(l.recv_count, 255u);
  EXPECT_EQ(l.send_inplace_offset, 85u);
  EXPECT_EQ(l.recv_inplace_offset, 0u);
  EXPECT_EQ(l.bytes, 1020u);
  // reduce_scatter: count per rank; the input is the size.
  l = LayoutFor(CollectiveKind::kReduceScatter, 1024, 2, 4);
  EXPECT_EQ(l.count, 128u);
  EXPECT_EQ(l.send_count, 512u);
  EXPECT_EQ(l.recv_count, 128u);
  EXPECT_EQ(l.recv_inplace_offset, 128u);
  EXPECT_EQ(l.bytes, 1024u);
  // alltoall: count per peer.
  l = LayoutFor(CollectiveKind::kAlltoall, 800, 8, 4);
  EXPECT_EQ(l.count, 25u);
  EXPECT_EQ(l.send_count, 100u);
  EXPECT_EQ(l.recv_count, 100u);
  // Too small to give every rank an element.
  l = LayoutFor(CollectiveKind::kAllgather, 8, 4, 4);
  EXPECT_EQ(l.count, 0u);
  EXPECT_EQ(l.bytes, 0u);
}

TEST(BusBwFactor, NcclTestsDefinitions) {
  EXPECT_DOUBLE_EQ(BusBwFactor(CollectiveKind::kAllreduce, 4), 1.5);
  EXPECT_DOUBLE_EQ(BusBwFactor(CollectiveKind::kAllreduce, 1), 0.0);
  EXPECT_DOUBLE_EQ(BusBwFactor(CollectiveKind::kReduceScatter, 4), 0.75);
  EXPECT_DOUBLE_EQ(BusBwFactor(CollectiveKind::kAllgather, 8), 0.875);
  EXPECT_DOUBLE_EQ(BusBwFactor(CollectiveKind::kAlltoall, 2), 0.5);
  EXPECT_DOUBLE_EQ(BusBwFactor(CollectiveKind::kBroadcast, 8), 1.0);
  EXPECT_DOUBLE_EQ(BusBwFactor(CollectiveKind::kReduce, 8), 1.0);
}

TEST(AlgBw, BytesPerNanosecond) {
  EXPECT_DOUBLE_EQ(AlgBwGBs(1'000'000'000, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(AlgBwGBs(4096, 1e-6), 4.096);
  EXPECT_DOUBLE_EQ(AlgBwGBs(4096, 0.0), 0.0);
}

TEST(ParseCollective, OursAndNcclTests) {
  EXPECT_EQ(ParseCollective("reduce_scatter"), CollectiveKind::kReduceScatter);
  EXPECT_EQ(ParseCollective("all_to_all"), CollectiveKind::kAlltoall);
  EXPECT_FALSE(ParseCollective("barrier"));
  EXPECT_TRUE(IsReduction(CollectiveKind::kReduce));
  EXPECT_FALSE(IsReduction(CollectiveKind::kBroadcast));
  EXPECT_TRUE(HasRoot(CollectiveKind::kBroadcast));
  EXPECT_FALSE(HasRoot(CollectiveKind::kAllreduce));
}

}  // namespace
}  // namespace cohort::bench
