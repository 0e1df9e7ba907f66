// Multi-tensor L2 norm on the GPU against the CPU reference: every input dtype and both
// accumulation types, 1 to 1,000 tensors (inline and device tables), empty tensors and lists,
// misaligned tensors, a tensor spanning many chunks, per-tensor norms, the non-finite flag
// (NaN, Inf, and f32 overflow that must not raise it), and run-to-run determinism. Results are
// poisoned first so an unwritten result shows.
#include <cmath>
#include <cstdint>
#include <cstring>
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

struct NormLayout {
  MirroredArena data;
  std::vector<NormTensor> host, device;

  Status Build(std::mt19937_64& rng, DataType dtype, const std::vector<size_t>& counts) {
    const size_t size = DataTypeSize(dtype);
    std::vector<size_t> at;
    size_t cursor = 0;
    for (size_t count : counts) {
      at.push_back((cursor + 15) / 16 * 16 + RandomPhase(rng, size));
      cursor = at.back() + count * size;
    }
    COHORT_RETURN_IF_ERROR(data.Allocate(cursor + 16));
    for (size_t t = 0; t < counts.size(); ++t) {
      FillFinite(rng, dtype, data.host_at(at[t]), counts[t]);
      host.push_back({data.host_at(at[t]), counts[t]});
      device.push_back({data.device_at(at[t]), counts[t]});
    }
    return Status::Ok();
  }
};

class MultiTensorL2NormGpuTest : public MultiTensorGpuTest {
 protected:
  void SetUp() override {
    MultiTensorGpuTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    COHORT_ASSERT_OK(out_.Allocate(64 + 4 * kMaxTensors));
  }

  // Runs both sides on `layout` (uploaded here) and compares; returns the GPU result.
  L2NormResult Check(NormLayout& layout, DataType dtype, DataType accum, bool per_tensor) {
    const size_t n = layout.host.size();
    EXPECT_LE(n, kMaxTensors);
    L2NormResult gpu{};
    Status s = layout.data.Upload(stream());
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::fill(out_.host.begin(), out_.host.end(), 0xff);  // NaN norms, flag 0xffffffff
    s = out_.Upload(stream());
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto* result = static_cast<L2NormResult*>(out_.device_at(0));
    float* norms = per_tensor ? static_cast<float*>(out_.device_at(64)) : nullptr;
    s = cuda::MultiTensorL2Norm(workspace_, layout.device, dtype, accum, result, norms, stream());
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto copied = cuda::CopyL2NormToHost(result, stream());
    EXPECT_TRUE(copied.ok()) << copied.status().ToString();
    if (!copied.ok()) return gpu;
    gpu = copied.value();

    std::vector<float> want_norms(n + 1, -1.0f);
    auto want = reference::MultiTensorL2Norm(layout.host, dtype, accum, want_norms.data());
    EXPECT_TRUE(want.ok()) << want.status().ToString();
    if (!want.ok()) return gpu;
    ExpectNormNear(want->sum_of_squares, gpu.sum_of_squares, accum, "sum of squares");
    ExpectNormNear(want->norm, gpu.norm, accum, "norm");
    EXPECT_EQ(gpu.non_finite, want->non_finite);
    std::vector<uint8_t> bytes;
    s = out_.Download(stream(), bytes);
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (size_t t = 0; t < n + (per_tensor ? 1 : 0); ++t) {
      float got;
      std::memcpy(&got, bytes.data() + 64 + 4 * t, 4);
      if (!per_tensor || t == n) {
        // Not asked for (or one past the end): must still be poison.
        uint32_t bits;
        std::memcpy(&bits, &got, 4);
        EXPECT_EQ(bits, 0xffffffffu) << "per-tensor slot " << t << " was written";
      } else {
        ExpectNormNear(want_norms[t], got, DataType::kF32, "tensor " + std::to_string(t));
      }
    }
    return gpu;
  }

  static constexpr size_t kMaxTensors = 4096;
  MirroredArena out_;  // L2NormResult at 0, per-tensor norms from byte 64
};

TEST_F(MultiTensorL2NormGpuTest, MatchesReferenceForEveryDtypeAccumulationAndCount) {
  for (DataType dtype : kFloats) {
    for (DataType accum : {DataType::kF32, DataType::kF64}) {
      for (size_t n : {1, 5, 48, 49, 1000}) {
        const uint64_t seed = BaseSeed() + static_cast<uint64_t>(dtype) * 100 + static_cast<uint64_t>(accum) * 10 + n;
        SCOPED_TRACE(std::string(DataTypeName(dtype)) + " in " + std::string(DataTypeName(accum)) + ", " +
                     std::to_string(n) + " tensors, " + SeedText(seed));
        std::mt19937_64 rng(seed);
        std::vector<size_t> counts(n);
        for (size_t& c : counts) c = RandomCount(rng, n > 100 ? 14 : 17);
        NormLayout layout;
        COHORT_ASSERT_OK(layout.Build(rng, dtype, counts));
        Check(layout, dtype, accum, /*per_tensor=*/n % 2 == 1);
        if (HasFailure()) return;
      }
    }
  }
}

TEST_F(MultiTensorL2NormGpuTest, OneTensorOfManyChunksIsDeterministic) {
  std::mt19937_64 rng(BaseSeed());
  NormLayout layout;
  COHORT_ASSERT_OK(layout.Build(rng, DataType::kBF16, {(size_t{1} << 25) + 7}));
  const L2NormResult first = Check(layout, DataType::kBF16, DataType::kF32, true);
  const L2NormResult second = Check(layout, DataType::kBF16, DataType::kF32, true);
  EXPECT_EQ(std::memcmp(&first, &second, sizeof(first)), 0) << "two runs differ";
}

TEST_F(MultiTensorL2NormGpuTest, FlagsNaNAndInfButNotOverflow) {
  for (DataType dtype : kFloats) {
    SCOPED_TRACE(DataTypeName(dtype));
    std::mt19937_64 rng(BaseSeed());
    NormLayout layout;
    COHORT_ASSERT_OK(layout.Build(rng, dtype, {1000, 70000, 3}));
    const L2NormResult clean = Check(layout, dtype, DataType::kF32, true);
    EXPECT_EQ(clean.non_finite, 0u);
    // A NaN with a payload deep inside the second tensor.
    const size_t size = DataTypeSize(dtype);
    uint8_t* victim = const_cast<uint8_t*>(static_cast<const uint8_t*>(layout.host[1].data)) + 40000 * size;
    std::vector<uint8_t> saved(victim, victim + size);
    const uint64_t nan_bits = size == 4 ? 0x7fc00123u : size == 8 ? 0x7ff8000000000001ull
                              : dtype == DataType::kF16 ? 0x7e01u : 0x7fc1u;
    std::memcpy(victim, &nan_bits, size);
    EXPECT_EQ(Check(layout, dtype, DataType::kF64, false).non_finite, 1u);
    const uint64_t inf_bits = size == 4 ? 0xff800000u : size == 8 ? 0x7ff0000000000000ull
                              : dtype == DataType::kF16 ? 0x7c00u : 0x7f80u;
    std::memcpy(victim, &inf_bits, size);
    const L2NormResult inf = Check(layout, dtype, DataType::kF32, true);
    EXPECT_EQ(inf.non_finite, 1u);
    EXPECT_TRUE(std::isinf(inf.norm));
    std::memcpy(victim, saved.data(), size);
  }
  // Finite f32 values whose squares overflow f32: an infinite norm without the flag; f64
  // accumulation stays finite.
  std::vector<float> huge(5000, 1e30f);
  NormLayout layout;
  COHORT_ASSERT_OK(layout.data.Allocate(huge.size() * 4));
  std::memcpy(layout.data.host.data(), huge.data(), huge.size() * 4);
  layout.host = {{layout.data.host.data(), huge.size()}};
  layout.device = {{layout.data.device.data(), huge.size()}};
  const L2NormResult overflow = Check(layout, DataType::kF32, DataType::kF32, false);
  EXPECT_TRUE(std::isinf(overflow.norm));
  EXPECT_EQ(overflow.non_finite, 0u);
  EXPECT_TRUE(std::isfinite(Check(layout, DataType::kF32, DataType::kF64, false).norm));
}

TEST_F(MultiTensorL2NormGpuTest, EmptyListsAndEmptyTensors) {
  NormLayout none;
  COHORT_ASSERT_OK(none.data.Allocate(16));
  const L2NormResult zero = Check(none, DataType::kF32, DataType::kF32, true);
  EXPECT_EQ(zero.norm, 0.0);
  EXPECT_EQ(zero.non_finite, 0u);
  // 100 tensors, all empty (a device table with no chunks), then empties among full ones.
  NormLayout empties;
  std::mt19937_64 rng(BaseSeed());
  COHORT_ASSERT_OK(empties.Build(rng, DataType::kF16, std::vector<size_t>(100, 0)));
  EXPECT_EQ(Check(empties, DataType::kF16, DataType::kF64, true).norm, 0.0);
  NormLayout mixed;
  COHORT_ASSERT_OK(mixed.Build(rng, DataType::kF32, {0, 17, 0, 0, 16384, 0, 16385, 0}));
  Check(mixed, DataType::kF32, DataType::kF32, true);
}

TEST_F(MultiTensorL2NormGpuTest, RefusesBadArguments) {
  auto* result = static_cast<L2NormResult*>(out_.device_at(0));
  const NormTensor odd{out_.device_at(2), 4};
  EXPECT_EQ(cuda::MultiTensorL2Norm(workspace_, {&odd, 1}, DataType::kF32, DataType::kF32, result, nullptr, stream()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::MultiTensorL2Norm(workspace_, {}, DataType::kF32, DataType::kF32, nullptr, nullptr, stream()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::MultiTensorL2Norm(workspace_, {}, DataType::kI8, DataType::kF32, result, nullptr, stream()).code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(cuda::MultiTensorL2Norm(workspace_, {}, DataType::kF32, DataType::kBF16, result, nullptr, stream()).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::kernels::gpu_testing
