// ShardedOptimizer (ZeRO 1 and 2) with ranks as threads: the same parameters as unsharded
// data-parallel training (allreduce, then the optimizer on everything) within 1e-6 relative on
// f32 (max-norm), optimizer state per rank 1/N of the whole, and errors for inconsistent set-ups.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "kernels/cpu/reduce.h"
#include "runtime/zero/sharded_optimizer.h"
#include "tests/unit/comm/thread_ranks.h"

namespace cohort {
namespace {

using testing::RunRanks;
using testing::TestConfig;
using testing::UniqueJobId;

const std::vector<size_t> kSizes = {1000, 333, 17, 4097, 1, 2500};

struct Result {
  double max_relative_error = 0;
  size_t state_bytes = 0, partition = 0, total = 0, gradient_bytes = 0;
};

// Trains `steps` steps both ways on every rank; returns rank 0's measurements.
Result Compare(int ranks, int stage, const OptimizerSpec& spec, size_t bucket_bytes, int steps) {
  Result result;
  std::mutex mutex;
  RunRanks(ranks, TestConfig(TransportChoice::kAuto, UniqueJobId()), [&](Communicator& comm) {
    const uint32_t seed = 1234;  // printed by the assertion messages
    std::mt19937 init_rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    std::vector<std::vector<float>> params, grads;
    size_t total = 0;
    for (size_t n : kSizes) {
      params.emplace_back(n);
      grads.emplace_back(n);
      for (float& p : params.back()) p = normal(init_rng);  // the same on every rank
      total += n;
    }
    std::vector<float> reference, reference_grad(total);
    for (const auto& p : params) reference.insert(reference.end(), p.begin(), p.end());
    ShardOptimizer unsharded = ValueOrThrow(ShardOptimizer::Make(spec, total, "reference"));

    std::vector<BufferView> p_views, g_views;
    for (size_t i = 0; i < params.size(); ++i) {
      p_views.push_back({params[i].data(), params[i].size(), DataType::kF32});
      g_views.push_back({grads[i].data(), grads[i].size(), DataType::kF32});
    }
    ShardedOptimizerOptions options;
    options.stage = stage;
    options.bucket_bytes = bucket_bytes;
    ShardedOptimizer zero(comm, p_views, g_views, spec, options);

    std::mt19937 rng(seed + 1 + static_cast<uint32_t>(comm.rank()));
    for (int step = 0; step < steps; ++step) {
      size_t at = 0;
      for (auto& g : grads) {
        for (float& x : g) x = normal(rng);
        std::copy(g.begin(), g.end(), reference_grad.begin() + static_cast<std::ptrdiff_t>(at));
        at += g.size();
      }
      zero.step();
      comm.allreduce({reference_grad.data(), total, DataType::kF32}, ReduceOp::kAvg);
      unsharded.BeginStep();
      ASSERT_TRUE(unsharded.Apply(0, total, reference.data(), reference_grad.data(), DataType::kF32,
                                  nullptr, DataType::kF32, 1.0).ok());
    }
    // Relative to the parameters' scale (max-norm): element-wise ratios blow up near zero, where
    // one rounding of a differently ordered sum is all that differs.
    double diff = 0, scale = 0;
    size_t at = 0;
    for (const auto& p : params) {
      for (float x : p) {
        const double want = reference[at++];
        diff = std::max(diff, std::abs(x - want));
        scale = std::max(scale, std::abs(want));
      }
    }
    const double worst = diff / scale;
    EXPECT_EQ(zero.steps(), steps);
    std::lock_guard lock(mutex);
    result.max_relative_error = std::max(result.max_relative_error, worst);
    if (comm.rank() == 0) {
      result.state_bytes = zero.state_bytes();
      result.partition = zero.partition_elements();
      result.total = zero.total_elements();
      result.gradient_bytes = zero.gradient_bytes();
    }
  });
  return result;
}

TEST(ShardedOptimizerTest, EqualsUnshardedTrainingWithin1e6) {
  for (int stage : {1, 2}) {
    for (int ranks : {1, 2, 3, 4}) {
      for (const OptimizerSpec& spec : {OptimizerSpec::AdamW(1e-2, 0.01), OptimizerSpec::Sgd(0.05, 0.9, true, 1e-4)}) {
        Result r = Compare(ranks, stage, spec, /*bucket_bytes=*/8192, /*steps=*/6);
        std::printf("stage %d, %d ranks, %s: max relative difference %.2e\n", stage, ranks,
                    std::string(OptimizerTypeName(spec.type)).c_str(), r.max_relative_error);
        EXPECT_LE(r.max_relative_error, 1e-6)
            << "stage " << stage << ", " << ranks << " ranks, " << DescribeOptimizer(spec) << " (seed 1234)";
      }
    }
  }
}

TEST(ShardedOptimizerTest, StatePerRankIsOneNthOfTheWhole) {
  size_t total = 0;
  for (size_t n : kSizes) total += n;
  const size_t whole = 2 * sizeof(float) * total;  // Adam's two moments, unsharded
  for (int ranks : {2, 4}) {
    Result r = Compare(ranks, 2, OptimizerSpec::Adam(1e-3), 8192, 1);
    EXPECT_EQ(r.total, total);
    EXPECT_EQ(r.state_bytes, 2 * sizeof(float) * r.partition);
    // Each bucket of 2048 elements rounds up to the ranks: at most ranks-1 padding elements each.
    const size_t buckets = (total + 2047) / 2048;
    EXPECT_GE(r.partition * ranks, total);
    EXPECT_LE(r.partition * ranks, total + buckets * (ranks - 1));
    EXPECT_LE(static_cast<double>(r.state_bytes), 1.01 * static_cast<double>(whole) / ranks);
    EXPECT_EQ(r.gradient_bytes, r.partition * sizeof(float)) << "stage 2 keeps only its slice of the gradients";
    Result one = Compare(ranks, 1, OptimizerSpec::Adam(1e-3), 8192, 1);
    EXPECT_GE(one.gradient_bytes, total * sizeof(float)) << "stage 1 keeps the whole reduced gradient";
    EXPECT_EQ(one.state_bytes, r.state_bytes);
  }
}

TEST(ShardedOptimizerTest, BFloat16ParametersKeepF32MasterWeights) {
  RunRanks(2, TestConfig(TransportChoice::kAuto, UniqueJobId()), [&](Communicator& comm) {
    std::vector<float> wide(3000, 1.0f);
    std::vector<uint16_t> params(3000), grads(3000);
    kernels::FloatToBFloat16(params.data(), wide.data(), wide.size());
    std::vector<float> g(3000, 1.0f);
    kernels::FloatToBFloat16(grads.data(), g.data(), g.size());
    ShardedOptimizer zero(comm, {{params.data(), 3000, DataType::kBF16}}, {{grads.data(), 3000, DataType::kBF16}},
                          OptimizerSpec::Sgd(1e-3), {2, 1024});
    // 1 - 1e-3 is not representable in bf16; the f32 master accumulates the small steps.
    for (int i = 0; i < 10; ++i) zero.step();
    kernels::BFloat16ToFloat(wide.data(), params.data(), params.size());
    for (float v : wide) ASSERT_NEAR(v, 0.99f, 0.004f);
    EXPECT_EQ(zero.master_bytes(), zero.partition_elements() * 4);
  });
}

TEST(ShardedOptimizerTest, InconsistentSetUpsAreClearErrors) {
  RunRanks(2, TestConfig(TransportChoice::kAuto, UniqueJobId()), [&](Communicator& comm) {
    std::vector<float> p(comm.rank() == 1 ? 11 : 10), g(p.size());
    try {
      ShardedOptimizer zero(comm, {{p.data(), p.size(), DataType::kF32}}, {{g.data(), g.size(), DataType::kF32}},
                            OptimizerSpec::Sgd(0.1));
      ADD_FAILURE() << "ranks with different models were accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("but rank"), std::string::npos) << e.what();
    }
    std::vector<float> short_grad(9);
    EXPECT_THROW(ShardedOptimizer(comm, {{p.data(), p.size(), DataType::kF32}},
                                  {{short_grad.data(), 9, DataType::kF32}}, OptimizerSpec::Sgd(0.1)),
                 InvalidArgument);
    EXPECT_THROW(ShardedOptimizer(comm, {{p.data(), p.size(), DataType::kF32}}, {{g.data(), g.size(), DataType::kF32}},
                                  OptimizerSpec::Sgd(0.1), {3, 1024}),
                 InvalidArgument);
    EXPECT_THROW(ShardedOptimizer(comm, {{p.data(), p.size(), DataType::kF32}}, {{g.data(), g.size(), DataType::kF32}},
                                  OptimizerSpec::Aggregate()),
                 InvalidArgument);
  });
}

}  // namespace
}  // namespace cohort
