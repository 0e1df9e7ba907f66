// TcpStoreServer and TcpStoreClient with well-behaved clients: every op, waiting, timeouts,
// compare-set, barriers, SetLocal, authentication and many concurrent clients.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/unit/store/tcp_store_test_util.h"

namespace cohort::testing {
namespace {

TEST_F(TcpStoreTest, EveryOp) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Set("a", ToBytes("1")).ok());
  auto got = client->Get("a", 1'000ms);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ToString(*got), "1");

  EXPECT_EQ(client->Add("n", 5).value(), 5);
  EXPECT_EQ(client->Add("n", -7).value(), -2);
  EXPECT_EQ(client->Add("n", 0).value(), -2);
  EXPECT_EQ(ToString(client->Get("n", 0ms).value()), "-2");
  ASSERT_TRUE(client->Set("text", ToBytes("abc")).ok());
  auto bad_add = client->Add("text", 1);
  EXPECT_EQ(bad_add.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_add.status().message().find("text"), std::string::npos);
  ASSERT_TRUE(client->Set("big", ToBytes(std::to_string(INT64_MAX))).ok());
  EXPECT_EQ(client->Add("big", 1).status().code(), StatusCode::kInvalidArgument);

  EXPECT_TRUE(client->Check("a").value());
  EXPECT_FALSE(client->Check("missing").value());
  EXPECT_TRUE(client->Delete("a").value());
  EXPECT_FALSE(client->Delete("a").value());
  EXPECT_FALSE(client->Check("a").value());

  ASSERT_TRUE(client->Set("w1", ToBytes("x")).ok());
  ASSERT_TRUE(client->Set("w2", ToBytes("y")).ok());
  EXPECT_TRUE(client->Wait({"w1", "w2"}, 100ms).ok());

  // Binary values with zero bytes and an empty value survive.
  Bytes binary = {0, 1, 0, 255, 0};
  ASSERT_TRUE(client->Set("bin", binary).ok());
  EXPECT_EQ(client->Get("bin", 0ms).value(), binary);
  ASSERT_TRUE(client->Set("empty", {}).ok());
  EXPECT_TRUE(client->Get("empty", 0ms).value().empty());
}

TEST_F(TcpStoreTest, InvalidArgumentsNeverReachTheServer) {
  auto client = NewClient();
  EXPECT_EQ(client->Set("", ToBytes("v")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Set(std::string(kMaxStoreKeyBytes + 1, 'k'), {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Set("k", Bytes(kMaxStoreValueBytes + 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Wait({}, 10ms).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server_->rejected_connections(), 0u);
  ASSERT_TRUE(client->Set("k", ToBytes("still fine")).ok());
}

TEST_F(TcpStoreTest, LargestValue) {
  auto client = NewClient();
  Bytes value(kMaxStoreValueBytes);
  for (size_t i = 0; i < value.size(); i += 4096) value[i] = static_cast<uint8_t>(i >> 12);
  ASSERT_TRUE(client->Set("large", value).ok());
  auto got = client->Get("large", 1'000ms);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, value);
}

TEST_F(TcpStoreTest, GetWaitsForALaterSet) {
  auto reader = NewClient();
  auto writer = NewClient();
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(writer->Set("late", ToBytes("here")).ok());
  });
  auto start = Clock::now();
  auto got = reader->Get("late", 5'000ms);
  later.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ToString(*got), "here");
  EXPECT_GE(Clock::now() - start, 90ms);
}

TEST_F(TcpStoreTest, ManyWaitersWokenBySetsAndAdds) {
  constexpr int kWaiters = 12;
  std::vector<std::thread> threads;
  std::atomic<int> woken{0};
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      auto client = NewClient();
      Status status = i % 2 ? client->Get("go", 5'000ms).status()
                            : client->Wait({"go", "counter"}, 5'000ms);
      EXPECT_TRUE(status.ok()) << status.ToString();
      woken += status.ok();
    });
  }
  std::this_thread::sleep_for(100ms);
  auto writer = NewClient();
  ASSERT_TRUE(writer->Set("go", ToBytes("1")).ok());
  ASSERT_TRUE(writer->Add("counter", 1).ok());
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), kWaiters);
}

TEST_F(TcpStoreTest, TimeoutsNameTheKeys) {
  auto client = NewClient();
  auto start = Clock::now();
  auto got = client->Get("never", 200ms);
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(got.status().message().find("'never'"), std::string::npos) << got.status().message();
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 3'000ms);

  ASSERT_TRUE(client->Set("present", ToBytes("1")).ok());
  Status waited = client->Wait({"present", "absent1", "absent2"}, 100ms);
  EXPECT_EQ(waited.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(waited.message().find("absent1"), std::string::npos) << waited.message();
  EXPECT_NE(waited.message().find("absent2"), std::string::npos);
  EXPECT_EQ(waited.message().find("present"), std::string::npos);
  EXPECT_EQ(client->Get("never", 0ms).status().code(), StatusCode::kDeadlineExceeded);
  // The connection is still usable after timeouts.
  EXPECT_TRUE(client->Check("present").value());
}

TEST_F(TcpStoreTest, CompareSet) {
  auto client = NewClient();
  // Absent key: an empty `expected` matches and sets.
  EXPECT_EQ(ToString(client->CompareSet("cas", {}, ToBytes("v1")).value()), "v1");
  // Mismatch: unchanged, current value returned.
  EXPECT_EQ(ToString(client->CompareSet("cas", ToBytes("nope"), ToBytes("v2")).value()), "v1");
  EXPECT_EQ(ToString(client->Get("cas", 0ms).value()), "v1");
  // Match: replaced.
  EXPECT_EQ(ToString(client->CompareSet("cas", ToBytes("v1"), ToBytes("v2")).value()), "v2");
  EXPECT_EQ(ToString(client->Get("cas", 0ms).value()), "v2");
  // Absent key with a non-empty `expected`: nothing set, empty value returned.
  EXPECT_TRUE(client->CompareSet("cas2", ToBytes("x"), ToBytes("y")).value().empty());
  EXPECT_FALSE(client->Check("cas2").value());
}

TEST_F(TcpStoreTest, CompareSetElectsOneWinner) {
  constexpr int kThreads = 8;
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto client = NewClient();
      Bytes mine = ToBytes("rank" + std::to_string(i));
      auto after = client->CompareSet("leader", {}, mine);
      ASSERT_TRUE(after.ok());
      winners += *after == mine;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_F(TcpStoreTest, BarrierWithEightThreads) {
  constexpr int kRanks = 8;
  std::vector<std::thread> threads;
  std::atomic<int> passed{0};
  for (int round = 0; round < 3; ++round) {
    for (int rank = 0; rank < kRanks; ++rank) {
      threads.emplace_back([&, rank, round] {
        auto client = NewClient();
        if (rank == 0) std::this_thread::sleep_for(50ms);
        Status status = client->Barrier("b" + std::to_string(round), kRanks, 5'000ms);
        EXPECT_TRUE(status.ok()) << status.ToString();
        passed += status.ok();
      });
    }
    for (auto& t : threads) t.join();
    threads.clear();
  }
  EXPECT_EQ(passed.load(), 3 * kRanks);
  auto client = NewClient();
  Status short_of_ranks = client->Barrier("lonely", 2, 100ms);
  EXPECT_EQ(short_of_ranks.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(short_of_ranks.message().find("1 of 2"), std::string::npos);
}

TEST_F(TcpStoreTest, SetLocalWakesWaiters) {
  auto client = NewClient();
  std::thread publisher([&] {
    std::this_thread::sleep_for(100ms);
    server_->SetLocal("job/world_size", ToBytes("4"));
  });
  auto got = client->Get("job/world_size", 5'000ms);
  publisher.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ToString(*got), "4");
  // Visible at once to a request sent after SetLocal returned.
  server_->SetLocal("job/id", ToBytes("j1"));
  EXPECT_TRUE(client->Check("job/id").value());
}

TEST_F(TcpStoreTest, WrongSecretIsRefusedWhileGoodClientsWork) {
  auto good = NewClient();
  ASSERT_TRUE(good->Set("k", ToBytes("v")).ok());
  auto bad = TcpStoreClient::Connect(address_, "not-the-secret", 5'000ms);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated) << bad.status().ToString();
  const std::string& message = bad.status().message();
  EXPECT_NE(message.find("store at " + address_.ToString() + " refused our credentials"),
            std::string::npos) << message;
  EXPECT_NE(message.find("COHORT_JOB_SECRET"), std::string::npos);
  EXPECT_EQ(message.find(secret_), std::string::npos);
  EXPECT_EQ(message.find("not-the-secret"), std::string::npos);
  EXPECT_TRUE(RejectedReaches(1, 2'000ms));
  EXPECT_EQ(ToString(good->Get("k", 0ms).value()), "v");
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, LostServerMakesCallsUnavailable) {
  auto client = NewClient();
  ASSERT_TRUE(client->Set("k", ToBytes("v")).ok());
  server_.reset();
  for (int attempt = 0; attempt < 2; ++attempt) {
    Status status = client->Set("k", ToBytes("v"));
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
    EXPECT_NE(status.message().find("lost connection to the store at " + address_.ToString()),
              std::string::npos) << status.message();
    EXPECT_NE(status.message().find("still running"), std::string::npos);
  }
}

TEST_F(TcpStoreTest, StopIsPromptWithWaitersAndIdleClients) {
  auto waiter = NewClient();
  auto idle = NewClient();
  std::thread blocked([&] {
    auto got = waiter->Get("never", 30'000ms);
    EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
  });
  std::this_thread::sleep_for(50ms);
  auto start = Clock::now();
  server_.reset();
  EXPECT_LT(Clock::now() - start, 1'000ms);
  blocked.join();
  EXPECT_LT(Clock::now() - start, 2'000ms);
}

TEST_F(TcpStoreTest, ThirtyTwoConcurrentClients) {
  constexpr int kClients = 32;
  constexpr int kOpsEach = 50;
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = NewClient();
      ASSERT_NE(client, nullptr);
      for (int i = 0; i < kOpsEach; ++i) {
        std::string key = "c" + std::to_string(c) + "/" + std::to_string(i);
        std::string value = std::to_string(c * 1000 + i);
        ASSERT_TRUE(client->Set(key, ToBytes(value)).ok());
        ASSERT_TRUE(client->Add("total", 1).ok());
        // Read a key that another client writes, waiting for it if needed.
        std::string other = "c" + std::to_string((c + 1) % kClients) + "/" + std::to_string(i);
        auto got = client->Get(other, 10'000ms);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        EXPECT_EQ(ToString(*got), std::to_string(((c + 1) % kClients) * 1000 + i));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(NewClient()->Add("total", 0).value(), kClients * kOpsEach);
  EXPECT_EQ(server_->rejected_connections(), 0u);
}

TEST_F(TcpStoreTest, SharedClientAcrossThreads) {
  auto client = NewClient();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) ASSERT_TRUE(client->Add("shared", 1).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(client->Add("shared", 0).value(), 800);
}

}  // namespace
}  // namespace cohort::testing
