// Pure rank and chunk arithmetic (collectives/partition.h), including counts beyond 2^32
// elements (arithmetic only: nothing is allocated).
#include "collectives/partition.h"

#include <gtest/gtest.h>

#include <set>

namespace cohort::detail {
namespace {

TEST(PartitionTest, BlocksCoverEverythingInOrder) {
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}, size_t{65539}}) {
    for (size_t parts = 1; parts <= 9; ++parts) {
      size_t next = 0;
      for (size_t b = 0; b < parts; ++b) {
        Range r = BlockRange(count, parts, b);
        EXPECT_EQ(r.offset, next);
        EXPECT_TRUE(r.count == count / parts || r.count == count / parts + 1);
        next = r.end();
      }
      EXPECT_EQ(next, count);
      EXPECT_EQ(BlockOffset(count, parts, parts), count);
    }
  }
  EXPECT_EQ(BlockRange(3, 8, 2).count, 1u);
  EXPECT_EQ(BlockRange(3, 8, 3).count, 0u);
  EXPECT_EQ(BlocksRange(10, 4, 1, 2).offset, 3u);
  EXPECT_EQ(BlocksRange(10, 4, 1, 2).count, 5u);
}

TEST(PartitionTest, HugeCountsDoNotOverflow) {
  const size_t count = (size_t{1} << 33) + 5;  // more than 2^32 elements
  EXPECT_EQ(BlockOffset(count, 7, 7), count);
  Range last = BlockRange(count, 7, 6);
  EXPECT_EQ(last.end(), count);
  EXPECT_EQ(BlockRange(count, 3, 0).count, (count + 2) / 3);
  const size_t near_max = SIZE_MAX - 3;
  EXPECT_EQ(BlockOffset(near_max, 1000, 1000), near_max);
  EXPECT_EQ(BlockRange(near_max, 1000, 999).end(), near_max);
  const size_t chunk = ChunkElements(1 << 20, 4);
  EXPECT_EQ(chunk, size_t{1} << 18);
  EXPECT_EQ(ChunkCount(count, chunk), (count + chunk - 1) / chunk);
  Range tail = ChunkRange(count, chunk, ChunkCount(count, chunk) - 1);
  EXPECT_EQ(tail.end(), count);
  EXPECT_EQ(tail.count, count % chunk);
}

TEST(PartitionTest, Chunks) {
  EXPECT_EQ(ChunkElements(0, 8), SIZE_MAX);  // 0 means "do not chunk"
  EXPECT_EQ(ChunkElements(3, 8), 1u);        // never zero
  EXPECT_EQ(ChunkElements(1000, 8), 125u);
  EXPECT_EQ(ChunkCount(0, 5), 0u);
  EXPECT_EQ(ChunkCount(10, 5), 2u);
  EXPECT_EQ(ChunkCount(11, 5), 3u);
  EXPECT_EQ(ChunkCount(11, SIZE_MAX), 1u);
  EXPECT_EQ(ChunkRange(11, 5, 2).offset, 10u);
  EXPECT_EQ(ChunkRange(11, 5, 2).count, 1u);
}

TEST(PartitionTest, RingAndPowersOfTwo) {
  EXPECT_EQ(RingNext(4, 5), 0);
  EXPECT_EQ(RingPrev(0, 5), 4);
  EXPECT_EQ(PositiveMod(-13, 5), 2);
  EXPECT_TRUE(IsPowerOfTwo(1));
  EXPECT_TRUE(IsPowerOfTwo(8));
  EXPECT_FALSE(IsPowerOfTwo(6));
  EXPECT_FALSE(IsPowerOfTwo(0));
  EXPECT_EQ(PowerOfTwoFloor(7), 4);
  EXPECT_EQ(PowerOfTwoCeil(5), 8);
}

TEST(PartitionTest, FoldPairsTheFirstRanks) {
  for (int size = 1; size <= 33; ++size) {
    const int p2 = PowerOfTwoFloor(size);
    std::set<int> vranks;
    for (int r = 0; r < size; ++r) {
      Fold f = FoldRanks(r, size);
      EXPECT_EQ(f.p2, p2);
      EXPECT_EQ(f.extra, size - p2);
      if (r < 2 * (size - p2)) {
        EXPECT_EQ(f.partner, r ^ 1) << "size " << size << " rank " << r;
        EXPECT_EQ(f.participates(), r % 2 == 1);
      } else {
        EXPECT_EQ(f.partner, -1);
        EXPECT_TRUE(f.participates());
      }
      if (f.participates()) {
        EXPECT_EQ(UnfoldRank(f.vrank, size), r);
        vranks.insert(f.vrank);
      }
    }
    EXPECT_EQ(static_cast<int>(vranks.size()), p2);
    EXPECT_EQ(*vranks.rbegin(), p2 - 1);
  }
}

TEST(PartitionTest, WindowsHalveAndDouble) {
  // With 8 participants, rank 5 keeps [4,8), then [4,6), then [5,6).
  EXPECT_EQ(WindowAt(5, 4).first, 4);
  EXPECT_EQ(WindowAt(5, 2).first, 4);
  EXPECT_EQ(WindowAt(5, 1).first, 5);
  // Partners at distance d share the window of span 2d.
  for (int v = 0; v < 16; ++v) {
    for (int d = 1; d < 16; d *= 2) {
      EXPECT_EQ(WindowAt(v, 2 * d).first, WindowAt(v ^ d, 2 * d).first);
      EXPECT_NE(WindowAt(v, d).first, WindowAt(v ^ d, d).first);
    }
  }
}

TEST(PartitionTest, BinomialTreeReachesEveryRankOnce) {
  for (int size = 1; size <= 17; ++size) {
    std::vector<int> parent_of(static_cast<size_t>(size), -2);
    for (int v = 0; v < size; ++v) {
      int children = 0;
      for (int m = BinomialFirstChildMask(v, size); m > 0; m /= 2) {
        if (v + m >= size) continue;
        ++children;
        EXPECT_EQ(parent_of[static_cast<size_t>(v + m)], -2);
        parent_of[static_cast<size_t>(v + m)] = v;
        EXPECT_EQ(BinomialParent(v + m), v);
      }
      EXPECT_EQ(children, BinomialChildCount(v, size));
    }
    EXPECT_EQ(BinomialParent(0), -1);
    for (int v = 1; v < size; ++v) EXPECT_GE(parent_of[static_cast<size_t>(v)], 0) << v;
  }
  EXPECT_EQ(ToVirtualRank(1, 3, 5), 3);
  EXPECT_EQ(FromVirtualRank(3, 3, 5), 1);
}

}  // namespace
}  // namespace cohort::detail
