// Harness for the NCCL backend's GPU tests: ranks as threads of this process (one per visible
// GPU, at most 4; one rank on a single-GPU host) over a MemoryStore, host <-> device transfer of
// any dtype through doubles, poisoned outputs, and one tolerance helper for every dtype.
//
// Every test skips, with the reason, where no CUDA device is visible or NCCL does not load
// (NcclLibrary::Load of $COHORT_NCCL_LIBRARY, or the default search when it is unset).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "collectives/nccl/nccl_comm.h"
#include "runtime/device/cuda_runtime.h"
#include "runtime/store/store.h"

namespace cohort::nccl_test {

using Values = std::vector<double>;

// Not a value any test produces in any dtype (i8/u8 123, f16 ~61000, f32 ~1e36, ...).
inline constexpr uint8_t kPoisonByte = 0x7B;

inline std::vector<uint8_t> Encode(const Values& values, DataType dtype) {
  const size_t size = DataTypeSize(dtype);
  std::vector<uint8_t> bytes(values.size() * size);
  for (size_t i = 0; i < values.size(); ++i) {
    uint8_t* p = bytes.data() + i * size;
    const double v = values[i];
    auto put = [p](auto x) { std::memcpy(p, &x, sizeof(x)); };
    switch (dtype) {
      case DataType::kF32: put(static_cast<float>(v)); break;
      case DataType::kF64: put(v); break;
      case DataType::kF16: put(__float2half(static_cast<float>(v))); break;
      case DataType::kBF16: put(__float2bfloat16(static_cast<float>(v))); break;
      case DataType::kI8: put(static_cast<int8_t>(v)); break;
      case DataType::kU8: put(static_cast<uint8_t>(v)); break;
      case DataType::kI32: put(static_cast<int32_t>(v)); break;
      case DataType::kI64: put(static_cast<int64_t>(v)); break;
    }
  }
  return bytes;
}

inline Values Decode(const std::vector<uint8_t>& bytes, DataType dtype) {
  const size_t size = DataTypeSize(dtype);
  Values values(bytes.size() / size);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint8_t* p = bytes.data() + i * size;
    auto get = [p](auto x) { std::memcpy(&x, p, sizeof(x)); return x; };
    switch (dtype) {
      case DataType::kF32: values[i] = get(float{}); break;
      case DataType::kF64: values[i] = get(double{}); break;
      case DataType::kF16: values[i] = __half2float(get(__half{})); break;
      case DataType::kBF16: values[i] = __bfloat162float(get(__nv_bfloat16{})); break;
      case DataType::kI8: values[i] = get(int8_t{}); break;
      case DataType::kU8: values[i] = get(uint8_t{}); break;
      case DataType::kI32: values[i] = get(int32_t{}); break;
      case DataType::kI64: values[i] = static_cast<double>(get(int64_t{})); break;
    }
  }
  return values;
}

// The one tolerance rule: exact for integers; for floats a few units in the last place, enough
// for NCCL's avg (each input pre-multiplied by 1/size, then summed in the dtype).
inline double Tolerance(DataType dtype, double expected) {
  const double scale = std::max(1.0, std::fabs(expected));
  switch (dtype) {
    case DataType::kF64: return 1e-12 * scale;
    case DataType::kF32: return 1e-6 * scale;
    case DataType::kF16: return 5e-3 * scale;
    case DataType::kBF16: return 4e-2 * scale;
    default: return 0;
  }
}

// Compares element by element; reports the first few mismatches with their index.
inline void ExpectValues(const Values& actual, const Values& expected, DataType dtype,
                         const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < actual.size() && reported < 5; ++i) {
    if (std::fabs(actual[i] - expected[i]) > Tolerance(dtype, expected[i])) {
      ADD_FAILURE() << what << ": element " << i << " is " << actual[i] << ", expected "
                    << expected[i];
      ++reported;
    }
  }
}

// Integers drawn from [low, high] (u8: from max(low, 0)). Tests choose ranges that keep every
// result exact in every dtype, bf16 and i8 included: reductions use [-8, 8] (prod [1, 3], at most
// 3^4 = 81 with four ranks), data movement [-100, 100].
inline Values RandomValues(std::mt19937& gen, size_t count, DataType dtype, int low, int high) {
  if (dtype == DataType::kU8) low = std::max(low, 0);
  std::uniform_int_distribution<int> dist(low, high);
  Values values(count);
  for (auto& v : values) v = dist(gen);
  return values;
}

inline double Combine(ReduceOp op, double a, double b) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return a + b;  // divided by the world size at the end
    case ReduceOp::kProd: return a * b;
    case ReduceOp::kMin: return std::min(a, b);
    case ReduceOp::kMax: return std::max(a, b);
  }
  return 0;
}

// Element-wise op over `inputs`, each read from `offset`, `count` elements.
inline Values ReduceAll(const std::vector<Values>& inputs, ReduceOp op, size_t offset,
                        size_t count) {
  Values out(inputs[0].begin() + offset, inputs[0].begin() + offset + count);
  for (size_t r = 1; r < inputs.size(); ++r) {
    for (size_t i = 0; i < count; ++i) out[i] = Combine(op, out[i], inputs[r][offset + i]);
  }
  if (op == ReduceOp::kAvg) {
    for (auto& v : out) v /= static_cast<double>(inputs.size());
  }
  return out;
}

struct Rank {
  int rank = 0;
  int device = 0;
  std::unique_ptr<NcclComm> comm;
  cuda::Stream stream;
};

// Layout of one rank's buffers for one call. Out of place: separate send and recv buffers (recv
// poisoned). In place: one buffer, send at send_offset and recv at recv_offset (elements).
struct Shape {
  size_t send_count = 0;
  size_t recv_count = 0;
  size_t send_offset = 0;
  size_t recv_offset = 0;
};

class NcclGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::NoDeviceReason();
    const char* configured = std::getenv("COHORT_NCCL_LIBRARY");
    auto lib = NcclLibrary::Load(configured != nullptr ? configured : "");
    if (!lib.ok()) GTEST_SKIP() << "NCCL did not load: " << lib.status().ToString();
    lib_ = lib.value();
    seed_ = std::random_device{}();
    gen_.seed(seed_);
    std::printf("NCCL %s from %s; seed %u\n", lib_->version_string().c_str(),
                lib_->path().c_str(), seed_);
  }

  int MaxWorld() const { return std::min(cuda::DeviceCount(), 4); }

  // Runs `body` on every rank, each in its own thread with its device current.
  static void OnEveryRank(std::vector<Rank>& ranks, const std::function<void(Rank&)>& body) {
    std::vector<std::thread> threads;
    for (auto& r : ranks) {
      threads.emplace_back([&body, &r] {
        ASSERT_TRUE(cuda::SetDevice(r.device).ok());
        body(r);
      });
    }
    for (auto& t : threads) t.join();
  }

  // One communicator per rank, created concurrently (init is collective).
  std::vector<Rank> MakeRanks(int world) {
    std::vector<Rank> ranks(world);
    const std::string key = "nccl-gpu-test/" + std::to_string(generation_++);
    for (int r = 0; r < world; ++r) ranks[r].rank = ranks[r].device = r;
    OnEveryRank(ranks, [&](Rank& r) {
      auto comm = NcclComm::Create(lib_, store_, key, r.rank, world, r.device,
                                   Deadline::After(std::chrono::seconds(120)));
      ASSERT_TRUE(comm.ok()) << comm.status().ToString();
      r.comm = std::move(comm).value();
      auto stream = cuda::Stream::Create(r.device, false);
      ASSERT_TRUE(stream.ok()) << stream.status().ToString();
      r.stream = std::move(stream).value();
    });
    for (auto& r : ranks) {
      if (r.comm == nullptr) ADD_FAILURE() << "rank " << r.rank << " has no communicator";
    }
    return ranks;
  }

  // Uploads inputs[r] on every rank, runs `call(rank, send, recv)`, waits for it through an
  // event and NcclComm::WaitEvent, and returns every rank's recv_count output elements.
  std::vector<Values> Run(std::vector<Rank>& ranks, DataType dtype,
                          const std::vector<Values>& inputs, bool in_place,
                          const std::function<Shape(int rank)>& shape,
                          const std::function<Status(Rank&, const void*, void*)>& call) {
    std::vector<Values> outputs(ranks.size());
    const size_t elem = DataTypeSize(dtype);
    OnEveryRank(ranks, [&](Rank& r) {
      Shape s = shape(r.rank);
      void* stream = r.stream.get();
      size_t send_bytes = std::max<size_t>(1, s.send_count * elem);
      size_t recv_bytes = std::max<size_t>(1, s.recv_count * elem);
      size_t one_bytes = std::max((s.send_offset + s.send_count) * elem,
                                  (s.recv_offset + s.recv_count) * elem);
      auto send = cuda::DeviceBuffer::Allocate(r.device, in_place ? one_bytes : send_bytes);
      auto recv = cuda::DeviceBuffer::Allocate(r.device, in_place ? 1 : recv_bytes);
      ASSERT_TRUE(send.ok() && recv.ok());
      auto* base = static_cast<uint8_t*>(send->data());
      void* send_ptr = in_place ? base + s.send_offset * elem : send->data();
      void* recv_ptr = in_place ? base + s.recv_offset * elem : recv->data();
      // Poison whatever the call must write, then put the input in place.
      std::vector<uint8_t> poison(in_place ? one_bytes : recv_bytes, kPoisonByte);
      ASSERT_TRUE(cuda::MemcpyAsync(in_place ? send->data() : recv->data(), poison.data(),
                                    poison.size(), stream).ok());
      auto input = Encode(inputs[r.rank], dtype);
      ASSERT_TRUE(cuda::MemcpyAsync(send_ptr, input.data(), input.size(), stream).ok());
      ASSERT_TRUE(cuda::StreamSynchronize(stream).ok());

      Status status = call(r, send_ptr, recv_ptr);
      ASSERT_TRUE(status.ok()) << "rank " << r.rank << ": " << status.ToString();
      auto event = cuda::Event::Create(r.device);
      ASSERT_TRUE(event.ok());
      ASSERT_TRUE(event->Record(stream).ok());
      status = r.comm->WaitEvent(*event, Deadline::After(std::chrono::seconds(60)), {}, "test");
      ASSERT_TRUE(status.ok()) << "rank " << r.rank << ": " << status.ToString();

      std::vector<uint8_t> out(s.recv_count * elem);
      ASSERT_TRUE(cuda::MemcpyAsync(out.data(), recv_ptr, out.size(), stream).ok());
      ASSERT_TRUE(cuda::StreamSynchronize(stream).ok());
      outputs[r.rank] = Decode(out, dtype);
    });
    return outputs;
  }

  std::shared_ptr<const NcclLibrary> lib_;
  MemoryStore store_;
  int generation_ = 0;
  unsigned seed_ = 0;
  std::mt19937 gen_;
};

}  // namespace cohort::nccl_test
