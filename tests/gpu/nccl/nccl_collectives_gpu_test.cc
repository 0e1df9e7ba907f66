// Every NcclComm collective and send/recv, on every dtype and op, in place and out of place,
// against expected values computed on the host from fresh random data (poisoned outputs).
// One rank per visible GPU (up to 4): world size 1 on a single-GPU host.
// gpu_nccl is built wherever CUDA is; without nccl.h at build time there is nothing to test.
#include "cohort/build_config.h"
#if COHORT_HAVE_NCCL
#include "tests/gpu/nccl/nccl_gpu_harness.h"

namespace cohort::nccl_test {
namespace {

constexpr size_t kCount = 1031;  // odd, so no size is a multiple of anything convenient

bool IsInteger(DataType dtype) { return !IsFloatingPoint(dtype); }

std::string Label(const char* what, DataType dtype, bool in_place, int rank) {
  return std::string(what) + " " + std::string(DataTypeName(dtype)) +
         (in_place ? " in place" : " out of place") + " rank " + std::to_string(rank);
}

// Inputs for a reduction: small integers that keep every op exact in every dtype.
std::vector<Values> ReductionInputs(std::mt19937& gen, int world, size_t count, DataType dtype,
                                    ReduceOp op) {
  std::vector<Values> inputs;
  for (int r = 0; r < world; ++r) {
    inputs.push_back(op == ReduceOp::kProd ? RandomValues(gen, count, dtype, 1, 3)
                                           : RandomValues(gen, count, dtype, -8, 8));
  }
  return inputs;
}

std::vector<Values> MovementInputs(std::mt19937& gen, int world, size_t count, DataType dtype) {
  std::vector<Values> inputs;
  for (int r = 0; r < world; ++r) inputs.push_back(RandomValues(gen, count, dtype, -100, 100));
  return inputs;
}

TEST_F(NcclGpuTest, AllReduceEveryDtypeAndOp) {
  auto ranks = MakeRanks(MaxWorld());
  const int world = static_cast<int>(ranks.size());
  for (DataType dtype : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      if (op == ReduceOp::kAvg && IsInteger(dtype)) {
        // Refused before NCCL is called, like the CPU path.
        Status status = ranks[0].comm->AllReduce(nullptr, nullptr, kCount, dtype, op,
                                                 ranks[0].stream.get());
        EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
        continue;
      }
      for (bool in_place : {false, true}) {
        auto inputs = ReductionInputs(gen_, world, kCount, dtype, op);
        auto outputs = Run(ranks, dtype, inputs, in_place,
            [](int) { return Shape{kCount, kCount, 0, 0}; },
            [&](Rank& r, const void* send, void* recv) {
              return r.comm->AllReduce(send, recv, kCount, dtype, op, r.stream.get());
            });
        Values expected = ReduceAll(inputs, op, 0, kCount);
        for (int r = 0; r < world; ++r) {
          std::string what = "allreduce " + std::string(ReduceOpName(op));
          ExpectValues(outputs[r], expected, dtype, Label(what.c_str(), dtype, in_place, r));
        }
      }
    }
  }
}

TEST_F(NcclGpuTest, ReduceScatterEveryDtypeAndOp) {
  auto ranks = MakeRanks(MaxWorld());
  const int world = static_cast<int>(ranks.size());
  for (DataType dtype : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      if (op == ReduceOp::kAvg && IsInteger(dtype)) continue;
      for (bool in_place : {false, true}) {
        auto inputs = ReductionInputs(gen_, world, kCount * world, dtype, op);
        auto outputs = Run(ranks, dtype, inputs, in_place,
            [&](int rank) { return Shape{kCount * world, kCount, 0, kCount * rank}; },
            [&](Rank& r, const void* send, void* recv) {
              return r.comm->ReduceScatter(send, recv, kCount, dtype, op, r.stream.get());
            });
        for (int r = 0; r < world; ++r) {
          ExpectValues(outputs[r], ReduceAll(inputs, op, kCount * r, kCount), dtype,
                       Label("reduce_scatter", dtype, in_place, r));
        }
      }
    }
  }
}

TEST_F(NcclGpuTest, AllGatherEveryDtype) {
  auto ranks = MakeRanks(MaxWorld());
  const int world = static_cast<int>(ranks.size());
  for (DataType dtype : kAllDataTypes) {
    for (bool in_place : {false, true}) {
      auto inputs = MovementInputs(gen_, world, kCount, dtype);
      auto outputs = Run(ranks, dtype, inputs, in_place,
          [&](int rank) { return Shape{kCount, kCount * world, kCount * rank, 0}; },
          [&](Rank& r, const void* send, void* recv) {
            return r.comm->AllGather(send, recv, kCount, dtype, r.stream.get());
          });
      Values expected;
      for (const auto& in : inputs) expected.insert(expected.end(), in.begin(), in.end());
      for (int r = 0; r < world; ++r) {
        ExpectValues(outputs[r], expected, dtype, Label("allgather", dtype, in_place, r));
      }
    }
  }
}

TEST_F(NcclGpuTest, BroadcastAndReduceFromEveryRoot) {
  auto ranks = MakeRanks(MaxWorld());
  const int world = static_cast<int>(ranks.size());
  for (DataType dtype : kAllDataTypes) {
    for (int root = 0; root < world; ++root) {
      for (bool in_place : {false, true}) {
        auto inputs = MovementInputs(gen_, world, kCount, dtype);
        auto outputs = Run(ranks, dtype, inputs, in_place,
            [](int) { return Shape{kCount, kCount, 0, 0}; },
            [&](Rank& r, const void* send, void* recv) {
              return r.comm->Broadcast(send, recv, kCount, dtype, root, r.stream.get());
            });
        for (int r = 0; r < world; ++r) {
          ExpectValues(outputs[r], inputs[root], dtype, Label("broadcast", dtype, in_place, r));
        }
      }
      const ReduceOp op = IsInteger(dtype) ? ReduceOp::kMax : ReduceOp::kAvg;
      auto inputs = ReductionInputs(gen_, world, kCount, dtype, op);
      auto outputs = Run(ranks, dtype, inputs, /*in_place=*/false,
          [](int) { return Shape{kCount, kCount, 0, 0}; },
          [&](Rank& r, const void* send, void* recv) {
            return r.comm->Reduce(send, recv, kCount, dtype, op, root, r.stream.get());
          });
      ExpectValues(outputs[root], ReduceAll(inputs, op, 0, kCount), dtype,
                   Label("reduce", dtype, false, root));
      // Only the root's recv is written.
      Values poison = Decode(std::vector<uint8_t>(kCount * DataTypeSize(dtype), kPoisonByte),
                             dtype);
      for (int r = 0; r < world; ++r) {
        if (r != root) ExpectValues(outputs[r], poison, dtype, Label("reduce non-root", dtype, false, r));
      }
    }
    // An out-of-range root never reaches NCCL.
    Status bad = ranks[0].comm->Broadcast(nullptr, nullptr, 1, dtype, world, ranks[0].stream.get());
    EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << bad.ToString();
  }
}

TEST_F(NcclGpuTest, AllToAllEveryDtype) {
  auto ranks = MakeRanks(MaxWorld());
  const int world = static_cast<int>(ranks.size());
  for (DataType dtype : kAllDataTypes) {
    for (bool in_place : {false, true}) {
      auto inputs = MovementInputs(gen_, world, kCount * world, dtype);
      auto outputs = Run(ranks, dtype, inputs, in_place,
          [&](int) { return Shape{kCount * world, kCount * world, 0, 0}; },
          [&](Rank& r, const void* send, void* recv) {
            return r.comm->AllToAll(send, recv, kCount, dtype, r.stream.get());
          });
      for (int r = 0; r < world; ++r) {
        Values expected;  // block q comes from rank q's block r
        for (int q = 0; q < world; ++q) {
          auto begin = inputs[q].begin() + static_cast<std::ptrdiff_t>(kCount * r);
          expected.insert(expected.end(), begin, begin + kCount);
        }
        ExpectValues(outputs[r], expected, dtype, Label("alltoall", dtype, in_place, r));
      }
    }
  }
}

TEST_F(NcclGpuTest, SendRecvRingInAGroup) {
  // With one rank this is a send to self and a receive from self, which needs the group.
  auto ranks = MakeRanks(MaxWorld());
  const int world = static_cast<int>(ranks.size());
  for (DataType dtype : kAllDataTypes) {
    auto inputs = MovementInputs(gen_, world, kCount, dtype);
    auto outputs = Run(ranks, dtype, inputs, /*in_place=*/false,
        [](int) { return Shape{kCount, kCount, 0, 0}; },
        [&](Rank& r, const void* send, void* recv) {
          COHORT_RETURN_IF_ERROR(r.comm->GroupStart());
          Status status = r.comm->Send(send, kCount, dtype, (r.rank + 1) % world, r.stream.get());
          if (status.ok()) {
            status = r.comm->Recv(recv, kCount, dtype, (r.rank + world - 1) % world,
                                  r.stream.get());
          }
          Status ended = r.comm->GroupEnd();
          return status.ok() ? ended : status;
        });
    for (int r = 0; r < world; ++r) {
      ExpectValues(outputs[r], inputs[(r + world - 1) % world], dtype,
                   Label("send/recv ring", dtype, false, r));
    }
  }
}

TEST_F(NcclGpuTest, InPlaceAllToAllInsideAGroupIsRefused) {
  auto ranks = MakeRanks(1);
  Rank& r = ranks[0];
  ASSERT_TRUE(r.comm->GroupStart().ok());
  auto buffer = cuda::DeviceBuffer::Allocate(r.device, 64);
  ASSERT_TRUE(buffer.ok());
  Status status = r.comm->AllToAll(buffer->data(), buffer->data(), 4, DataType::kF32,
                                   r.stream.get());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_TRUE(r.comm->GroupEnd().ok());
}

}  // namespace
}  // namespace cohort::nccl_test

#else  // !COHORT_HAVE_NCCL
#include <gtest/gtest.h>
TEST(NcclGpu, NeedsNcclHeaders) { GTEST_SKIP() << "cohort was built without nccl.h (NCCL_HOME)"; }
#endif
