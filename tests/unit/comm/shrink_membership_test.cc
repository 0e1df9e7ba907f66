// Who goes on after ranks are lost (runtime/comm/shrink_membership.h).
#include "runtime/comm/shrink_membership.h"

#include <gtest/gtest.h>

#include <thread>

namespace cohort {
namespace {

using std::chrono::milliseconds;

std::string DeadKey(int r) { return "dead/" + std::to_string(r); }

// Runs AgreeOnSurvivors on `ranks` at once, each with `wait` as its deadline.
std::vector<Result<std::vector<int>>> Agree(Store& store, const std::vector<int>& ranks, int size,
                                            milliseconds wait) {
  std::vector<Result<std::vector<int>>> results(ranks.size(), UnavailableError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ranks.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = AgreeOnSurvivors(store, "s/", ranks[i], size, DeadKey, Deadline::After(wait));
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

TEST(ShrinkMembership, SurvivorsAgreeAtOnceWhenTheLauncherNamedTheDead) {
  MemoryStore store;
  ASSERT_TRUE(store.Set(DeadKey(1), ToBytes("rank 1 was killed by signal 9")).ok());
  const auto start = std::chrono::steady_clock::now();
  auto results = Agree(store, {0, 2, 3}, 4, milliseconds(20'000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // not the deadline
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, (std::vector<int>{0, 2, 3}));
  }
}

TEST(ShrinkMembership, ASilentRankIsLeftOutAtTheDeadlineAndRefusedAfter) {
  MemoryStore store;  // rank 2 is frozen: not dead to the launcher, never announces itself
  auto results = Agree(store, {0, 1}, 3, milliseconds(300));
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, (std::vector<int>{0, 1}));
  }
  auto late = AgreeOnSurvivors(store, "s/", 2, 3, DeadKey, Deadline::After(milliseconds(300)));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(late.status().message().find("rank 2 announced itself after the survivors had agreed "
                                         "on ranks 0,1"),
            std::string::npos) << late.status().ToString();
}

TEST(ShrinkMembership, MemberListsRoundTripAndGarbageIsRefused) {
  EXPECT_EQ(FormatMembers({0, 2, 5}), "0,2,5");
  auto parsed = ParseMembers("0,2,5", 6);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<int>{0, 2, 5}));
  for (const char* bad : {"", ",", "0,,1", "1,0", "0,0", "0,6", "-1", "a", "0,1,", "9999999999"}) {
    EXPECT_FALSE(ParseMembers(bad, 6).ok()) << bad;
  }
}

TEST(ShrinkMembership, AGarbledListInTheStoreIsAnErrorNotACrash) {
  MemoryStore store;
  ASSERT_TRUE(store.Set("s/members", ToBytes("0,x")).ok());
  auto r = AgreeOnSurvivors(store, "s/", 0, 2, DeadKey, Deadline::After(milliseconds(100)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad member list"), std::string::npos);
}

}  // namespace
}  // namespace cohort
