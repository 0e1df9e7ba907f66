// The selector's choices, fallbacks and name handling; argument errors; the barrier.
#include "collectives/selector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "collective_harness.h"

namespace cohort {
namespace {

using testing::Case;
using testing::CollectiveHarness;

std::string_view Chosen(CollectiveKind kind, int size, size_t count, std::string_view forced,
                        DataType dtype = DataType::kF32) {
  CollectiveArgs args{kind, nullptr, nullptr, count, dtype, ReduceOp::kSum, 0};
  Result<const AlgorithmInfo*> info = SelectAlgorithm(args, World{size, nullptr}, forced);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? (*info)->name : "";
}

// World sizes the tuning run did not measure (2-4) take the default rules of selector.cc.
TEST(SelectorTest, AutomaticChoiceBySizeAndWorld) {
  using K = CollectiveKind;
  EXPECT_EQ(Chosen(K::kAllreduce, 8, 16, "auto"), "recursive_doubling");        // 64 B
  EXPECT_EQ(Chosen(K::kAllreduce, 8, 64 << 10, "auto"), "rabenseifner");        // 256 KiB
  EXPECT_EQ(Chosen(K::kAllreduce, 8, 1 << 20, "auto"), "ring");                 // 4 MiB
  EXPECT_EQ(Chosen(K::kReduceScatter, 8, 16, "auto"), "recursive_halving");
  EXPECT_EQ(Chosen(K::kReduceScatter, 6, 16, "auto"), "ring");  // not a power of two
  EXPECT_EQ(Chosen(K::kAllgather, 8, 16, ""), "recursive_doubling");
  EXPECT_EQ(Chosen(K::kAllgather, 5, 16, ""), "ring");
  EXPECT_EQ(Chosen(K::kAllgather, 8, 1 << 20, ""), "ring");
  EXPECT_EQ(Chosen(K::kBroadcast, 4, 16, "auto"), "binomial");
  EXPECT_EQ(Chosen(K::kReduce, 4, 16, "auto"), "binomial");
  EXPECT_EQ(Chosen(K::kAlltoall, 4, 16, "auto"), "pairwise");
  EXPECT_EQ(Chosen(K::kBarrier, 4, 0, "auto"), "dissemination");
}

// With every rank on one host (an arena), every collective at every size runs on the arena
// (which direct algorithm is the tuned table's business), unless a link algorithm is forced.
TEST(SelectorTest, OneHostUsesTheArena) {
  testing::FakeWorld host(4);
  const World world{4, host.io(0).arena()};
  for (CollectiveKind kind : {CollectiveKind::kAllreduce, CollectiveKind::kReduceScatter,
                              CollectiveKind::kAllgather, CollectiveKind::kBroadcast,
                              CollectiveKind::kReduce, CollectiveKind::kAlltoall,
                              CollectiveKind::kBarrier}) {
    for (size_t count : {size_t{2}, size_t{4096}, size_t{1} << 20, size_t{1} << 26}) {
      CollectiveArgs args{kind, nullptr, nullptr, count, DataType::kF32, ReduceOp::kSum, 0};
      Result<const AlgorithmInfo*> info = SelectAlgorithm(args, world, "auto");
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      EXPECT_TRUE((*info)->needs_arena) << CollectiveName(kind) << " " << count << ": " << (*info)->name;
    }
  }
  const CollectiveArgs big{CollectiveKind::kAllreduce, nullptr, nullptr, 1 << 20, DataType::kF32,
                           ReduceOp::kSum, 0};
  auto picked = [&](const World& w, std::string_view forced) -> const AlgorithmInfo* {
    Result<const AlgorithmInfo*> info = SelectAlgorithm(big, w, forced);
    return info.ok() ? info.value() : nullptr;
  };
  EXPECT_EQ(picked(world, "ring")->name, "ring");
  EXPECT_EQ(picked(world, "shm_oneshot")->name, "shm_direct") << "4 MiB does not fit one slot";
  // Without an arena the direct algorithms are never chosen, even when forced.
  EXPECT_FALSE(picked(World{4, nullptr}, "shm_direct")->needs_arena);
}

TEST(SelectorTest, EveryRuleNamesAnAlgorithm) {
  Status tables = CheckRuleTables();
  EXPECT_TRUE(tables.ok()) << tables.ToString();
}

TEST(SelectorTest, ForcedNamesAndFallbacks) {
  using K = CollectiveKind;
  EXPECT_EQ(Chosen(K::kAllreduce, 8, 1 << 20, "recursive_doubling"), "recursive_doubling");
  EXPECT_EQ(Chosen(K::kAllreduce, 8, 16, "ring"), "ring");
  // A name of another collective's algorithm: the automatic choice.
  EXPECT_EQ(Chosen(K::kAllreduce, 8, 16, "pairwise"), "recursive_doubling");
  EXPECT_EQ(Chosen(K::kBarrier, 8, 0, "ring"), "dissemination");
  // An algorithm that cannot take the input (6 is not a power of two): the next candidate.
  EXPECT_EQ(Chosen(K::kReduceScatter, 6, 16, "recursive_halving"), "ring");
  EXPECT_EQ(Chosen(K::kAllgather, 3, 16, "recursive_doubling"), "ring");
}

TEST(SelectorTest, UnknownNameListsTheValidOnes) {
  CollectiveArgs args{CollectiveKind::kAllreduce, nullptr, nullptr, 4, DataType::kF32,
                      ReduceOp::kSum, 0};
  Result<const AlgorithmInfo*> info = SelectAlgorithm(args, World{4, nullptr}, "rign");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(info.status().message().find("rign"), std::string::npos);
  for (const AlgorithmInfo& a : AllAlgorithms()) {
    EXPECT_NE(info.status().message().find(std::string(a.name)), std::string::npos) << a.name;
  }
  EXPECT_TRUE(CheckAlgorithmName("auto").ok());
  EXPECT_TRUE(CheckAlgorithmName("rabenseifner").ok());
  EXPECT_EQ(AlgorithmNamesForHelp().find("auto, ring, "), 0u);
  EXPECT_EQ(AlgorithmNamesForHelp().find("ring", 10), std::string::npos);  // each name once
}

testing::CollectiveFn Selector(std::string forced, std::string* chosen) {
  return [forced, chosen](PeerIo& io, const CollectiveArgs& a, Workspace& ws) {
    std::string_view name;
    Status s = RunCollective(io, a, ws, forced, &name);
    if (io.rank() == 0) *chosen = name;
    return s;
  };
}

TEST(SelectorTest, ReportsTheAlgorithmItRan) {
  std::string chosen;
  CollectiveHarness h4(4, /*with_arena=*/false);
  Case c{CollectiveKind::kAllreduce, 4, DataType::kF32, ReduceOp::kSum, 1000, false, 0};
  EXPECT_EQ(h4.RunAndCheck(c, Selector("rabenseifner", &chosen)), "");
  EXPECT_EQ(chosen, "rabenseifner");
  EXPECT_EQ(h4.RunAndCheck(c, Selector("pairwise", &chosen)), "");
  EXPECT_EQ(chosen, "recursive_doubling");
  // One host with an arena: a direct algorithm (which one by size is the tuned table's).
  CollectiveHarness h4_arena(4);
  EXPECT_EQ(h4_arena.RunAndCheck(c, Selector("auto", &chosen)), "");
  EXPECT_EQ(chosen.rfind("shm_", 0), 0u) << chosen;
  EXPECT_EQ(h4_arena.RunAndCheck(c, Selector("shm_express", &chosen)), "");
  EXPECT_EQ(chosen, "shm_express");
  EXPECT_EQ(h4_arena.RunAndCheck(c, Selector("shm_oneshot", &chosen)), "");
  EXPECT_EQ(chosen, "shm_oneshot");
  c.count = 65539;
  EXPECT_EQ(h4_arena.RunAndCheck(c, Selector("auto", &chosen)), "");
  EXPECT_EQ(chosen, "shm_direct");
  EXPECT_EQ(h4_arena.RunAndCheck(c, Selector("ring", &chosen)), "");
  EXPECT_EQ(chosen, "ring");
  c.count = 1000;
  CollectiveHarness h1(1);
  c.size = 1;
  EXPECT_EQ(h1.RunAndCheck(c, Selector("ring", &chosen)), "");
  EXPECT_EQ(chosen, "local");
}

// Every rank must refuse a bad call before posting anything.
void ExpectInvalidEverywhere(const Case& c, const std::string& needle) {
  for (const AlgorithmInfo& info : AllAlgorithms()) {
    if (info.kind != c.kind) continue;
    CollectiveHarness h(c.size);
    const World world{c.size, h.world().io(0).arena()};
    if (info.supports && !info.supports(CollectiveArgs{c.kind, nullptr, nullptr, c.count, c.dtype,
                                                       c.op, c.root}, world)) {
      continue;
    }
    std::string chosen;
    for (const testing::CollectiveFn& fn :
         {testing::CollectiveFn(info.run), Selector("auto", &chosen)}) {
      std::vector<Status> statuses = h.RunRaw(c, fn);
      for (const Status& s : statuses) {
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << info.name << " " << c.ToString()
                                                          << ": " << s.ToString();
        EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
      }
      for (int r = 0; r < c.size; ++r) EXPECT_EQ(h.world().io(r).messages_sent(), 0u);
      EXPECT_EQ(h.world().Undelivered(), 0u);
    }
  }
}

TEST(ErrorsTest, AvgOnIntegersIsAnArgumentError) {
  for (CollectiveKind kind :
       {CollectiveKind::kAllreduce, CollectiveKind::kReduceScatter, CollectiveKind::kReduce}) {
    for (DataType dtype : {DataType::kI8, DataType::kU8, DataType::kI32, DataType::kI64}) {
      for (int size : {1, 3, 4}) {
        ExpectInvalidEverywhere(Case{kind, size, dtype, ReduceOp::kAvg, 7, false, 0}, "avg");
      }
    }
  }
}

TEST(ErrorsTest, RootOutOfRangeIsAnArgumentError) {
  for (CollectiveKind kind : {CollectiveKind::kBroadcast, CollectiveKind::kReduce}) {
    ExpectInvalidEverywhere(Case{kind, 3, DataType::kF32, ReduceOp::kSum, 7, false, 3}, "root 3");
    ExpectInvalidEverywhere(Case{kind, 3, DataType::kF32, ReduceOp::kSum, 7, false, -1}, "root -1");
  }
}

TEST(ErrorsTest, PartiallyOverlappingBuffersAreRefused) {
  testing::FakeWorld world(1);
  Workspace ws;
  float data[16] = {};
  CollectiveArgs args{CollectiveKind::kAllreduce, data, data + 1, 8, DataType::kF32,
                      ReduceOp::kSum, 0};
  Status s = RunCollective(world.io(0), args, ws, "auto", nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  args.recv = nullptr;
  EXPECT_EQ(RunCollective(world.io(0), args, ws, "auto", nullptr).code(),
            StatusCode::kInvalidArgument);
}

TEST(BarrierTest, NoRankLeavesBeforeAllEnter) {
  for (int size = 1; size <= 8; ++size) {
    testing::FakeWorld world(size);
    Workspace ws[8];
    std::atomic<int> entered{0};
    std::vector<Status> statuses = world.Run([&](int r) {
      // Late arrivals: a rank that leaves early would see entered < size.
      std::this_thread::sleep_for(std::chrono::milliseconds(r == size - 1 ? 30 : 0));
      entered.fetch_add(1);
      CollectiveArgs args{CollectiveKind::kBarrier, nullptr, nullptr, 0, DataType::kF32,
                          ReduceOp::kSum, 0};
      std::string_view chosen;
      COHORT_RETURN_IF_ERROR(RunCollective(world.io(r), args, ws[r], "auto", &chosen));
      if (entered.load() != size) return InternalError("left the barrier early");
      return Status::Ok();
    });
    for (const Status& s : statuses) EXPECT_TRUE(s.ok()) << size << ": " << s.ToString();
    EXPECT_EQ(world.Undelivered(), 0u);
  }
}

}  // namespace
}  // namespace cohort
