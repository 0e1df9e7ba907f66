// The hierarchical collectives on fake worlds spread over hosts (FakeWorld::SetNodes): even and
// uneven hosts, hosts of one rank, interleaved placements; every dtype and op, in and out of
// place, every root, checked element by element by CollectiveHarness. Also what the selector
// does with such worlds.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "collective_harness.h"
#include "collectives/hierarchical.h"
#include "collectives/selector.h"

namespace cohort::testing {
namespace {

struct Layout {
  std::vector<int> node_of_rank;
  bool uniform_blocks;  // the hierarchical allgather applies
};

const std::vector<Layout>& Layouts() {
  static const std::vector<Layout> layouts = {
      {{0, 0, 1, 1}, true},          {{0, 0, 0, 1, 1, 1}, true},
      {{0, 0, 1, 1, 2, 2}, true},    {{0, 0, 0, 1}, false},
      {{0, 1, 0, 1}, false},         {{0, 0, 1, 2, 2, 2, 1}, false},
  };
  return layouts;
}

std::string Describe(const Layout& layout) {
  std::string out = "hosts of ranks {";
  for (int n : layout.node_of_rank) out += std::to_string(n) + ",";
  return out + "}";
}

void RunLayouts(CollectiveKind kind, AlgorithmFn algorithm) {
  int failures = 0;
  for (const Layout& layout : Layouts()) {
    const int size = static_cast<int>(layout.node_of_rank.size());
    CollectiveHarness harness(size);
    harness.world().SetNodes(layout.node_of_rank);
    const World world = WorldOf(harness.world().io(0));
    ASSERT_EQ(world.arena, nullptr);
    ASSERT_TRUE(world.some_node_shared);
    ASSERT_EQ(world.nodes_uniform_blocks, layout.uniform_blocks) << Describe(layout);
    if (kind == CollectiveKind::kAllgather && !layout.uniform_blocks) continue;
    const bool reduces = kind == CollectiveKind::kAllreduce;
    for (DataType dtype : kAllDataTypes) {
      for (ReduceOp op : kAllReduceOps) {
        if (!reduces && op != ReduceOp::kSum) continue;
        if (op == ReduceOp::kAvg && !IsFloatingPoint(dtype)) continue;
        for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}, size_t{20011}}) {
          for (bool in_place : {false, true}) {
            Case c{kind, size, dtype, op, count, in_place, static_cast<int>(count % size)};
            c.chunk_bytes = 4096;
            std::string problem = harness.RunAndCheck(c, algorithm);
            if (!problem.empty()) {
              ADD_FAILURE() << Describe(layout) << ": " << problem;
              if (++failures >= 5) return;
            }
          }
        }
      }
    }
  }
}

TEST(HierarchicalTest, Allreduce) { RunLayouts(CollectiveKind::kAllreduce, &HierarchicalAllreduce); }
TEST(HierarchicalTest, Broadcast) { RunLayouts(CollectiveKind::kBroadcast, &HierarchicalBroadcast); }
TEST(HierarchicalTest, Allgather) { RunLayouts(CollectiveKind::kAllgather, &HierarchicalAllgather); }

TEST(HierarchicalTest, SelectorPicksItAcrossHostsOnly) {
  CollectiveHarness spread(4);
  spread.world().SetNodes({0, 0, 1, 1});
  CollectiveHarness one_host(4);
  CollectiveHarness one_rank_per_host(3);
  one_rank_per_host.world().SetNodes({0, 1, 2});
  for (CollectiveKind kind : {CollectiveKind::kAllreduce, CollectiveKind::kBroadcast,
                              CollectiveKind::kAllgather}) {
    for (size_t count : {size_t{1}, size_t{1} << 20}) {
      CollectiveArgs args{kind, nullptr, nullptr, count, DataType::kF32, ReduceOp::kSum, 0};
      auto name = [&](CollectiveHarness& h, std::string_view forced = "auto") {
        Result<const AlgorithmInfo*> chosen = SelectAlgorithm(args, WorldOf(h.world().io(0)), forced);
        return chosen.ok() ? std::string((*chosen)->name) : chosen.status().ToString();
      };
      EXPECT_EQ(name(spread), "hierarchical") << CollectiveName(kind) << " of " << count;
      EXPECT_NE(name(one_host), "hierarchical") << CollectiveName(kind) << " of " << count;
      EXPECT_NE(name(one_rank_per_host), "hierarchical") << CollectiveName(kind) << " of " << count;
      // COHORT_ALGO can force a flat algorithm across hosts, and "hierarchical" where it does
      // not apply falls back to the automatic choice.
      const std::string flat = kind == CollectiveKind::kBroadcast ? "binomial" : "ring";
      EXPECT_EQ(name(spread, flat), flat) << CollectiveName(kind);
      EXPECT_NE(name(one_host, "hierarchical"), "hierarchical") << CollectiveName(kind);
    }
  }
}

TEST(HierarchicalTest, SubgroupIoMapsRanksAndRefusesOutsiders) {
  FakeWorld world(4, /*with_arena=*/false);
  const std::vector<int> members = {1, 3};
  SubgroupIo sub(world.io(3), members, nullptr);
  EXPECT_EQ(sub.rank(), 1);
  EXPECT_EQ(sub.size(), 2);
  int value = 7;
  EXPECT_EQ(sub.Send(2, &value, sizeof(value)).code(), StatusCode::kInternal);
  SubgroupIo outsider(world.io(0), members, nullptr);
  EXPECT_EQ(outsider.rank(), -1);
}

}  // namespace
}  // namespace cohort::testing
