// Collectives on CUDA buffers through the communicator: every collective and send/recv, through
// NCCL (world size 1: NCCL refuses two ranks on one GPU) and staged through host memory (1-3
// ranks as threads sharing the GPU), with small staging chunks so that 2-D chunk copies, partial
// last chunks and the copy/communication pipeline are all exercised. Values are unique per
// (rank, index) and expected results are computed in closed form; outputs start poisoned.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/device/cuda_runtime.h"
#include "tests/unit/comm/thread_ranks.h"

namespace cohort {
namespace {

using testing::RunRanks;
using testing::TestConfig;
using testing::UniqueJobId;

constexpr float kPoison = -12345.0f;

float Value(int rank, size_t index) { return static_cast<float>(rank * 1000 + index % 997); }

void Check(const Status& status) { ASSERT_TRUE(status.ok()) << status.ToString(); }

// A host vector mirrored in device memory.
struct DeviceVector {
  DeviceVector(int device, const std::vector<float>& host) : host(host) {
    Result<cuda::DeviceBuffer> allocated =
        cuda::DeviceBuffer::Allocate(device, host.size() * sizeof(float));
    EXPECT_TRUE(allocated.ok()) << allocated.status().ToString();
    if (allocated.ok()) buffer = std::move(*allocated);
    Upload();
  }
  void Upload() {
    EXPECT_TRUE(cuda::MemcpyAsync(buffer.data(), host.data(), host.size() * 4, nullptr).ok());
    EXPECT_TRUE(cuda::StreamSynchronize(nullptr).ok());
  }
  std::vector<float> Download() {
    std::vector<float> out(host.size());
    EXPECT_TRUE(cuda::MemcpyAsync(out.data(), buffer.data(), out.size() * 4, nullptr).ok());
    EXPECT_TRUE(cuda::StreamSynchronize(nullptr).ok());
    return out;
  }
  BufferView View(size_t count, size_t offset = 0) {
    return {static_cast<float*>(buffer.data()) + offset, count, DataType::kF32, Device::Cuda(buffer.device())};
  }
  std::vector<float> host;
  cuda::DeviceBuffer buffer;
};

void RunEveryCollective(Communicator& comm, size_t count) {
  const int rank = comm.rank();
  const int n = comm.size();
  const auto un = static_cast<size_t>(n);
  const int device = 0;
  auto filled = [&](size_t elements) {
    std::vector<float> v(elements);
    for (size_t i = 0; i < elements; ++i) v[i] = Value(rank, i);
    return v;
  };
  auto sum_over_ranks = [&](size_t i) {
    float s = 0;
    for (int r = 0; r < n; ++r) s += Value(r, i);
    return s;
  };
  {  // allreduce, out of place and in place
    DeviceVector send(device, filled(count)), recv(device, std::vector<float>(count, kPoison));
    comm.allreduce(send.View(count), recv.View(count), ReduceOp::kSum);
    std::vector<float> out = recv.Download();
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(out[i], sum_over_ranks(i)) << "allreduce " << i;
    comm.allreduce(send.View(count), ReduceOp::kMax);
    out = send.Download();
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(out[i], Value(n - 1, i)) << "max " << i;
  }
  {  // reduce_scatter: each rank gets its block of the sum
    DeviceVector send(device, filled(count * un)), recv(device, std::vector<float>(count, kPoison));
    comm.reduce_scatter(send.View(count * un), recv.View(count), ReduceOp::kSum);
    std::vector<float> out = recv.Download();
    for (size_t i = 0; i < count; ++i) {
      ASSERT_EQ(out[i], sum_over_ranks(static_cast<size_t>(rank) * count + i)) << "rs " << i;
    }
  }
  {  // allgather
    DeviceVector send(device, filled(count)),
        recv(device, std::vector<float>(count * un, kPoison));
    comm.allgather(send.View(count), recv.View(count * un));
    std::vector<float> out = recv.Download();
    for (size_t r = 0; r < un; ++r) {
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(out[r * count + i], Value(static_cast<int>(r), i)) << "allgather " << r;
      }
    }
  }
  {  // broadcast from the last rank, reduce to rank 0
    const int root = n - 1;
    DeviceVector data(device, rank == root ? filled(count) : std::vector<float>(count, kPoison));
    comm.broadcast(data.View(count), root);
    std::vector<float> out = data.Download();
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(out[i], Value(root, i)) << "broadcast " << i;
    DeviceVector send(device, filled(count)), recv(device, std::vector<float>(count, kPoison));
    comm.reduce(send.View(count), recv.View(count), ReduceOp::kSum, 0);
    if (rank == 0) {
      out = recv.Download();
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(out[i], sum_over_ranks(i)) << "reduce " << i;
    }
  }
  {  // alltoall: block r of my output is block `rank` of rank r's input
    DeviceVector send(device, filled(count * un)),
        recv(device, std::vector<float>(count * un, kPoison));
    comm.alltoall(send.View(count * un), recv.View(count * un));
    std::vector<float> out = recv.Download();
    for (size_t r = 0; r < un; ++r) {
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(out[r * count + i], Value(static_cast<int>(r), static_cast<size_t>(rank) * count + i))
            << "alltoall " << r << "," << i;
      }
    }
  }
  if (n > 1) {  // a ring of send/recv, both in flight at once
    DeviceVector send(device, filled(count)), recv(device, std::vector<float>(count, kPoison));
    WorkPtr r = comm.recv_async(recv.View(count), (rank + n - 1) % n);
    WorkPtr s = comm.send_async(send.View(count), (rank + 1) % n);
    s->wait();
    r->wait();
    std::vector<float> out = recv.Download();
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(out[i], Value((rank + n - 1) % n, i)) << "p2p";
  }
}

Config GpuConfig(CudaBackendChoice backend) {
  Config config = TestConfig(TransportChoice::kAuto, UniqueJobId());
  config.cuda_backend = backend;
  config.staging_chunk_bytes = 4096;  // many chunks even for small tests
  return config;
}

class CudaCollectivesTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::NoDeviceReason();
  }
};

TEST_P(CudaCollectivesTest, StagedPathMatchesClosedFormResults) {
  RunRanks(GetParam(), GpuConfig(CudaBackendChoice::kStaged), [](Communicator& comm) {
    for (size_t count : {1u, 1000u, 70001u}) RunEveryCollective(comm, count);
    EXPECT_NE(comm.cuda_path().find("staged"), std::string::npos) << comm.cuda_path();
  });
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, CudaCollectivesTest, ::testing::Values(1, 2, 3));

TEST(CudaCollectivesNccl, WorldOfOneThroughNccl) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::NoDeviceReason();
  Config config = GpuConfig(CudaBackendChoice::kAuto);
  bool nccl = false;
  RunRanks(1, config, [&](Communicator& comm) {
    for (size_t count : {1u, 1000u, 1u << 20}) RunEveryCollective(comm, count);
    nccl = comm.cuda_path().rfind("nccl", 0) == 0;
    std::printf("CUDA path: %s\n", comm.cuda_path().c_str());
  });
  if (!nccl) GTEST_SKIP() << "NCCL did not load (ran staged instead; set COHORT_NCCL_LIBRARY)";
}

TEST(CudaCollectivesNccl, CallerStreamOrdersTheCollective) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::NoDeviceReason();
  RunRanks(1, GpuConfig(CudaBackendChoice::kAuto), [](Communicator& comm) {
    Result<cuda::Stream> stream = cuda::Stream::Create(0, false);
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    comm.set_cuda_stream(stream->get());
    std::vector<float> host(4096, 3.0f);
    DeviceVector data(0, host);
    WorkPtr work = comm.allreduce_async(data.View(host.size()), data.View(host.size()),
                                        ReduceOp::kAvg);
    work->wait();
    Check(cuda::StreamSynchronize(stream->get()));
    std::vector<float> out = data.Download();
    for (float v : out) ASSERT_EQ(v, 3.0f);
    comm.set_cuda_stream(nullptr);
  });
}

TEST(CudaCollectivesNccl, HostPointerDescribedAsCudaIsRefused) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::NoDeviceReason();
  RunRanks(1, GpuConfig(CudaBackendChoice::kAuto), [](Communicator& comm) {
    std::vector<float> host(16);
    try {
      comm.allreduce({host.data(), host.size(), DataType::kF32, Device::Cuda(0)}, ReduceOp::kSum);
      ADD_FAILURE() << "a host pointer described as CUDA memory must be refused";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("its pointer is host memory"), std::string::npos)
          << e.what();
    }
  });
}

}  // namespace
}  // namespace cohort
