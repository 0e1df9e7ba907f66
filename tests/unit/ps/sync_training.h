// Synchronous training through a ParameterStore next to the same training with an allreduce of
// the same gradients and a local optimizer (the unsharded data-parallel reference), compared bit
// for bit at every step. Shared by the unit tests (ranks as threads) and tests/multiproc/ps_check.
#pragma once


#include <cstring>
#include <string>
#include <vector>

#include "runtime/comm/communicator.h"
#include "runtime/optim/shard_optimizer.h"
#include "runtime/ps/parameter_store.h"

namespace cohort::testing {

inline BufferView FloatView(std::vector<float>& v) { return {v.data(), v.size(), DataType::kF32}; }

// A small model: one key split over servers, one mid-sized, one tiny (never split).
inline const std::vector<ps::KeySpec> kModel = {{"w1", {300, 1000}, DataType::kF32},
                                         {"w2", {70'001}, DataType::kF32},
                                         {"b", {17}, DataType::kF32}};

inline float InitialValue(size_t key, size_t i) {
  return static_cast<float>(static_cast<int>((key * 131 + i * 7) % 97) - 48) / 64.0f;
}

// Gradients are multiples of 1/64 with small magnitudes, so that sums and the average over 4
// workers are exact in f32 whatever the order: the store and the allreduce then agree bit for bit.
inline float Gradient(int rank, int step, size_t key, size_t i) {
  return static_cast<float>(static_cast<int>((rank * 31 + step * 17 + key * 5 + i * 3) % 61) - 30) / 64.0f;
}

// Trains kModel for `steps` synchronous steps both ways on every worker; throws at the first
// difference (InternalError naming key, step and worker).
inline void TrainBothWays(ParameterStore& ps, Communicator& comm, const OptimizerSpec& spec, int steps) {
  const int rank = comm.rank();
  std::vector<std::vector<float>> through_ps(kModel.size()), reference(kModel.size()),
      grads(kModel.size());
  std::vector<ShardOptimizer> local;
  for (size_t k = 0; k < kModel.size(); ++k) {
    const size_t n = kModel[k].count();
    through_ps[k].resize(n);
    for (size_t i = 0; i < n; ++i) through_ps[k][i] = InitialValue(k, i);
    reference[k] = through_ps[k];
    grads[k].resize(n);
    // Worker 0's values win: the others pass something else on purpose.
    std::vector<float> mine = through_ps[k];
    if (rank != 0) std::fill(mine.begin(), mine.end(), 1000.0f + static_cast<float>(rank));
    ps.init(kModel[k].name, FloatView(mine), kModel[k].shape, spec);
    local.push_back(ValueOrThrow(ShardOptimizer::Make(spec, n, "reference")));
  }
  std::vector<std::string> names;
  for (const auto& k : kModel) names.push_back(k.name);
  for (int step = 1; step <= steps; ++step) {
    std::vector<BufferView> g, out;
    for (size_t k = 0; k < kModel.size(); ++k) {
      for (size_t i = 0; i < grads[k].size(); ++i) grads[k][i] = Gradient(rank, step, k, i);
      g.push_back(FloatView(grads[k]));
      out.push_back(FloatView(through_ps[k]));
    }
    WorkPtr work = ps.push_pull_async(names, g, out);
    // The same step with an allreduce of the same gradients and a local optimizer.
    for (size_t k = 0; k < kModel.size(); ++k) {
      std::vector<float> avg = grads[k];
      comm.allreduce(FloatView(avg), ReduceOp::kAvg);
      local[k].BeginStep();
      ThrowIfError(local[k].Apply(0, avg.size(), reference[k].data(), avg.data(), DataType::kF32,
                                  nullptr, DataType::kF32, 1.0));
    }
    work->wait();
    for (size_t k = 0; k < kModel.size(); ++k) {
      if (std::memcmp(through_ps[k].data(), reference[k].data(), reference[k].size() * 4) != 0) {
        ThrowIfError(InternalError("key " + kModel[k].name + " differs from allreduce SGD at step " +
                                   std::to_string(step) + " on worker " + std::to_string(rank)));
      }
    }
  }
  for (const auto& k : kModel) {
    if (ps.step(k.name) != steps) ThrowIfError(InternalError("key " + k.name + " is not at step " + std::to_string(steps)));
  }
}

}  // namespace cohort::testing
