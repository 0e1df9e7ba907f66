// ReduceK on the GPU against the CPU reference: every float dtype and op, k from 1 to 16, odd
// counts, pointers that share a misaligned phase (vector path after a head), pointers whose
// phases differ (element path), dst aliasing a source, random bit patterns (NaN, Inf,
// subnormals). Results must match bit for bit, except that two NaNs of sum/prod/avg agree
// whatever their payloads (the GPU's arithmetic returns a canonical NaN).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/multi_tensor_reference.h"
#include "kernels/cuda/multi_tensor.h"
#include "tests/gpu/multi_tensor/multi_tensor_gpu_util.h"

namespace cohort::kernels::gpu_testing {
namespace {

constexpr DataType kFloats[] = {DataType::kF32, DataType::kF64, DataType::kF16, DataType::kBF16};

enum class Phases { kAligned, kSameMisaligned, kMixed };

class MultiTensorReduceKGpuTest : public MultiTensorGpuTest {
 protected:
  // Reduces k random buffers of `count` elements on both sides and compares; `alias` >= 0
  // makes dst the same buffer as that source.
  void Check(DataType dtype, ReduceOp op, size_t k, size_t count, Phases phases, int alias,
             uint64_t seed) {
    SCOPED_TRACE(std::string(DataTypeName(dtype)) + " " + std::string(ReduceOpName(op)) +
                 " k=" + std::to_string(k) + " count=" + std::to_string(count) + " phases=" +
                 std::to_string(static_cast<int>(phases)) + " alias=" + std::to_string(alias) +
                 ", " + SeedText(seed));
    std::mt19937_64 rng(seed);
    const size_t size = DataTypeSize(dtype);
    const size_t stride = (count * size + 64) / 16 * 16;  // each buffer in its own 16-byte slot
    MirroredArena arena;
    COHORT_ASSERT_OK(arena.Allocate(stride * (k + 1) + 64));
    std::vector<size_t> at(k + 1);
    // A phase shared by every pointer, not 16-byte aligned (the vector path after a head).
    const size_t shared_phase = phases == Phases::kAligned ? 0 : size * (1 + rng() % (16 / size - 1));
    for (size_t j = 0; j <= k; ++j) {
      size_t phase = shared_phase;
      if (phases == Phases::kMixed) phase = RandomPhase(rng, size);
      at[j] = j * stride + phase;
    }
    // Mixed: dst is never in phase with source 0, so no element is aligned for all pointers.
    if (phases == Phases::kMixed) at[k] = k * stride + (at[0] % 16 + size) % 16;
    std::fill(arena.host.begin(), arena.host.end(), 0xff);
    size_t g = 0;
    for (size_t j = 0; j < k; ++j) {
      if (rng() % 2) {
        FillUnique(rng, dtype, arena.host_at(at[j]), count, g);
      } else {
        for (size_t i = 0; i < count * size; ++i) *arena.host_at(at[j] + i) = static_cast<uint8_t>(rng());
      }
    }
    const size_t dst_at = alias >= 0 ? at[static_cast<size_t>(alias)] : at[k];
    COHORT_ASSERT_OK(arena.Upload(stream()));
    std::vector<const void*> host_srcs, device_srcs;
    for (size_t j = 0; j < k; ++j) {
      host_srcs.push_back(arena.host_at(at[j]));
      device_srcs.push_back(arena.device_at(at[j]));
    }
    COHORT_ASSERT_OK(cuda::ReduceK(arena.device_at(dst_at), device_srcs, count, dtype, op, stream()));
    COHORT_ASSERT_OK(reference::ReduceK(arena.host_at(dst_at), host_srcs, count, dtype, op));
    std::vector<uint8_t> actual;
    COHORT_ASSERT_OK(arena.Download(stream(), actual));
    const bool any_nan = op == ReduceOp::kSum || op == ReduceOp::kProd || op == ReduceOp::kAvg;
    ASSERT_EQ(CompareElements(dtype, any_nan, arena.host_at(dst_at), actual.data() + dst_at, count), "");
    // Nothing else in the arena changed (sources, guard bytes).
    for (size_t b = 0; b < actual.size(); ++b) {
      if (b >= dst_at && b < dst_at + count * size) continue;
      ASSERT_EQ(actual[b], arena.host[b]) << "byte " << b << " outside dst changed";
    }
  }
};

TEST_F(MultiTensorReduceKGpuTest, MatchesReferenceForEveryDtypeOpAndK) {
  for (DataType dtype : kFloats) {
    for (ReduceOp op : kAllReduceOps) {
      for (size_t k : {1, 2, 3, 4, 8, 16}) {
        const uint64_t seed = BaseSeed() + static_cast<uint64_t>(dtype) * 1000 + static_cast<uint64_t>(op) * 100 + k;
        Check(dtype, op, k, 100003, Phases::kAligned, -1, seed);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_F(MultiTensorReduceKGpuTest, MisalignedPointersAndOddCounts) {
  for (DataType dtype : kFloats) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kAvg}) {
      for (Phases phases : {Phases::kSameMisaligned, Phases::kMixed}) {
        for (size_t count : {1, 2, 7, 17, 255, 4099, 65537}) {
          const uint64_t seed = BaseSeed() + count * 7 + static_cast<uint64_t>(phases);
          Check(dtype, op, 3, count, phases, -1, seed);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_F(MultiTensorReduceKGpuTest, DstMayAliasAnySource) {
  for (DataType dtype : kFloats) {
    for (int alias : {0, 2, 4}) {
      Check(dtype, ReduceOp::kSum, 5, 33333, Phases::kAligned, alias, BaseSeed() + alias);
      Check(dtype, ReduceOp::kMin, 5, 33333, Phases::kSameMisaligned, alias, BaseSeed() + 10 + alias);
      if (HasFatalFailure()) return;
    }
  }
}

// 2^25 + 3 elements: a grid-stride loop that wraps many times.
TEST_F(MultiTensorReduceKGpuTest, LargeBuffers) {
  Check(DataType::kF32, ReduceOp::kSum, 4, (size_t{1} << 25) + 3, Phases::kAligned, -1, BaseSeed());
  Check(DataType::kBF16, ReduceOp::kAvg, 2, (size_t{1} << 25) + 3, Phases::kSameMisaligned, 0, BaseSeed());
}

TEST_F(MultiTensorReduceKGpuTest, RefusesBadArguments) {
  MirroredArena arena;
  COHORT_ASSERT_OK(arena.Allocate(4096));
  float* base = static_cast<float*>(arena.device.data());
  std::vector<const void*> none, many(17, base), one{base}, partial{base + 3};
  EXPECT_EQ(cuda::ReduceK(base + 512, none, 4, DataType::kF32, ReduceOp::kSum, stream()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::ReduceK(base + 512, many, 4, DataType::kF32, ReduceOp::kSum, stream()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::ReduceK(base + 512, one, 4, DataType::kI32, ReduceOp::kSum, stream()).code(), StatusCode::kUnimplemented);
  EXPECT_EQ(cuda::ReduceK(base, partial, 8, DataType::kF32, ReduceOp::kSum, stream()).code(), StatusCode::kInvalidArgument);
  std::vector<const void*> odd{arena.device_at(1)};
  EXPECT_EQ(cuda::ReduceK(base + 512, odd, 4, DataType::kF32, ReduceOp::kSum, stream()).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(cuda::ReduceK(base + 512, one, 0, DataType::kF32, ReduceOp::kSum, stream()).ok());
}

}  // namespace
}  // namespace cohort::kernels::gpu_testing
