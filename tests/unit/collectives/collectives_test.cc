// Every algorithm (called directly, forced through the selector, and chosen automatically) on
// world sizes 1..8, every dtype, every op, counts 0, 1, 7, 1000, 65539, in place and out of
// place, checked by CollectiveHarness. The fake world is one host with a small-slot arena, so
// the direct shm algorithms run here too, pipelined over many steps.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "collective_harness.h"
#include "collectives/selector.h"

namespace cohort::testing {
namespace {

constexpr size_t kCounts[] = {0, 1, 7, 1000, 65539};
constexpr size_t kLargeCount = 65539;

// The largest count runs for one layout per world size and two ops per dtype (sum and one that
// rotates with the dtype), which keeps the suite fast while still covering every combination.
bool LargeCaseWanted(int size, DataType dtype, ReduceOp op, bool in_place) {
  if (in_place != (size % 2 == 0)) return false;
  const size_t rotating = (static_cast<size_t>(dtype) + static_cast<size_t>(size)) % 5;
  return op == ReduceOp::kSum || op == kAllReduceOps[rotating];
}

struct Runner {
  std::string name;
  CollectiveFn fn;
  AlgorithmSupportsFn supports;
};

// Each algorithm of `kind` called directly, each forced by name, and the automatic choice.
std::vector<Runner> RunnersFor(CollectiveKind kind) {
  std::vector<Runner> runners;
  for (const AlgorithmInfo& info : AllAlgorithms()) {
    if (info.kind != kind) continue;
    runners.push_back({std::string(info.name), info.run, info.supports});
  }
  runners.push_back({"auto", [](PeerIo& io, const CollectiveArgs& a, Workspace& ws) {
                       std::string_view chosen;
                       return RunCollective(io, a, ws, "auto", &chosen);
                     }, nullptr});
  return runners;
}

// Runs the whole matrix for one collective; reports at most a few failures.
void RunMatrix(CollectiveKind kind, bool reduces, int min_size = 1, int max_size = 8) {
  int failures = 0;
  for (int size = min_size; size <= max_size; ++size) {
    CollectiveHarness harness(size);
    for (const Runner& runner : RunnersFor(kind)) {
      for (DataType dtype : kAllDataTypes) {
        for (ReduceOp op : kAllReduceOps) {
          if (!reduces && op != ReduceOp::kSum) continue;
          if (op == ReduceOp::kAvg && !IsFloatingPoint(dtype)) continue;  // see ErrorsTest
          for (size_t count : kCounts) {
            // Keep the run short: the largest count once per (dtype, op) family, not per layout.
            for (bool in_place : {false, true}) {
              if (count == kLargeCount && !LargeCaseWanted(size, dtype, op, in_place)) continue;
              Case c{kind, size, dtype, op, count, in_place, (size > 1 ? size - 1 : 0)};
              // Small chunks exercise pipelining at count 1000; large ones keep 65539 quick.
              c.chunk_bytes = count == kLargeCount ? (64u << 10) + 8 : 1000;
              if (HasRoot(kind)) {
                c.root = static_cast<int>(count % static_cast<size_t>(size));
              }
              CollectiveArgs probe{kind, nullptr, nullptr, count, dtype, op, c.root};
              const World world{size, harness.world().io(0).arena()};
              if (runner.supports && !runner.supports(probe, world)) continue;
              std::string problem = harness.RunAndCheck(c, runner.fn);
              if (!problem.empty()) {
                ADD_FAILURE() << runner.name << ": " << problem;
                if (++failures >= 5) return;
              }
            }
          }
        }
      }
    }
  }
}

TEST(CollectivesTest, Allreduce) { RunMatrix(CollectiveKind::kAllreduce, true); }
TEST(CollectivesTest, ReduceScatter) { RunMatrix(CollectiveKind::kReduceScatter, true); }
TEST(CollectivesTest, Reduce) { RunMatrix(CollectiveKind::kReduce, true); }
TEST(CollectivesTest, Allgather) { RunMatrix(CollectiveKind::kAllgather, false); }
TEST(CollectivesTest, Broadcast) { RunMatrix(CollectiveKind::kBroadcast, false); }
TEST(CollectivesTest, Alltoall) { RunMatrix(CollectiveKind::kAlltoall, false); }

}  // namespace
}  // namespace cohort::testing
