// The wait chain of a timed-out collective (runtime/comm/wait_chain.h): which rank the waits
// lead to, or that they go round in a cycle.
#include "runtime/comm/wait_chain.h"

#include <gtest/gtest.h>

#include <thread>

namespace cohort {
namespace {

using std::chrono::milliseconds;

TEST(RanksNamedIn, FindsEveryRankOnceInOrder) {
  EXPECT_EQ(RanksNamedIn("rank 12 (vm) [send of 8 bytes], rank 3 (vm) [recv of 8 bytes], rank 12"),
            (std::vector<int>{12, 3}));
  EXPECT_EQ(RanksNamedIn("rank 3 (pid 77) in shared memory, which is 1 step(s) behind"),
            (std::vector<int>{3}));
  EXPECT_TRUE(RanksNamedIn("nothing").empty());
  EXPECT_TRUE(RanksNamedIn("frank 5, rank x, rank ").empty());
  EXPECT_TRUE(RanksNamedIn("rank 99999999999999").empty());  // no overflow: too long to be a rank
}

TEST(WaitChain, LeadsToTheRankThatReportedNothing) {
  MemoryStore store;
  // Rank 2 timed out waiting for rank 3, which is stopped and says nothing.
  ASSERT_TRUE(store.Set("w/2", ToBytes("3|allreduce #6")).ok());
  const std::string chain = ExplainWaitChain(store, "w/", 0, {2, 1}, "allreduce #10", milliseconds(0));
  EXPECT_EQ(chain,
            "wait chain: rank 0 waits for rank 2 (allreduce #10), which waits for rank 3 "
            "(allreduce #6), which reported no timeout: rank 3 is likely stopped, hung or busy "
            "outside cohort (a debugger, a data loader, a long step on one rank)");
  // This rank's own record is published for the others.
  Result<Bytes> mine = store.Get("w/0", milliseconds(0));
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(ToString(*mine), "2|allreduce #10");
}

TEST(WaitChain, RanksWaitingForEachOtherAreACycle) {
  MemoryStore store;
  ASSERT_TRUE(store.Set("w/1", ToBytes("2|broadcast #4")).ok());
  ASSERT_TRUE(store.Set("w/2", ToBytes("0|allreduce #4")).ok());
  const std::string chain = ExplainWaitChain(store, "w/", 0, {1}, "allreduce #4", milliseconds(0));
  EXPECT_NE(chain.find("rank 1 (allreduce #4), which waits for rank 2 (broadcast #4), which waits "
                       "for rank 0 (allreduce #4): these ranks wait for each other"),
            std::string::npos) << chain;
}

TEST(WaitChain, GarbageRecordsEndTheChainInsteadOfCrashing) {
  MemoryStore store;
  for (const char* bad : {"", "|x", "12345678901|x", "3", "-1|x", "a|b"}) {
    ASSERT_TRUE(store.Set("w/1", ToBytes(bad)).ok());
    const std::string chain = ExplainWaitChain(store, "w/", 0, {1}, "op", milliseconds(0));
    EXPECT_NE(chain.find("rank 1 is likely stopped"), std::string::npos) << bad << ": " << chain;
  }
}

TEST(WaitChain, WaitsForTheOthersToPublish) {
  MemoryStore store;
  std::thread late([&] {
    std::this_thread::sleep_for(milliseconds(20));
    ASSERT_TRUE(store.Set("w/1", ToBytes("2|allgather #9")).ok());
  });
  const std::string chain = ExplainWaitChain(store, "w/", 0, {1}, "allgather #9", milliseconds(500));
  late.join();
  EXPECT_NE(chain.find("which waits for rank 2 (allgather #9), which reported no timeout"),
            std::string::npos) << chain;
}

TEST(WaitChain, NothingAwaitedExplainsNothing) {
  MemoryStore store;
  EXPECT_EQ(ExplainWaitChain(store, "w/", 0, {}, "op", milliseconds(0)), "");
}

}  // namespace
}  // namespace cohort
