// WatchedStore: waits end early, with the watched key's value, once that key appears.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "runtime/store/watched_store.h"

namespace cohort {
namespace {

using std::chrono::milliseconds;

TEST(WatchedStore, PassesThroughWhenTheWatchedKeyIsAbsent) {
  auto base = std::make_shared<MemoryStore>();
  WatchedStore store(base, "job/abort");
  ASSERT_TRUE(store.Set("k", ToBytes("v")).ok());
  Result<Bytes> got = store.Get("k", milliseconds(100));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ToString(*got), "v");
  auto start = std::chrono::steady_clock::now();
  Status missing = store.Wait({"never"}, milliseconds(600));
  EXPECT_EQ(missing.code(), StatusCode::kDeadlineExceeded) << missing.ToString();
  EXPECT_NE(missing.message().find("never"), std::string::npos) << missing.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(550));
}

TEST(WatchedStore, AWaitEndsSoonAfterTheWatchedKeyAppears) {
  auto base = std::make_shared<MemoryStore>();
  WatchedStore store(base, "job/abort");
  std::thread publisher([&] {
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_TRUE(base->Set("job/abort", ToBytes("rank 3 was killed by signal 9")).ok());
  });
  auto start = std::chrono::steady_clock::now();
  Result<Bytes> got = store.Get("peer/3", milliseconds(60'000));
  auto waited = std::chrono::steady_clock::now() - start;
  publisher.join();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kAborted);
  EXPECT_NE(got.status().message().find("rank 3 was killed by signal 9"), std::string::npos)
      << got.status().ToString();
  EXPECT_LT(waited, milliseconds(2'000));
}

}  // namespace
}  // namespace cohort
