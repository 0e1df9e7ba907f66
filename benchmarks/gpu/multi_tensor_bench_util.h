// Helpers for gpu-multi-tensor-bench (benchmarks/gpu/multi_tensor_bench.cc): options, result
// records and their table/JSON forms, event timing with a median over repeats, finite-valued
// device buffers, and the fixed 1,000-tensor size mix shared with torch_multi_tensor_bench.py.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/multi_tensor.h"
#include "runtime/device/cuda_runtime.h"

namespace cohort::bench::gpu {

namespace kc = cohort::kernels::cuda;
using cohort::DataType;
using cohort::Status;

constexpr size_t kMiB = size_t{1} << 20;

inline void Check(const Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "gpu-multi-tensor-bench: %s: %s\n", what, status.ToString().c_str());
    std::exit(1);
  }
}
template <typename T>
T Take(cohort::Result<T> result, const char* what) {
  Check(result.status(), what);
  return std::move(result).value();
}

struct Options {
  std::string json;
  int repeats = 50;
  int warmup = 5;
  bool quick = false;
};

struct Record {
  std::string kernel, dtype;
  size_t shard_bytes = 0, bytes = 0, tensors = 1, k = 0;
  double time_us = 0, host_us = 0, speedup = 0;
};

class Bench {
 public:
  explicit Bench(const Options& options) : options_(options) {
    stream_ = Take(cohort::cuda::Stream::Create(0, false), "creating a stream");
    workspace_ = Take(kc::MultiTensorWorkspace::Create(0), "creating the workspace");
    Check(workspace_.Reserve(4096, 65536), "reserving the workspace");
    for (int i = 0; i < options.repeats; ++i) {
      starts_.push_back(Take(cohort::cuda::Event::Create(0, true), "creating an event"));
      stops_.push_back(Take(cohort::cuda::Event::Create(0, true), "creating an event"));
    }
    norm_ = Take(cohort::cuda::DeviceBuffer::Allocate(0, sizeof(cohort::kernels::L2NormResult)), "allocating");
  }
  void* stream() const { return stream_.get(); }
  kc::MultiTensorWorkspace& workspace() { return workspace_; }
  auto* norm_result() { return static_cast<cohort::kernels::L2NormResult*>(norm_.data()); }

  // Device memory filled with values that are finite as f32, f16 and bf16 alike.
  cohort::cuda::DeviceBuffer Buffer(size_t bytes) {
    auto buffer = Take(cohort::cuda::DeviceBuffer::Allocate(0, bytes), "allocating device memory");
    std::vector<uint32_t> pattern(std::min(bytes, kMiB) / 4);
    uint32_t x = 12345;
    for (uint32_t& word : pattern) {
      x = x * 1664525u + 1013904223u;
      word = 0x3f800000u | (x & 0x007f3fffu);  // high half 0x3f80..0x3fff, low half < 0x3fff
    }
    char* data = static_cast<char*>(buffer.data());
    Check(cohort::cuda::MemcpyAsync(data, pattern.data(), pattern.size() * 4, stream()), "upload");
    for (size_t filled = pattern.size() * 4; filled < bytes; filled *= 2) {
      Check(cohort::cuda::MemcpyAsync(data + filled, data, std::min(filled, bytes - filled), stream()), "fill");
    }
    Check(cohort::cuda::StreamSynchronize(stream()), "fill");
    return buffer;
  }

  // Median microseconds of `run(repeat)`. `synced`: wait for the device before each repeat so
  // the event pair also covers the host's enqueue time; otherwise repeats queue back to back.
  double MedianUs(const std::function<Status(int)>& run, bool synced, double* host_us = nullptr) {
    for (int i = 0; i < options_.warmup; ++i) Check(run(i), "warm-up");
    Check(cohort::cuda::StreamSynchronize(stream()), "warm-up");
    std::vector<double> host(options_.repeats);
    for (int i = 0; i < options_.repeats; ++i) {
      if (synced) Check(cohort::cuda::StreamSynchronize(stream()), "sync");
      const auto begin = std::chrono::steady_clock::now();
      Check(starts_[i].Record(stream()), "event");
      Check(run(options_.warmup + i), "timed run");
      Check(stops_[i].Record(stream()), "event");
      if (synced) Check(cohort::cuda::StreamSynchronize(stream()), "sync");
      host[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - begin).count();
    }
    Check(cohort::cuda::StreamSynchronize(stream()), "sync");
    std::vector<double> times;
    for (int i = 0; i < options_.repeats; ++i) {
      times.push_back(1000.0 * Take(stops_[i].ElapsedMs(starts_[i]), "event time"));
    }
    std::sort(times.begin(), times.end());
    std::sort(host.begin(), host.end());
    if (host_us != nullptr) *host_us = host[host.size() / 2];
    return times[times.size() / 2];
  }

 private:
  Options options_;
  cohort::cuda::Stream stream_;
  kc::MultiTensorWorkspace workspace_;
  std::vector<cohort::cuda::Event> starts_, stops_;
  cohort::cuda::DeviceBuffer norm_;
};

// The 1,000-tensor mix, shared with torch_multi_tensor_bench.py (same integer arithmetic):
// splitmix64 from seed 4096, count = 2^e + r mod 2^e with e uniform in [8, 20], then scaled
// so that the counts add up to exactly `total` elements.
inline std::vector<size_t> TensorMix(size_t tensors, size_t total) {
  uint64_t state = 4096;
  const auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::vector<uint64_t> raw(tensors);
  uint64_t sum = 0;
  for (uint64_t& count : raw) {
    const uint64_t e = 8 + next() % 13;
    count = (uint64_t{1} << e) + next() % (uint64_t{1} << e);
    sum += count;
  }
  std::vector<size_t> counts(tensors);
  uint64_t scaled = 0;
  for (size_t i = 0; i < tensors; ++i) {
    counts[i] = std::max<uint64_t>(1, raw[i] * total / sum);
    scaled += counts[i];
  }
  counts.back() += total - scaled;
  return counts;
}

inline void Print(const Record& r, double copy_gbps) {
  const double gbps = static_cast<double>(r.bytes) / r.time_us / 1e3;
  std::printf("%-20s %-14s %7zu %9.1f %10.1f %8.1f %6.2f", r.kernel.c_str(), r.dtype.c_str(),
              r.tensors, static_cast<double>(r.shard_bytes) / kMiB, r.time_us, gbps, gbps / copy_gbps);
  if (r.speedup > 0) std::printf("   %.1fx faster than the per-tensor loop", r.speedup);
  std::printf("\n");
}

inline std::string Json(const Record& r, double copy_gbps, const std::string& device, int repeats) {
  const double gbps = static_cast<double>(r.bytes) / r.time_us / 1e3;
  char text[1024];
  std::snprintf(text, sizeof(text),
                "{\"kernel\": \"%s\", \"dtype\": \"%s\", \"shard_bytes\": %zu, \"bytes\": %zu, "
                "\"tensors\": %zu, \"k\": %zu, \"time_us\": %.3f, \"host_us\": %.3f, \"gbps\": %.3f, "
                "\"copy_gbps\": %.3f, \"ratio_to_copy\": %.4f, \"speedup\": %.3f, \"repeats\": %d, "
                "\"device\": \"%s\"}",
                r.kernel.c_str(), r.dtype.c_str(), r.shard_bytes, r.bytes, r.tensors, r.k, r.time_us,
                r.host_us, gbps, copy_gbps, gbps / copy_gbps, r.speedup, repeats, device.c_str());
  return text;
}

}  // namespace cohort::bench::gpu
