// gpu-optimizer-bench: bandwidth of the fused optimizer kernels (kernels/cuda/optimizer.h)
// against the device's own copy bandwidth, measured in the same run.
//
//   gpu-optimizer-bench [--json FILE] [--repeats N] [--warmup N] [--sizes 64M,256M,1G]
//
// A shard of S bytes holds S/4 elements for every kernel (the f32 parameters, or the f32 master
// weights of a bf16 model), so "1G" is 2^28 elements, as in torch_optimizer_bench.py. Each point
// is the median of --repeats launches timed with CUDA events after --warmup launches. Bytes moved
// count every byte the step must read and write once (SGD-momentum f32: 20 per element; AdamW
// f32 and AdamW bf16-model/f32-master/bf16-grads: 28); copy bandwidth is a 256 MiB
// device-to-device cudaMemcpyAsync counted as read + write. Without a CUDA device it says so and
// exits 0, so scripts can run it everywhere.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/optimizer.h"
#include "runtime/device/cuda_runtime.h"

namespace cohort::bench {
namespace {

struct Options {
  std::string json_path;
  int repeats = 30;
  int warmup = 5;
  std::vector<size_t> shard_bytes = {size_t{64} << 20, size_t{256} << 20, size_t{1} << 30};
};

struct Record {
  std::string kernel, dtype;
  size_t elements = 0, bytes_moved = 0;
  double time_us = 0, gbps = 0, copy_gbps = 0;
};

[[noreturn]] void Usage(const char* error) {
  if (error != nullptr) std::fprintf(stderr, "gpu-optimizer-bench: %s\n", error);
  std::fprintf(stderr,
               "usage: gpu-optimizer-bench [--json FILE] [--repeats N] [--warmup N] "
               "[--sizes 64M,256M,1G]\n");
  std::exit(error != nullptr ? 2 : 0);
}

size_t ParseSize(const std::string& text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  const std::string suffix = end;
  const int shift = suffix == "K" ? 10 : suffix == "M" ? 20 : suffix == "G" ? 30 : suffix.empty() ? 0 : -1;
  if (end == text.c_str() || shift < 0 || value == 0) Usage(("bad size '" + text + "'").c_str());
  return static_cast<size_t>(value) << shift;
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage((arg + " needs a value").c_str());
      return argv[++i];
    };
    if (arg == "--json") {
      options.json_path = value();
    } else if (arg == "--repeats") {
      options.repeats = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--warmup") {
      options.warmup = std::max(0, std::atoi(value().c_str()));
    } else if (arg == "--sizes") {
      options.shard_bytes.clear();
      std::string list = value();
      for (size_t start = 0; start <= list.size();) {
        const size_t comma = std::min(list.find(',', start), list.size());
        options.shard_bytes.push_back(ParseSize(list.substr(start, comma - start)));
        start = comma + 1;
      }
    } else if (arg == "-h" || arg == "--help") {
      Usage(nullptr);
    } else {
      Usage(("unknown argument " + arg).c_str());
    }
  }
  return options;
}

// Median milliseconds of `repeats` runs of `launch` on `stream`, each between two events; the
// host never waits in between, so the launches queue back to back as in training.
template <typename Launch>
Result<double> MedianMs(const Options& options, void* stream, Launch launch) {
  for (int i = 0; i < options.warmup; ++i) COHORT_RETURN_IF_ERROR(launch(i));
  std::vector<cuda::Event> starts, ends;
  for (int i = 0; i < options.repeats; ++i) {
    COHORT_ASSIGN_OR_RETURN(cuda::Event start, cuda::Event::Create(0, true));
    COHORT_ASSIGN_OR_RETURN(cuda::Event end, cuda::Event::Create(0, true));
    starts.push_back(std::move(start));
    ends.push_back(std::move(end));
  }
  for (int i = 0; i < options.repeats; ++i) {
    COHORT_RETURN_IF_ERROR(starts[i].Record(stream));
    COHORT_RETURN_IF_ERROR(launch(options.warmup + i));
    COHORT_RETURN_IF_ERROR(ends[i].Record(stream));
  }
  COHORT_RETURN_IF_ERROR(cuda::StreamSynchronize(stream));  // also surfaces kernel faults
  std::vector<double> ms;
  for (int i = 0; i < options.repeats; ++i) {
    COHORT_ASSIGN_OR_RETURN(float elapsed, ends[i].ElapsedMs(starts[i]));
    ms.push_back(elapsed);
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

// Device memory filled from a repeating host pattern (random values: an all-zero buffer could
// flatter a device that compresses memory traffic).
Result<cuda::DeviceBuffer> Filled(size_t bytes, const std::vector<unsigned char>& pattern,
                                  void* stream) {
  COHORT_ASSIGN_OR_RETURN(cuda::DeviceBuffer buffer, cuda::DeviceBuffer::Allocate(0, bytes));
  for (size_t offset = 0; offset < bytes; offset += pattern.size()) {
    const size_t n = std::min(pattern.size(), bytes - offset);
    COHORT_RETURN_IF_ERROR(cuda::MemcpyAsync(static_cast<char*>(buffer.data()) + offset,
                                             pattern.data(), n, stream));
  }
  COHORT_RETURN_IF_ERROR(cuda::StreamSynchronize(stream));
  return buffer;
}

// 16 MiB of random values: f32 N(0, 1) for "f32", their bf16 roundings for "bf16", |x| * 1e-4
// for "f32+" (second moments must not be negative).
std::vector<unsigned char> Pattern(const std::string& kind) {
  std::mt19937 rng(12345);
  std::normal_distribution<float> normal(0, 1);
  std::vector<unsigned char> bytes(size_t{16} << 20);
  for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    float x = normal(rng);
    if (kind == "f32+") x = std::abs(x) * 1e-4f;
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    if (kind == "bf16") bits = (bits >> 16) | (bits & 0xffff0000u);  // two bf16 values per word
    std::memcpy(bytes.data() + i, &bits, 4);
  }
  return bytes;
}

Result<double> CopyGbps(const Options& options, void* stream) {
  const size_t bytes = size_t{256} << 20;
  COHORT_ASSIGN_OR_RETURN(cuda::DeviceBuffer src, Filled(bytes, Pattern("f32"), stream));
  COHORT_ASSIGN_OR_RETURN(cuda::DeviceBuffer dst, cuda::DeviceBuffer::Allocate(0, bytes));
  auto copy = [&](int) { return cuda::MemcpyAsync(dst.data(), src.data(), bytes, stream); };
  COHORT_ASSIGN_OR_RETURN(double ms, MedianMs(options, stream, copy));
  return 2.0 * static_cast<double>(bytes) / (ms * 1e6);
}

enum class Kernel { kSgdMomentum, kAdamW, kAdamWBf16 };

Result<Record> Measure(const Options& options, Kernel kernel, size_t shard_bytes, void* stream) {
  const size_t n = shard_bytes / 4;
  const bool bf16 = kernel == Kernel::kAdamWBf16;
  Record record;
  record.kernel = kernel == Kernel::kSgdMomentum ? "sgd_momentum" : "adamw";
  record.dtype = bf16 ? "bf16-params/f32-master/bf16-grads" : "f32";
  record.elements = n;
  record.bytes_moved = n * (kernel == Kernel::kSgdMomentum ? 20 : 28);

  COHORT_ASSIGN_OR_RETURN(cuda::DeviceBuffer params, Filled(n * 4, Pattern("f32"), stream));
  COHORT_ASSIGN_OR_RETURN(cuda::DeviceBuffer grads,
                          Filled(n * (bf16 ? 2 : 4), Pattern(bf16 ? "bf16" : "f32"), stream));
  COHORT_ASSIGN_OR_RETURN(cuda::DeviceBuffer state0, Filled(n * 4, Pattern("f32+"), stream));
  cuda::DeviceBuffer state1, model;
  if (kernel != Kernel::kSgdMomentum) {
    COHORT_ASSIGN_OR_RETURN(state1, Filled(n * 4, Pattern("f32+"), stream));
  }
  if (bf16) {
    COHORT_ASSIGN_OR_RETURN(model, cuda::DeviceBuffer::Allocate(0, n * 2));
  }

  kernels::OptimizerShard shard;
  shard.count = n;
  shard.params = static_cast<float*>(params.data());
  shard.grads = grads.data();
  shard.grad_dtype = bf16 ? DataType::kBF16 : DataType::kF32;
  shard.model_params = bf16 ? model.data() : nullptr;
  shard.model_dtype = DataType::kBF16;
  auto* m = static_cast<float*>(state0.data());
  auto* v = static_cast<float*>(state1.data());
  auto step = [&](int i) {
    if (kernel == Kernel::kSgdMomentum) {
      // Step >= 2 everywhere: the running-momentum update that reads the buffer.
      const kernels::SgdParams p{.lr = 1e-3, .momentum = 0.9, .step = 2 + i};
      return kernels::SgdStepCuda(p, shard, m, stream);
    }
    const kernels::AdamParams p{.lr = 1e-4, .weight_decay = 0.01, .decoupled_weight_decay = true,
                                .step = 1 + i};
    return kernels::AdamStepCuda(p, shard, m, v, nullptr, stream);
  };
  COHORT_ASSIGN_OR_RETURN(double ms, MedianMs(options, stream, step));
  record.time_us = ms * 1e3;
  record.gbps = static_cast<double>(record.bytes_moved) / (ms * 1e6);
  return record;
}

void WriteJson(const std::string& path, const std::vector<Record>& records) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    std::perror(("gpu-optimizer-bench: cannot write " + path).c_str());
    std::exit(1);
  }
  std::fprintf(file, "[\n");
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    std::fprintf(file,
                 "  {\"kernel\": \"%s\", \"dtype\": \"%s\", \"elements\": %zu, \"bytes_moved\": %zu, "
                 "\"time_us\": %.2f, \"gbps\": %.1f, \"copy_gbps\": %.1f, \"ratio_to_copy\": %.3f}%s\n",
                 r.kernel.c_str(), r.dtype.c_str(), r.elements, r.bytes_moved, r.time_us, r.gbps,
                 r.copy_gbps, r.gbps / r.copy_gbps, i + 1 < records.size() ? "," : "");
  }
  std::fprintf(file, "]\n");
  std::fclose(file);
}

int Main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  if (cuda::DeviceCount() == 0) {
    std::printf("gpu-optimizer-bench: no CUDA device (%s); nothing measured\n",
                cuda::NoDeviceReason().c_str());
    return 0;
  }
  auto fail = [](const Status& status) {
    std::fprintf(stderr, "gpu-optimizer-bench: %s\n", status.ToString().c_str());
    return 1;
  };
  if (Status s = cuda::SetDevice(0); !s.ok()) return fail(s);
  Result<cuda::Stream> stream = cuda::Stream::Create(0, false);
  if (!stream.ok()) return fail(stream.status());
  const Result<double> copy = CopyGbps(options, stream->get());
  if (!copy.ok()) return fail(copy.status());
  std::printf("device: %s\n", cuda::DeviceDescription(0).c_str());
  std::printf("device-to-device copy, 256 MiB: %.1f GB/s (read + write)\n", copy.value());
  std::printf("median of %d launches after %d warm-up; GB/s = bytes read + written / time\n\n",
              options.repeats, options.warmup);
  std::printf("%-14s %-34s %11s %10s %10s %8s %8s\n", "kernel", "dtype", "elements", "MiB moved",
              "time_us", "GB/s", "vs copy");
  std::vector<Record> records;
  for (size_t bytes : options.shard_bytes) {
    for (Kernel kernel : {Kernel::kSgdMomentum, Kernel::kAdamW, Kernel::kAdamWBf16}) {
      Result<Record> record = Measure(options, kernel, bytes, stream->get());
      if (!record.ok()) return fail(record.status());
      Record& r = record.value();
      r.copy_gbps = copy.value();
      std::printf("%-14s %-34s %11zu %10.1f %10.1f %8.1f %7.1f%%\n", r.kernel.c_str(),
                  r.dtype.c_str(), r.elements, static_cast<double>(r.bytes_moved) / (1 << 20),
                  r.time_us, r.gbps, 100 * r.gbps / r.copy_gbps);
      std::fflush(stdout);
      records.push_back(r);
    }
  }
  if (!options.json_path.empty()) WriteJson(options.json_path, records);
  return 0;
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) { return cohort::bench::Main(argc, argv); }
