// The measuring loop of cohort-bench: for every dtype, op and size, times the collective out of
// place and in place on buffers allocated once at the largest size, checks results with -c 1,
// and prints nccl-tests' rows from rank 0. Drives a BenchBackend (cohort, or a baseline); the pure
// parts it uses live in bench_math, bench_format, bench_options and expected.
#pragma once

#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "benchmarks/cohort_bench/bench_backend.h"
#include "benchmarks/cohort_bench/bench_format.h"
#include "benchmarks/cohort_bench/bench_math.h"
#include "benchmarks/cohort_bench/bench_options.h"
#include "runtime/device/cuda_runtime.h"

namespace cohort::bench {

class BenchRunner {
 public:
  BenchRunner(BenchBackend& backend, BenchOptions options, std::string command_line);
  ~BenchRunner();
  BenchRunner(const BenchRunner&) = delete;
  BenchRunner& operator=(const BenchRunner&) = delete;

  // Runs the whole sweep; returns the process exit status (1 if any element was wrong).
  // Throws cohort::Error when a collective fails.
  int Run();

 private:
  struct Buffer;
  std::string RankLine() const;
  Measured Measure(const BufferLayout& layout, DataType dtype, ReduceOp op, bool in_place);
  void Call(const BufferView& send, const BufferView& recv, ReduceOp op);
  // A row's result when the backend cannot run the case: N/A, with the reason printed once.
  Measured Skip(const std::string& why);
  long long CheckOnce(const BufferLayout& layout, DataType dtype, ReduceOp op, bool in_place);
  // -g 1: picks the device and allocates device buffers the size of the host ones.
  void SetUpDevice();
  // -g 1: copies both host buffers to the device (true) or back (false); otherwise nothing.
  void SyncDevice(bool to_device);

  Device device_ = Device::Cpu();
  cuda::DeviceBuffer device_send_, device_recv_;

  BenchBackend& backend_;
  BenchOptions options_;
  std::string command_line_;
  std::unique_ptr<Buffer> send_, recv_;
  std::set<std::string> skip_reasons_;  // printed once each
  std::string timed_algorithm_;         // what the last timed loop ran
};

}  // namespace cohort::bench
