// CUDA buffers through the communicator on hosts without a GPU (CI): clear errors, CPU work
// unaffected; and the staged path's chunk arithmetic, which needs no device.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "runtime/comm/staged_layout.h"
#include "runtime/device/cuda_runtime.h"
#include "tests/unit/comm/thread_ranks.h"

namespace cohort {
namespace {

using testing::RunRanks;
using testing::TestConfig;
using testing::UniqueJobId;

TEST(CudaBuffers, WithoutADeviceTheErrorNamesTheRankAndCpuWorkGoesOn) {
  if (cuda::DeviceCount() > 0) GTEST_SKIP() << "a CUDA device is visible; see tests/gpu";
  RunRanks(2, TestConfig(TransportChoice::kAuto, UniqueJobId()), [](Communicator& comm) {
    std::vector<float> data(16, 1.0f);
    BufferView on_gpu{data.data(), data.size(), DataType::kF32, Device::Cuda(0)};
    try {
      comm.allreduce(on_gpu, ReduceOp::kSum);
      ADD_FAILURE() << "a CUDA buffer without a device must fail";
    } catch (const Error& e) {
      const std::string what = e.what();
      const std::string rank = "rank " + std::to_string(comm.rank());
      const std::string expected = cuda::Built() ? "no CUDA device visible to " + rank
                                                 : rank + ", but cohort was built without CUDA";
      EXPECT_NE(what.find(expected), std::string::npos) << what;
      EXPECT_NE(what.find("pass CPU buffers"), std::string::npos) << what;
    }
    // The refusal is local (nothing was sent): the communicator still works for CPU buffers.
    comm.allreduce({data.data(), data.size(), DataType::kF32}, ReduceOp::kSum);
    EXPECT_EQ(data[0], 2.0f);
  });
}

TEST(CudaBuffers, SendAndRecvOnDifferentDevicesAreRefused) {
  RunRanks(1, TestConfig(TransportChoice::kAuto, UniqueJobId()), [](Communicator& comm) {
    std::vector<float> a(4), b(4);
    try {
      comm.allreduce({a.data(), 4, DataType::kF32, Device::Cpu()},
                     {b.data(), 4, DataType::kF32, Device::Cuda(0)}, ReduceOp::kSum);
      ADD_FAILURE() << "mixed devices must fail";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("send buffer is on cpu but recv buffer is on cuda:0"),
                std::string::npos)
          << e.what();
    }
  });
}

CollectiveArgs Args(CollectiveKind kind, size_t count, DataType dtype, int root = 0) {
  CollectiveArgs args;
  args.kind = kind;
  args.count = count;
  args.dtype = dtype;
  args.root = root;
  return args;
}

TEST(StagedLayout, RowsFollowEachCollectivesBufferShapes) {
  struct Case {
    CollectiveKind kind;
    size_t send_rows, recv_rows;
  } cases[] = {{CollectiveKind::kAllreduce, 1, 1},     {CollectiveKind::kBroadcast, 1, 1},
               {CollectiveKind::kReduce, 1, 1},        {CollectiveKind::kReduceScatter, 4, 1},
               {CollectiveKind::kAllgather, 1, 4},     {CollectiveKind::kAlltoall, 4, 4}};
  for (const Case& c : cases) {
    StagedLayout layout = PlanStagedChunks(Args(c.kind, 1000, DataType::kF32), 1, 4, 1 << 20);
    EXPECT_EQ(layout.send_rows, c.send_rows) << CollectiveName(c.kind);
    EXPECT_EQ(layout.recv_rows, c.recv_rows) << CollectiveName(c.kind);
  }
}

TEST(StagedLayout, ChunksCoverEveryElementOnceAndStayWithinTheChunkBytes) {
  for (size_t count : {1u, 7u, 1000u, 262144u, 1000003u}) {
    for (int size : {1, 3, 4}) {
      for (CollectiveKind kind : {CollectiveKind::kAllreduce, CollectiveKind::kAlltoall,
                                  CollectiveKind::kAllgather}) {
        const size_t chunk_bytes = 64 << 10;
        StagedLayout layout = PlanStagedChunks(Args(kind, count, DataType::kBF16), 0, size,
                                               chunk_bytes);
        ASSERT_GE(layout.chunk_count, 1u);
        EXPECT_EQ(layout.num_chunks, (count + layout.chunk_count - 1) / layout.chunk_count);
        EXPECT_GE(layout.num_chunks * layout.chunk_count, count);
        EXPECT_LT((layout.num_chunks - 1) * layout.chunk_count, count);
        const size_t rows = std::max(layout.send_rows, layout.recv_rows);
        if (rows * 2 <= chunk_bytes) {
          EXPECT_LE(layout.send_chunk_bytes(2), chunk_bytes);
          EXPECT_LE(layout.recv_chunk_bytes(2), chunk_bytes);
        }
      }
    }
  }
}

TEST(StagedLayout, RootlessRanksSkipTheSideTheyDoNotUse) {
  StagedLayout bcast = PlanStagedChunks(Args(CollectiveKind::kBroadcast, 10, DataType::kF32, 2),
                                        1, 4, 4096);
  EXPECT_FALSE(bcast.copies_in);
  EXPECT_TRUE(bcast.copies_out);
  StagedLayout reduce = PlanStagedChunks(Args(CollectiveKind::kReduce, 10, DataType::kF32, 2),
                                         1, 4, 4096);
  EXPECT_TRUE(reduce.copies_in);
  EXPECT_FALSE(reduce.copies_out);
  StagedLayout root = PlanStagedChunks(Args(CollectiveKind::kReduce, 10, DataType::kF32, 2), 2,
                                       4, 4096);
  EXPECT_TRUE(root.copies_in && root.copies_out);
  EXPECT_EQ(PlanStagedChunks(Args(CollectiveKind::kAllreduce, 0, DataType::kF32), 0, 2, 4096)
                .num_chunks,
            0u);
}

}  // namespace
}  // namespace cohort
