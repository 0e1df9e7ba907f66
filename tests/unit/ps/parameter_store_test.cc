// ParameterStore end to end with workers and servers as threads: synchronous SGD against
// allreduce-based SGD, asynchronous pushes that lose nothing, bounded staleness, 16-bit keys,
// learning-rate changes, initializers, and every bad input the issue lists.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>

#include "kernels/cpu/reduce.h"
#include "runtime/optim/shard_optimizer.h"
#include "tests/unit/ps/ps_test_util.h"
#include "tests/unit/ps/sync_training.h"

namespace cohort {
namespace {

using testing::RunStore;
using testing::TrainBothWays;
using testing::StoreSetup;
using testing::View;

struct Layout {
  int servers;
  bool dedicated;
};

class SyncSgdTest : public ::testing::TestWithParam<Layout> {};

TEST_P(SyncSgdTest, SameParametersAsAllreduceSgd) {
  StoreSetup setup;
  setup.workers = 4;
  setup.servers = GetParam().servers;
  setup.dedicated = GetParam().dedicated;
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    EXPECT_EQ(ps.num_servers(), setup.servers);
    EXPECT_EQ(ps.dedicated_servers(), setup.dedicated);
    TrainBothWays(ps, comm, OptimizerSpec::Sgd(0.05, 0.9, /*nesterov=*/true, 1e-3), 4);
  });
}

INSTANTIATE_TEST_SUITE_P(Layouts, SyncSgdTest,
                         ::testing::Values(Layout{2, false}, Layout{3, false}, Layout{2, true},
                                           Layout{3, true}),
                         [](const auto& info) {
                           return std::to_string(info.param.servers) +
                                  (info.param.dedicated ? "Dedicated" : "CoLocated");
                         });

TEST(ParameterStoreTest, SyncAdamOverTcpMatchesAllreduce) {
  StoreSetup setup;
  setup.workers = 3;
  setup.servers = 2;
  setup.transport = TransportChoice::kTcp;
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    TrainBothWays(ps, comm, OptimizerSpec::AdamW(1e-2, 0.01), 3);
  });
}

// 4 workers x 1,000 pushes of integer increments: nothing is lost, the sum is exact.
void AsyncSum(const StoreSetup& base) {
  StoreSetup setup = base;
  setup.options.asynchronous = true;
  setup.options.optimizer = OptimizerSpec::Aggregate();
  setup.options.min_split_bytes = 64;  // split the key over every server
  constexpr int kPushes = 1000;
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    std::vector<float> value(96, 0.0f), inc(96, static_cast<float>(comm.rank() + 1));
    ps.init("counter", View(value));
    EXPECT_EQ(ps.placement("counter").size(), static_cast<size_t>(setup.servers));
    std::vector<WorkPtr> pending;
    for (int i = 0; i < kPushes; ++i) {
      if (i % 2 == 0) {
        ps.push("counter", View(inc));
      } else {
        pending.push_back(ps.push_async("counter", View(inc)));  // queued behind each other
      }
    }
    for (auto& w : pending) w->wait();
    EXPECT_EQ(ps.step("counter"), kPushes);
    comm.barrier();  // every worker's pushes are in
    ps.pull("counter", View(value));
    const float expected = kPushes * (1 + 2 + 3 + 4);
    for (float v : value) ASSERT_EQ(v, expected);
  });
}

TEST(ParameterStoreTest, AsyncLosesNoUpdateCoLocated) {
  StoreSetup setup;
  setup.servers = 4;
  AsyncSum(setup);
}

TEST(ParameterStoreTest, AsyncLosesNoUpdateDedicated) {
  StoreSetup setup;
  setup.servers = 2;
  setup.dedicated = true;
  AsyncSum(setup);
}

// Each worker pushes a one-hot vector, so the values are every worker's push count; a push_pull's
// reply is the worker's view right after its push: its lead over the slowest worker.
int MaxObservedLead(int staleness, int steps) {
  StoreSetup setup;
  setup.servers = 2;
  setup.options.asynchronous = true;
  setup.options.staleness = staleness;
  setup.options.optimizer = OptimizerSpec::Aggregate();
  setup.options.min_split_bytes = 4;  // one element per server at least
  std::atomic<int> max_lead{0};
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    const int n = comm.size(), me = comm.rank();
    std::vector<float> counts(static_cast<size_t>(n), 0.0f), hot(static_cast<size_t>(n), 0.0f);
    hot[static_cast<size_t>(me)] = 1.0f;
    ps.init("counts", View(counts));
    for (int t = 1; t <= steps; ++t) {
      if (me == n - 1) std::this_thread::sleep_for(std::chrono::milliseconds(3));  // the slow one
      ps.push_pull("counts", View(hot), View(counts));
      EXPECT_EQ(counts[static_cast<size_t>(me)], static_cast<float>(t));
      const int lead = t - static_cast<int>(*std::min_element(counts.begin(), counts.end()));
      int seen = max_lead.load();
      while (lead > seen && !max_lead.compare_exchange_weak(seen, lead)) {
      }
    }
  });
  return max_lead.load();
}

TEST(ParameterStoreTest, BoundedStalenessHolds) {
  EXPECT_EQ(MaxObservedLead(2, 40), 2) << "the lead must reach the bound and never pass it";
  EXPECT_EQ(MaxObservedLead(0, 20), 0);
  // The check can fail: without a bound the fast workers run ahead of the slow one.
  EXPECT_GT(MaxObservedLead(-1, 40), 2);
}

TEST(ParameterStoreTest, HalfPrecisionKeysAggregate) {
  StoreSetup setup;
  setup.workers = 2;
  setup.options.optimizer = OptimizerSpec::Aggregate();
  for (DataType dtype : {DataType::kBF16, DataType::kF16}) {
    RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
      std::vector<uint16_t> value(1000, 0), grad(1000), out(1000);
      ps.init("h", {value.data(), value.size(), dtype}, {10, 100});
      std::vector<float> wide(1000, 0.25f * static_cast<float>(comm.rank() + 1));  // mean: 0.375
      if (dtype == DataType::kBF16) kernels::FloatToBFloat16(grad.data(), wide.data(), wide.size());
      else kernels::FloatToHalf(grad.data(), wide.data(), wide.size());
      ps.push_pull("h", {grad.data(), grad.size(), dtype}, {out.data(), out.size(), dtype});
      if (dtype == DataType::kBF16) kernels::BFloat16ToFloat(wide.data(), out.data(), out.size());
      else kernels::HalfToFloat(wide.data(), out.data(), out.size());
      for (float v : wide) ASSERT_EQ(v, 0.375f);
      // f32 buffers for a 16-bit key are refused.
      std::vector<float> wrong(1000);
      EXPECT_THROW(ps.pull("h", View(wrong)), InvalidArgument);
    });
  }
}

TEST(ParameterStoreTest, LearningRateChangesApply) {
  StoreSetup setup;
  setup.workers = 2;
  RunStore(setup, [&](ParameterStore& ps, Communicator&) {
    std::vector<float> w(8, 1.0f), g(8, 1.0f);
    ps.init("w", View(w), {}, OptimizerSpec::Sgd(0.5));
    ps.push_pull("w", View(g), View(w));
    for (float v : w) ASSERT_EQ(v, 0.5f);
    ps.set_learning_rate(0.25);
    EXPECT_EQ(ps.optimizer("w").lr, 0.25);
    ps.push_pull("w", View(g), View(w));
    for (float v : w) ASSERT_EQ(v, 0.25f);
    // The type (and the state it keeps) cannot change.
    EXPECT_THROW(ps.set_optimizer(OptimizerSpec::Adam(0.1)), InvalidArgument);
  });
}

TEST(ParameterStoreTest, GeneratedValuesDoNotDependOnTheServers) {
  std::vector<std::vector<float>> seen;
  for (int servers : {1, 3}) {
    StoreSetup setup;
    setup.workers = 3;
    setup.servers = servers;
    setup.options.min_split_bytes = 1024;
    std::vector<float> got(5000);
    RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
      ps.init("u", {50, 100}, DataType::kF32, ps::Initializer::Uniform(-1, 1, 42));
      std::vector<float> mine(5000);
      ps.pull("u", View(mine));
      if (comm.rank() == 0) got = mine;
    });
    seen.push_back(got);
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_NE(seen[0][0], seen[0][1]);
  for (float v : seen[0]) ASSERT_TRUE(v >= -1 && v <= 1);
}

TEST(ParameterStoreTest, BadInputGivesClearErrors) {
  StoreSetup setup;
  setup.workers = 2;
  RunStore(setup, [&](ParameterStore& ps, Communicator&) {
    std::vector<float> w(12, 0.0f), g(12, 1.0f), short_buf(11);
    ps.init("w", View(w), {3, 4}, OptimizerSpec::Sgd(1.0));
    auto message = [](const std::function<void()>& f) -> std::string {
      try {
        f();
      } catch (const InvalidArgument& e) {
        return e.what();
      }
      return "(no InvalidArgument)";
    };
    const std::string worker = "worker " + std::to_string(ps.worker_rank());
    std::string m = message([&] { ps.pull("nope", View(w)); });
    EXPECT_NE(m.find("unknown key 'nope'"), std::string::npos) << m;
    EXPECT_NE(m.find(worker), std::string::npos) << m;
    m = message([&] { ps.push("w", View(short_buf)); });
    EXPECT_NE(m.find("11 elements"), std::string::npos) << m;
    EXPECT_NE(m.find("'w'"), std::string::npos) << m;
    std::vector<uint16_t> half(12);
    m = message([&] { ps.push("w", {half.data(), 12, DataType::kF16}); });
    EXPECT_NE(m.find("dtype f16"), std::string::npos) << m;
    m = message([&] { ps.init("w", View(short_buf)); });
    EXPECT_NE(m.find("already declared"), std::string::npos) << m;

    // A push for a step already applied is refused and applies nothing.
    ps.push_pull("w", View(g), View(w));  // step 1: w = -1
    m = message([&] { ps.push("w", View(g), /*step=*/1); });
    EXPECT_NE(m.find("already applied"), std::string::npos) << m;
    EXPECT_NE(m.find(worker), std::string::npos) << m;
    // A push ahead of the current step is refused too, and the worker's step count stays.
    m = message([&] { ps.push("w", View(g), /*step=*/5); });
    EXPECT_NE(m.find("is not complete yet"), std::string::npos) << m;
    EXPECT_EQ(ps.step("w"), 1);
    ps.push_pull("w", View(g), View(w));  // step 2
    for (float v : w) ASSERT_EQ(v, -2.0f) << "step 1 must have been applied exactly once";
    EXPECT_EQ(ps.step("w"), 2);
  });
}

TEST(ParameterStoreTest, WorkersThatDeclareDifferentKeysFail) {
  StoreSetup setup;
  setup.workers = 3;
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    std::vector<float> w(comm.rank() == 2 ? 10 : 12, 0.0f);
    try {
      ps.init("w", View(w));
      ADD_FAILURE() << "init with different shapes succeeded on worker " << comm.rank();
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("differs between workers"), std::string::npos) << e.what();
    }
  });
}

TEST(ParameterStoreTest, AWorkerThatNeverPushesTimesOutWithAnExplanation) {
  StoreSetup setup;
  setup.workers = 2;
  setup.timeout = std::chrono::milliseconds(1500);
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    std::vector<float> w(4, 0.0f);
    ps.init("w", View(w));
    if (comm.rank() == 0) {
      try {
        ps.push("w", View(w));
        ADD_FAILURE() << "a synchronous step completed without worker 1";
      } catch (const TimeoutError& e) {
        EXPECT_NE(std::string(e.what()).find("lacks the pushes of worker 1"), std::string::npos) << e.what();
      }
    }
  });
}

}  // namespace
}  // namespace cohort
