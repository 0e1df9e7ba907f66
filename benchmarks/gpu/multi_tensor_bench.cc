// gpu-multi-tensor-bench: bandwidth of the multi-tensor CUDA kernels (kernels/cuda/multi_tensor.h)
// against the device's own device-to-device copy, and one-launch packing of 1,000 tensors
// against a loop of per-tensor cudaMemcpyAsync.
//
//   gpu-multi-tensor-bench [--json FILE] [--repeats N] [--warmup N] [--quick]
//
// Every case is timed with CUDA events around each repeat, after warm-up; the median is
// reported. Repeats rotate over two buffer sets, each at least 64 MiB (larger than the 50 MB L2
// of an H100), so that a repeat does not find its inputs in cache. Bandwidth counts bytes read
// plus bytes written (the copy: 2 x size), in GB/s (1e9 bytes), and "/copy" is the ratio to
// the 256 MiB cudaMemcpyAsync D2D measured first in the same run. "Shard" is the size of each
// input buffer. The 1,000-tensor cases wait for the device before each repeat, so their time
// includes the host's enqueue work (what bounds the per-tensor loop).
// benchmarks/gpu/torch_multi_tensor_bench.py measures PyTorch's equivalents with the same
// record keys. Without a CUDA device it says why and exits 0 (a skip, not a failure).
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/gpu/multi_tensor_bench_util.h"
#include "kernels/cuda/multi_tensor.h"
#include "runtime/device/cuda_runtime.h"

namespace cohort::bench::gpu {
namespace {

constexpr int kSets = 2;

std::string Pair(DataType a, DataType b) {
  return std::string(DataTypeName(a)) + "->" + std::string(DataTypeName(b));
}

Record Copy(Bench& b, size_t shard) {
  std::vector<cuda::DeviceBuffer> src, dst;
  for (int s = 0; s < kSets; ++s) {
    src.push_back(b.Buffer(shard));
    dst.push_back(b.Buffer(shard));
  }
  Record r{"memcpy_d2d", "u8", shard, 2 * shard};
  r.time_us = b.MedianUs([&](int i) {
    return cuda::MemcpyAsync(dst[i % kSets].data(), src[i % kSets].data(), shard, b.stream());
  }, false);
  return r;
}

// One tensor of `shard` bytes packed into (or, with !pack, unpacked from) a fusion buffer.
Record PackOne(Bench& b, size_t shard, bool pack, DataType from, DataType to, double scale) {
  const size_t count = shard / DataTypeSize(from);
  std::vector<cuda::DeviceBuffer> src, dst;
  for (int s = 0; s < kSets; ++s) {
    src.push_back(b.Buffer(shard));
    dst.push_back(b.Buffer(count * DataTypeSize(to)));
  }
  Record r{pack ? (scale == 1.0 ? "pack" : "pack_scale") : "unpack", Pair(from, to), shard,
           count * (DataTypeSize(from) + DataTypeSize(to))};
  r.time_us = b.MedianUs([&](int i) {
    const int s = i % kSets;
    if (pack) {
      const kernels::FusionEntry entry{src[s].data(), count, 0};
      return kc::PackFusionBuffer(b.workspace(), {&entry, 1}, from, dst[s].data(), count, to, scale,
                                  b.stream());
    }
    const kernels::FusionEntry entry{dst[s].data(), count, 0};
    return kc::UnpackFusionBuffer(b.workspace(), src[s].data(), count, from, {&entry, 1}, to, scale,
                                  b.stream());
  }, false);
  return r;
}

Record ReduceSum(Bench& b, size_t shard, DataType dtype, size_t k) {
  const size_t count = shard / DataTypeSize(dtype);
  std::vector<std::vector<cuda::DeviceBuffer>> bufs(kSets);
  std::vector<std::vector<const void*>> srcs(kSets);
  for (int s = 0; s < kSets; ++s) {
    for (size_t j = 0; j <= k; ++j) bufs[s].push_back(b.Buffer(shard));
    for (size_t j = 0; j < k; ++j) srcs[s].push_back(bufs[s][j].data());
  }
  Record r{"reduce_sum_k" + std::to_string(k), std::string(DataTypeName(dtype)), shard, (k + 1) * shard};
  r.k = k;
  r.time_us = b.MedianUs([&](int i) {
    const int s = i % kSets;
    return kc::ReduceK(bufs[s][k].data(), srcs[s], count, dtype, ReduceOp::kSum, b.stream());
  }, false);
  return r;
}

Record L2Norm(Bench& b, size_t shard, DataType dtype) {
  std::vector<cuda::DeviceBuffer> data;
  for (int s = 0; s < kSets; ++s) data.push_back(b.Buffer(shard));
  Record r{"l2_norm", std::string(DataTypeName(dtype)) + " (f32 acc)", shard, shard};
  r.time_us = b.MedianUs([&](int i) {
    const kernels::NormTensor tensor{data[i % kSets].data(), shard / DataTypeSize(dtype)};
    return kc::MultiTensorL2Norm(b.workspace(), {&tensor, 1}, dtype, DataType::kF32, b.norm_result(),
                                 nullptr, b.stream());
  }, false);
  return r;
}

// 1,000 f32 tensors of mixed sizes (64 MiB in all, each at a 256-byte boundary as a caching
// allocator places them): one-launch pack and unpack against 1,000 cudaMemcpyAsync, and their
// L2 norm. The fusion buffer takes offsets rounded up to 16 bytes (vector path) or dense ones.
void ThousandTensors(Bench& b, std::vector<Record>& records) {
  constexpr size_t kTensors = 1000;
  const size_t total = 64 * kMiB / 4;
  const std::vector<size_t> counts = TensorMix(kTensors, total);
  std::vector<size_t> at(kTensors), aligned(kTensors), dense(kTensors);
  size_t cursor = 0, aligned_end = 0, dense_end = 0;
  for (size_t i = 0; i < kTensors; ++i) {
    at[i] = (cursor + 255) / 256 * 256;
    cursor = at[i] + counts[i] * 4;
    aligned[i] = (aligned_end + 3) / 4 * 4;  // 16-byte fusion offsets: the vector path
    aligned_end = aligned[i] + counts[i];
    dense[i] = dense_end;                    // back to back, as torch.cat packs
    dense_end += counts[i];
  }
  std::vector<cuda::DeviceBuffer> arenas, buffers;
  std::vector<std::vector<kernels::FusionEntry>> aligned_entries(kSets), dense_entries(kSets);
  for (int s = 0; s < kSets; ++s) {
    arenas.push_back(b.Buffer(cursor));
    buffers.push_back(b.Buffer(aligned_end * 4));
    for (size_t i = 0; i < kTensors; ++i) {
      void* tensor = static_cast<char*>(arenas[s].data()) + at[i];
      aligned_entries[s].push_back({tensor, counts[i], aligned[i]});
      dense_entries[s].push_back({tensor, counts[i], dense[i]});
    }
  }
  const size_t bytes = 2 * total * 4;
  const auto pack = [&](bool unpack, std::vector<std::vector<kernels::FusionEntry>>& entries,
                        const char* name) {
    Record r{name, "f32->f32", total * 4, bytes, kTensors};
    r.time_us = b.MedianUs([&](int i) {
      const int s = i % kSets;
      return unpack ? kc::UnpackFusionBuffer(b.workspace(), buffers[s].data(), aligned_end,
                                             DataType::kF32, entries[s], DataType::kF32, 1.0, b.stream())
                    : kc::PackFusionBuffer(b.workspace(), entries[s], DataType::kF32, buffers[s].data(),
                                           aligned_end, DataType::kF32, 1.0, b.stream());
    }, true, &r.host_us);
    return r;
  };
  Record loop{"memcpy_loop", "f32->f32", total * 4, bytes, kTensors};
  loop.time_us = b.MedianUs([&](int i) {
    const int s = i % kSets;
    for (const kernels::FusionEntry& e : aligned_entries[s]) {
      COHORT_RETURN_IF_ERROR(cuda::MemcpyAsync(static_cast<char*>(buffers[s].data()) + e.offset * 4,
                                               e.tensor, e.count * 4, b.stream()));
    }
    return Status::Ok();
  }, true, &loop.host_us);
  // The norm of all 1,000 tensors (gradient clipping), read-only: bytes = the data once.
  std::vector<std::vector<kernels::NormTensor>> norm_tensors(kSets);
  for (int s = 0; s < kSets; ++s) {
    for (const kernels::FusionEntry& e : aligned_entries[s]) norm_tensors[s].push_back({e.tensor, e.count});
  }
  Record norm{"l2_norm_tensors", "f32 (f32 acc)", total * 4, total * 4, kTensors};
  norm.time_us = b.MedianUs([&](int i) {
    return kc::MultiTensorL2Norm(b.workspace(), norm_tensors[i % kSets], DataType::kF32, DataType::kF32,
                                 b.norm_result(), nullptr, b.stream());
  }, true, &norm.host_us);
  records.push_back(norm);
  for (Record r : {pack(false, aligned_entries, "pack_tensors"), pack(false, dense_entries, "pack_tensors_dense"),
                   pack(true, aligned_entries, "unpack_tensors")}) {
    r.speedup = loop.time_us / r.time_us;
    records.push_back(r);
  }
  records.push_back(loop);
}

}  // namespace

std::vector<Record> RunAll(Bench& b, const Options& options) {
  std::vector<Record> records;
  records.push_back(Copy(b, 256 * kMiB));  // the reference: first, see main()
  records.push_back(Copy(b, 64 * kMiB));
  std::vector<size_t> shards{64 * kMiB};
  if (!options.quick) shards.push_back(256 * kMiB);
  for (size_t shard : shards) {
    records.push_back(PackOne(b, shard, true, DataType::kF32, DataType::kF32, 1.0));
    records.push_back(PackOne(b, shard, true, DataType::kF32, DataType::kBF16, 0.5));
    records.push_back(PackOne(b, shard, false, DataType::kBF16, DataType::kF32, 1.0));
    for (DataType dtype : {DataType::kF32, DataType::kBF16}) {
      for (size_t k : {2, 4, 8}) records.push_back(ReduceSum(b, shard, dtype, k));
    }
    for (DataType dtype : {DataType::kF32, DataType::kBF16}) records.push_back(L2Norm(b, shard, dtype));
  }
  ThousandTensors(b, records);
  return records;
}

}  // namespace cohort::bench::gpu

int main(int argc, char** argv) {
  using namespace cohort::bench::gpu;
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json" && i + 1 < argc) {
      options.json = argv[++i];
    } else if (arg == "--repeats" && i + 1 < argc) {
      options.repeats = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--warmup" && i + 1 < argc) {
      options.warmup = std::max(0, std::atoi(argv[++i]));
    } else if (arg == "--quick") {
      options.quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--repeats N] [--warmup N] [--quick]\n", argv[0]);
      return 2;
    }
  }
  if (cohort::cuda::DeviceCount() == 0) {
    std::fprintf(stderr, "gpu-multi-tensor-bench: skipped: no CUDA device (%s)\n",
                 cohort::cuda::NoDeviceReason().c_str());
    return 0;
  }
  Check(cohort::cuda::SetDevice(0), "selecting cuda:0");
  const std::string device = cohort::cuda::DeviceDescription(0);
  std::printf("# gpu-multi-tensor-bench on %s: median of %d repeats after %d warm-up\n",
              device.c_str(), options.repeats, options.warmup);
  Bench bench(options);
  const std::vector<Record> records = RunAll(bench, options);
  const double copy_gbps = static_cast<double>(records[0].bytes) / records[0].time_us / 1e3;
  std::printf("%-20s %-14s %7s %9s %10s %8s %6s\n", "kernel", "dtype", "tensors", "shard MiB",
              "time us", "GB/s", "/copy");
  for (const Record& r : records) Print(r, copy_gbps);
  if (!options.json.empty()) {
    FILE* out = std::fopen(options.json.c_str(), "w");
    if (out == nullptr) {
      std::perror(options.json.c_str());
      return 1;
    }
    std::fprintf(out, "[\n");
    for (size_t i = 0; i < records.size(); ++i) {
      std::fprintf(out, "  %s%s\n", Json(records[i], copy_gbps, device, options.repeats).c_str(),
                   i + 1 < records.size() ? "," : "");
    }
    std::fprintf(out, "]\n");
    std::fclose(out);
    std::printf("# wrote %zu records to %s\n", records.size(), options.json.c_str());
  }
  return 0;
}
