// allreduce_demo: data-parallel training in a few lines of cohort. Every rank holds a shard of
// a synthetic linear-regression data set (generated from a seed, so no files), computes the
// gradient of the mean squared error on its mini-batch, and averages it with allreduce(avg);
// all ranks then take the same SGD step. Rank 0 prints the loss and the throughput; at the end
// every rank checks that its parameters are bit-identical to rank 0's.
//   cohortrun -np 4 build/examples/allreduce_demo [--steps 300] [--dim 32] [--batch 256]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/cohort.h"

namespace {

// Uniform in [-1, 1) from a counter: the same data on every run, different on every rank.
float Uniform(uint64_t seed, uint64_t i) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + i;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<float>(x >> 40) / static_cast<float>(1ull << 23) - 1.0f;
}

struct Shard {
  int dim = 0;
  std::vector<float> x;  // samples x dim, row-major
  std::vector<float> y;
};

// y = x . w_true + 0.01 * noise, with w_true[j] = sin(j + 1): the same model on every rank.
Shard MakeShard(int rank, int samples, int dim) {
  Shard s;
  s.dim = dim;
  s.x.resize(static_cast<size_t>(samples) * dim);
  s.y.resize(static_cast<size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    float target = 0;
    for (int j = 0; j < dim; ++j) {
      const float v = Uniform(1000 + rank, static_cast<uint64_t>(i) * dim + j);
      s.x[static_cast<size_t>(i) * dim + j] = v;
      target += v * std::sin(static_cast<float>(j + 1));
    }
    s.y[i] = target + 0.01f * Uniform(5000 + rank, i);
  }
  return s;
}

// Gradient of the mean squared error over samples [first, first + batch) into grad[0..dim);
// grad[dim] receives the batch's loss so that one allreduce averages both.
void Gradient(const Shard& s, const std::vector<float>& w, int first, int batch,
              std::vector<float>& grad) {
  std::fill(grad.begin(), grad.end(), 0.0f);
  for (int i = first; i < first + batch; ++i) {
    const float* row = &s.x[static_cast<size_t>(i) * s.dim];
    float error = -s.y[i];
    for (int j = 0; j < s.dim; ++j) error += row[j] * w[j];
    for (int j = 0; j < s.dim; ++j) grad[j] += 2.0f * error * row[j] / batch;
    grad[s.dim] += error * error / batch;
  }
}

int Flag(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = Flag(argc, argv, "--steps", 300);
  const int dim = Flag(argc, argv, "--dim", 32);
  const int batch = Flag(argc, argv, "--batch", 256);
  const int samples = batch * 16;
  const float learning_rate = 0.1f;
  try {
    cohort::Communicator& comm = cohort::init();
    const int rank = comm.rank(), size = comm.size();
    const Shard shard = MakeShard(rank, samples, dim);

    std::vector<float> w(dim, 0.0f);  // parameters, identical on every rank from the start
    comm.broadcast({w.data(), w.size(), cohort::DataType::kF32}, 0);
    std::vector<float> grad(dim + 1);
    float loss = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int step = 1; step <= steps; ++step) {
      Gradient(shard, w, ((step - 1) % (samples / batch)) * batch, batch, grad);
      comm.allreduce({grad.data(), grad.size(), cohort::DataType::kF32}, cohort::ReduceOp::kAvg);
      for (int j = 0; j < dim; ++j) w[j] -= learning_rate * grad[j];
      loss = grad[dim];
      if (rank == 0 && (step % 50 == 0 || step == 1)) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("step %4d  loss %.6f  %.0f samples/s (%d ranks)\n", step, loss,
                    static_cast<double>(step) * batch * size / seconds, size);
        std::fflush(stdout);
      }
    }

    // Every rank compares its parameters with rank 0's, bit for bit.
    std::vector<float> reference = w;
    comm.broadcast({reference.data(), reference.size(), cohort::DataType::kF32}, 0);
    int32_t differs = std::memcmp(reference.data(), w.data(), w.size() * sizeof(float)) != 0;
    comm.allreduce({&differs, 1, cohort::DataType::kI32}, cohort::ReduceOp::kSum);
    if (rank == 0) {
      if (differs) {
        std::printf("FAIL: parameters differ from rank 0's on %d of %d ranks\n", differs, size);
      } else {
        std::printf("parameters identical on all %d ranks; final loss %.6f\n", size, loss);
      }
    }
    cohort::shutdown();
    return differs ? 1 : 0;
  } catch (const cohort::Error& e) {
    std::fprintf(stderr, "allreduce_demo: %s\n", e.what());
    return 1;
  }
}
