// Communicator behaviour with ranks as threads: every collective end to end over shm and tcp,
// async work, split, abort, timeouts and argument errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <numeric>

#include "cohort/build_config.h"
#include "runtime/base/deadline.h"
#include "tests/unit/comm/thread_ranks.h"

namespace cohort {
namespace {

using testing::RunRanks;
using testing::TestConfig;
using testing::UniqueJobId;

class CommTransportTest : public ::testing::TestWithParam<TransportChoice> {
 protected:
  Config config() { return TestConfig(GetParam(), UniqueJobId()); }
};

TEST_P(CommTransportTest, AllreduceSumOfRanksAtSeveralSizes) {
  for (int size : {1, 2, 3, 4}) {
    RunRanks(size, config(), [&](Communicator& comm) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{1000}, size_t{70'001}}) {
        std::vector<float> data(count);
        for (size_t i = 0; i < count; ++i) data[i] = static_cast<float>(comm.rank() + i % 7);
        comm.allreduce({data.data(), count, DataType::kF32}, ReduceOp::kSum);
        float ranks = static_cast<float>(size * (size - 1) / 2);
        for (size_t i = 0; i < count; ++i) {
          ASSERT_EQ(data[i], ranks + static_cast<float>(size * (i % 7))) << "index " << i;
        }
      }
    });
  }
}

TEST_P(CommTransportTest, BroadcastAllgatherAlltoallAndPointToPoint) {
  RunRanks(3, config(), [&](Communicator& comm) {
    const int n = comm.size(), me = comm.rank();
    std::vector<int64_t> b(5, me == 2 ? 42 : -1);
    comm.broadcast({b.data(), b.size(), DataType::kI64}, 2);
    EXPECT_EQ(b, std::vector<int64_t>(5, 42));

    std::vector<int32_t> mine(2, me), all(2 * n, -1);
    comm.allgather({mine.data(), 2, DataType::kI32}, {all.data(), all.size(), DataType::kI32});
    for (int r = 0; r < n; ++r) EXPECT_EQ(all[2 * r + 1], r);

    std::vector<int32_t> out(n), in(n, -1);
    for (int r = 0; r < n; ++r) out[r] = me * 10 + r;
    comm.alltoall({out.data(), out.size(), DataType::kI32}, {in.data(), in.size(), DataType::kI32});
    for (int r = 0; r < n; ++r) EXPECT_EQ(in[r], r * 10 + me);

    // Ring shift with point-to-point messages, receive posted before the send completes.
    int32_t token = me, got = -1;
    WorkPtr receive = comm.recv_async({&got, 1, DataType::kI32}, (me + n - 1) % n);
    comm.send({&token, 1, DataType::kI32}, (me + 1) % n);
    receive->wait();
    EXPECT_EQ(got, (me + n - 1) % n);
  });
}

std::string TransportName(TransportChoice t) {
  switch (t) {
    case TransportChoice::kShm: return "shm";
    case TransportChoice::kTcp: return "tcp";
    case TransportChoice::kUcx: return "ucx";
    case TransportChoice::kAuto: break;
  }
  return "auto";
}

INSTANTIATE_TEST_SUITE_P(Transports, CommTransportTest,
                         ::testing::Values(TransportChoice::kShm, TransportChoice::kTcp
#if COHORT_HAVE_UCX
                                           , TransportChoice::kUcx
#endif
                                           ),
                         [](const auto& info) { return TransportName(info.param); });

TEST(Communicator, AsyncWorkCompletesInOrderWhileCallerComputes) {
  RunRanks(2, TestConfig(TransportChoice::kAuto, UniqueJobId()), [&](Communicator& comm) {
    std::vector<std::vector<double>> buffers(8, std::vector<double>(10'000, comm.rank() + 1.0));
    std::vector<WorkPtr> works;
    for (auto& b : buffers) {
      works.push_back(comm.allreduce_async({b.data(), b.size(), DataType::kF64},
                                           {b.data(), b.size(), DataType::kF64}, ReduceOp::kMax));
    }
    for (auto& w : works) w->wait();
    for (auto& w : works) EXPECT_TRUE(w->test());
    for (auto& b : buffers) EXPECT_EQ(b[9'999], 2.0);
  });
}

TEST(Communicator, SplitMakesIndependentGroupsOrderedByKey) {
  RunRanks(4, TestConfig(TransportChoice::kAuto, UniqueJobId()), [&](Communicator& comm) {
    int color = comm.rank() % 2;
    auto sub = comm.split(color, -comm.rank());  // reversed order inside each group
    ASSERT_NE(sub, nullptr);
    EXPECT_EQ(sub->size(), 2);
    EXPECT_EQ(sub->rank(), comm.rank() < 2 ? 1 : 0);
    int64_t value = comm.rank();
    sub->allreduce({&value, 1, DataType::kI64}, ReduceOp::kSum);
    EXPECT_EQ(value, color == 0 ? 0 + 2 : 1 + 3);
    auto none = comm.split(comm.rank() == 0 ? -1 : 0, 0);
    EXPECT_EQ(none == nullptr, comm.rank() == 0);
    if (none) {
      int64_t v = 1;
      none->allreduce({&v, 1, DataType::kI64}, ReduceOp::kSum);
      EXPECT_EQ(v, 3);
      none->barrier();
    }
    sub->barrier();
  });
}

TEST(Communicator, ArgumentErrorsAreClearAndDoNotBreakTheCommunicator) {
  RunRanks(2, TestConfig(TransportChoice::kAuto, UniqueJobId()), [&](Communicator& comm) {
    std::vector<int32_t> a(4), b(3);
    try {
      comm.allreduce({a.data(), 4, DataType::kI32}, {b.data(), 3, DataType::kI32}, ReduceOp::kSum);
      ADD_FAILURE() << "mismatched counts accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("3 elements but 4"), std::string::npos) << e.what();
    }
    EXPECT_THROW(comm.allreduce({a.data(), 4, DataType::kI32}, ReduceOp::kAvg), InvalidArgument);
    EXPECT_THROW(comm.broadcast({a.data(), 4, DataType::kI32}, 5), InvalidArgument);
    EXPECT_THROW(comm.send({a.data(), 4, DataType::kI32}, comm.rank()), InvalidArgument);
    EXPECT_THROW(comm.allreduce({nullptr, 4, DataType::kI32}, ReduceOp::kSum), InvalidArgument);
    // A host pointer described as CUDA memory: refused whether or not a GPU is visible
    // (InvalidArgument), or as any CUDA buffer by a build without CUDA (UnsupportedError).
    try {
      comm.allreduce({a.data(), 4, DataType::kI32, Device::Cuda(0)}, ReduceOp::kSum);
      ADD_FAILURE() << "a host pointer described as CUDA memory was accepted";
    } catch (const InvalidArgument&) {
    } catch (const UnsupportedError&) {
    }
    // Still usable afterwards.
    int32_t one = 1;
    comm.allreduce({&one, 1, DataType::kI32}, ReduceOp::kSum);
    EXPECT_EQ(one, 2);
  });
}

// Runs `body(rank, comm)` on two thread ranks and returns what each rank's call threw.
std::vector<std::string> ErrorsOfTwoRanks(const Config& config,
                                          const std::function<void(int, Communicator&)>& body) {
  auto store = std::make_shared<MemoryStore>();
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      Identity id;
      id.rank = r;
      id.size = 2;
      auto comm = Communicator::Create(config, id, store);
      try {
        body(r, *comm);
      } catch (const Error& e) {
        errors[r] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

// Without DETAIL, links catch it in the message tags and the shared-memory arena in its call
// records; either way both ranks fail at once and name both calls.
class MismatchTest : public ::testing::TestWithParam<size_t> {};  // COHORT_SHM_SLOT_BYTES

TEST_P(MismatchTest, DtypeMismatchOfEqualSizeIsCaughtWithoutDebugMode) {
  Config config = TestConfig(TransportChoice::kShm, UniqueJobId());
  config.shm_slot_bytes = GetParam();
  auto errors = ErrorsOfTwoRanks(config, [](int r, Communicator& comm) {
    std::vector<int32_t> data(64, 1);
    comm.allreduce({data.data(), data.size(), r == 0 ? DataType::kF32 : DataType::kI32},
                   ReduceOp::kSum);
  });
  const bool arena = GetParam() != 0;
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(errors[r].find(arena ? "allreduce #1 (64 x f32, sum)" : "allreduce #1 (f32, sum)"),
              std::string::npos) << errors[r];
    EXPECT_NE(errors[r].find(arena ? "allreduce #1 (64 x i32, sum)" : "allreduce #1 (i32, sum)"),
              std::string::npos) << errors[r];
  }
}

TEST_P(MismatchTest, DifferentCollectivesAndCountsFailOnEveryRank) {
  Config config = TestConfig(TransportChoice::kShm, UniqueJobId());
  config.shm_slot_bytes = GetParam();
  config.timeout = std::chrono::seconds(20);
  // Counts that take different numbers of arena steps.
  auto errors = ErrorsOfTwoRanks(config, [](int r, Communicator& comm) {
    std::vector<float> data(r == 0 ? 1 << 20 : 1000, 1.0f);
    comm.allreduce({data.data(), data.size(), DataType::kF32}, ReduceOp::kSum);
  });
  // Different collectives.
  auto kinds = ErrorsOfTwoRanks(config, [](int r, Communicator& comm) {
    std::vector<float> data(4096, 1.0f);
    if (r == 0) comm.allreduce({data.data(), data.size(), DataType::kF32}, ReduceOp::kSum);
    if (r == 1) comm.broadcast({data.data(), data.size(), DataType::kF32}, 0);
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(errors[r].find("mismatch"), std::string::npos) << "rank " << r << ": " << errors[r];
    EXPECT_NE(kinds[r].find("mismatch"), std::string::npos) << "rank " << r << ": " << kinds[r];
  }
}

INSTANTIATE_TEST_SUITE_P(ArenaOnAndOff, MismatchTest, ::testing::Values(size_t{256} << 10, size_t{0}));

TEST(Communicator, DetailModeReportsRootMismatchWithBothCalls) {
  Config config = TestConfig(TransportChoice::kTcp, UniqueJobId());
  config.check_fingerprints = true;
  auto errors = ErrorsOfTwoRanks(config, [](int r, Communicator& comm) {
    std::vector<float> data(10, 1.0f);
    comm.broadcast({data.data(), data.size(), DataType::kF32}, r);  // each rank names itself root
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(errors[r].find("rank 0 called broadcast #1 (10 x f32, root 0) but rank 1 called "
                             "broadcast #1 (10 x f32, root 1)"),
              std::string::npos)
        << errors[r];
  }
}

// Over every network transport; ucx carries the check in its message tags (ucx_link.h).
class NetworkMismatchTest : public ::testing::TestWithParam<TransportChoice> {};

TEST_P(NetworkMismatchTest, MismatchedCountsAcrossRanksFailOnBothSides) {
  auto errors = ErrorsOfTwoRanks(TestConfig(GetParam(), UniqueJobId()),
                                 [](int r, Communicator& comm) {
    std::vector<float> data(r == 0 ? 1000 : 999, 1.0f);
    comm.allreduce({data.data(), data.size(), DataType::kF32}, ReduceOp::kSum);
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(errors[r].find("allreduce #1"), std::string::npos) << "rank " << r << ": " << errors[r];
    EXPECT_NE(errors[r].find("mismatch"), std::string::npos) << "rank " << r << ": " << errors[r];
  }
}

TEST_P(NetworkMismatchTest, DifferentDtypesOfEqualSizeNameBothCalls) {
  auto errors = ErrorsOfTwoRanks(TestConfig(GetParam(), UniqueJobId()),
                                 [](int r, Communicator& comm) {
    std::vector<int32_t> data(64, 1);
    comm.allreduce({data.data(), data.size(), r == 0 ? DataType::kF32 : DataType::kI32},
                   ReduceOp::kSum);
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(errors[r].find("(f32, sum)"), std::string::npos) << "rank " << r << ": " << errors[r];
    EXPECT_NE(errors[r].find("(i32, sum)"), std::string::npos) << "rank " << r << ": " << errors[r];
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, NetworkMismatchTest,
                         ::testing::Values(TransportChoice::kTcp
#if COHORT_HAVE_UCX
                                           , TransportChoice::kUcx
#endif
                                           ),
                         [](const auto& info) { return TransportName(info.param); });

TEST(Communicator, TimeoutNamesTheOperationAndThePeerAwaited) {
  Config config = TestConfig(TransportChoice::kShm, UniqueJobId());
  config.timeout = std::chrono::milliseconds(600);
  std::atomic<bool> done{false};
  auto errors = ErrorsOfTwoRanks(config, [&](int r, Communicator& comm) {
    if (r == 1) {  // stays alive but never joins the collective
      while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return;
    }
    float x = 1;
    auto start = Clock::now();
    try {
      comm.allreduce({&x, 1, DataType::kF32}, ReduceOp::kSum);
    } catch (const TimeoutError&) {
      EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
      done = true;
      throw;
    }
    done = true;
  });
  EXPECT_NE(errors[0].find("allreduce #1"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("timed out"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("rank 1"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("recent operations"), std::string::npos) << errors[0];
}

TEST(Communicator, AbortEndsPendingWorkAtOnce) {
  std::atomic<bool> done{false};
  auto errors = ErrorsOfTwoRanks(TestConfig(TransportChoice::kTcp, UniqueJobId()),
                                 [&](int r, Communicator& comm) {
    if (r == 1) {
      while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return;
    }
    float x = 1;
    WorkPtr work = comm.allreduce_async({&x, 1, DataType::kF32}, {&x, 1, DataType::kF32},
                                        ReduceOp::kSum);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto start = Clock::now();
    comm.abort("test abort");
    comm.abort("second abort is harmless");
    EXPECT_THROW(work->wait(), PeerError);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
    done = true;
    comm.barrier();  // later calls fail with the abort reason
  });
  EXPECT_NE(errors[0].find("test abort"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace cohort
