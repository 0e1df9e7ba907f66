// Multi-tensor pack/unpack and copy on the GPU against the CPU reference
// (kernels/cpu/multi_tensor_reference.h): every cast and scale, 1 to 1,000 tensors of mixed
// sizes (the 48/49 boundary between tables in the kernel parameters and in the workspace),
// misaligned tensors and fusion offsets, empty tensors, chunk-spanning tensors. Outputs are
// poisoned with two different byte patterns and whole arenas compared byte for byte, so an
// element left unwritten or a byte written outside its tensor fails either way.
#include <algorithm>
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

struct CastCase {
  DataType tensor, buffer;
  double scale;
};

const CastCase kCastCases[] = {
    {DataType::kF32, DataType::kF32, 1.0},   {DataType::kF32, DataType::kF32, 0.37},
    {DataType::kF32, DataType::kBF16, 1.0},  {DataType::kF32, DataType::kBF16, 0.125},
    {DataType::kF32, DataType::kF16, 0.37},  {DataType::kBF16, DataType::kF32, 0.37},
    {DataType::kF16, DataType::kF32, 1.0},   {DataType::kBF16, DataType::kBF16, 1.0},
    {DataType::kBF16, DataType::kBF16, 3.0}, {DataType::kF16, DataType::kF16, 0.37},
    {DataType::kF16, DataType::kBF16, 1.0},  {DataType::kF64, DataType::kF64, 0.37},
    {DataType::kF64, DataType::kF64, 1.0},   {DataType::kI32, DataType::kI32, 1.0},
    {DataType::kU8, DataType::kU8, 1.0},     {DataType::kI64, DataType::kI64, 1.0},
};

std::string CaseName(const CastCase& c) {
  return std::string(DataTypeName(c.tensor)) + " tensors <-> " + std::string(DataTypeName(c.buffer)) +
         " buffer, scale " + std::to_string(c.scale);
}

std::string FirstDifference(const std::vector<uint8_t>& expected, const std::vector<uint8_t>& actual) {
  const auto at = std::mismatch(expected.begin(), expected.end(), actual.begin());
  if (at.first == expected.end()) return "";
  const size_t offset = static_cast<size_t>(at.first - expected.begin());
  return "first difference at arena byte " + std::to_string(offset) + ": expected " +
         std::to_string(*at.first) + ", got " + std::to_string(*at.second);
}

// Tensors at random phases in one arena (and a second arena of the same layout to unpack
// into), and a fusion buffer with small gaps between entries at a random phase of its own.
struct Layout {
  MirroredArena tensors, unpacked, buffer;
  std::vector<FusionEntry> host, device, host_unpacked, device_unpacked;
  size_t buffer_at = 0, buffer_count = 0;

  Status Build(std::mt19937_64& rng, const CastCase& c, size_t n, double max_log2) {
    const size_t tsize = DataTypeSize(c.tensor), bsize = DataTypeSize(c.buffer);
    std::vector<size_t> counts(n), offsets(n);
    size_t cursor = 0, elements = 0;
    for (size_t i = 0; i < n; ++i) {
      counts[i] = RandomCount(rng, max_log2);
      offsets[i] = (cursor + 15) / 16 * 16 + RandomPhase(rng, tsize);
      cursor = offsets[i] + counts[i] * tsize + 1;
    }
    COHORT_RETURN_IF_ERROR(tensors.Allocate(cursor + 16));
    COHORT_RETURN_IF_ERROR(unpacked.Allocate(cursor + 16));
    std::fill(tensors.host.begin(), tensors.host.end(), 0x77);
    size_t g = 0;
    buffer_at = RandomPhase(rng, bsize);
    for (size_t i = 0; i < n; ++i) {
      FillUnique(rng, c.tensor, tensors.host_at(offsets[i]), counts[i], g);
      const size_t gap = rng() % 4 == 0 ? rng() % 4 : 0;
      host.push_back({tensors.host_at(offsets[i]), counts[i], elements + gap});
      device.push_back({tensors.device_at(offsets[i]), counts[i], elements + gap});
      host_unpacked.push_back({unpacked.host_at(offsets[i]), counts[i], elements + gap});
      device_unpacked.push_back({unpacked.device_at(offsets[i]), counts[i], elements + gap});
      elements += gap + counts[i];
    }
    buffer_count = elements + 3;
    return buffer.Allocate(buffer_at + buffer_count * bsize + 16);
  }
};

class MultiTensorPackGpuTest : public MultiTensorGpuTest {
 protected:
  // Pack then unpack `layout` on the GPU and the CPU, with outputs poisoned by `poison`.
  void CheckRoundTrip(Layout& layout, const CastCase& c, uint8_t poison) {
    SCOPED_TRACE("poison byte " + std::to_string(poison));
    COHORT_ASSERT_OK(layout.tensors.Upload(stream()));
    std::fill(layout.buffer.host.begin(), layout.buffer.host.end(), poison);
    COHORT_ASSERT_OK(layout.buffer.Upload(stream()));
    COHORT_ASSERT_OK(cuda::PackFusionBuffer(workspace_, layout.device, c.tensor,
                                            layout.buffer.device_at(layout.buffer_at),
                                            layout.buffer_count, c.buffer, c.scale, stream()));
    COHORT_ASSERT_OK(reference::PackFusionBuffer(layout.host, c.tensor,
                                                 layout.buffer.host_at(layout.buffer_at),
                                                 layout.buffer_count, c.buffer, c.scale));
    std::vector<uint8_t> packed;
    COHORT_ASSERT_OK(layout.buffer.Download(stream(), packed));
    ASSERT_EQ(packed, layout.buffer.host) << "pack: " << FirstDifference(layout.buffer.host, packed);

    std::fill(layout.unpacked.host.begin(), layout.unpacked.host.end(), poison);
    COHORT_ASSERT_OK(layout.unpacked.Upload(stream()));
    const double back = 1.0 / c.scale;
    COHORT_ASSERT_OK(cuda::UnpackFusionBuffer(workspace_, layout.buffer.device_at(layout.buffer_at),
                                              layout.buffer_count, c.buffer, layout.device_unpacked,
                                              c.tensor, back, stream()));
    COHORT_ASSERT_OK(reference::UnpackFusionBuffer(layout.buffer.host_at(layout.buffer_at),
                                                   layout.buffer_count, c.buffer,
                                                   layout.host_unpacked, c.tensor, back));
    std::vector<uint8_t> unpacked;
    COHORT_ASSERT_OK(layout.unpacked.Download(stream(), unpacked));
    ASSERT_EQ(unpacked, layout.unpacked.host) << "unpack: " << FirstDifference(layout.unpacked.host, unpacked);
  }
};

TEST_F(MultiTensorPackGpuTest, MatchesReferenceForEveryCastScaleAndTensorCount) {
  // 48 tensors still travel in the kernel parameters, 49 need the workspace's device table.
  const std::pair<size_t, double> kShapes[] = {{1, 16}, {7, 15}, {48, 12}, {49, 12}, {1000, 12}};
  for (const CastCase& c : kCastCases) {
    for (const auto& [n, max_log2] : kShapes) {
      const uint64_t seed = BaseSeed() + 7919 * n + static_cast<uint64_t>(c.tensor) * 31 +
                            static_cast<uint64_t>(c.buffer) + static_cast<uint64_t>(c.scale * 1000);
      SCOPED_TRACE(CaseName(c) + ", " + std::to_string(n) + " tensors, " + SeedText(seed));
      std::mt19937_64 rng(seed);
      Layout layout;
      COHORT_ASSERT_OK(layout.Build(rng, c, n, max_log2));
      for (uint8_t poison : {uint8_t{0xff}, uint8_t{0x00}}) {
        CheckRoundTrip(layout, c, poison);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// One tensor of 2^24 + 5 elements (1,025 chunks), cast to bf16 with a scale and back.
TEST_F(MultiTensorPackGpuTest, OneLargeTensorSpansManyChunks) {
  const CastCase c{DataType::kF32, DataType::kBF16, 0.25};
  const size_t count = (size_t{1} << 24) + 5;
  std::mt19937_64 rng(BaseSeed());
  Layout layout;
  COHORT_ASSERT_OK(layout.tensors.Allocate(count * 4 + 8));
  COHORT_ASSERT_OK(layout.unpacked.Allocate(count * 4 + 8));
  size_t g = 0;
  FillUnique(rng, c.tensor, layout.tensors.host_at(4), count, g);
  layout.host = {{layout.tensors.host_at(4), count, 0}};
  layout.device = {{layout.tensors.device_at(4), count, 0}};
  layout.host_unpacked = {{layout.unpacked.host_at(4), count, 0}};
  layout.device_unpacked = {{layout.unpacked.device_at(4), count, 0}};
  layout.buffer_at = 2;
  layout.buffer_count = count;
  COHORT_ASSERT_OK(layout.buffer.Allocate(2 + count * 2 + 16));
  CheckRoundTrip(layout, c, 0xff);
}

// The same workspace through growing and shrinking lists: the staging ring and the device
// table are reused and regrown without corrupting queued work.
TEST_F(MultiTensorPackGpuTest, WorkspaceIsReusedAcrossCallsOfDifferentSizes) {
  const CastCase c{DataType::kF32, DataType::kF16, 0.5};
  for (size_t n : {10, 1000, 3000, 60, 2500, 5}) {
    const uint64_t seed = BaseSeed() + n;
    SCOPED_TRACE(std::to_string(n) + " tensors, " + SeedText(seed));
    std::mt19937_64 rng(seed);
    Layout layout;
    COHORT_ASSERT_OK(layout.Build(rng, c, n, 10));
    CheckRoundTrip(layout, c, 0xff);
    if (HasFatalFailure()) return;
  }
}

// Several packs queued back to back on the stream before anything is read back (the host runs
// ahead of the device through the staging ring).
TEST_F(MultiTensorPackGpuTest, QueuedCallsDoNotDisturbEachOther) {
  const CastCase c{DataType::kF32, DataType::kF32, 1.0};
  constexpr int kCalls = 9;
  std::mt19937_64 rng(BaseSeed() + 99);
  std::vector<Layout> layouts(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    COHORT_ASSERT_OK(layouts[i].Build(rng, c, 200 + 100 * i, 11));
    COHORT_ASSERT_OK(layouts[i].tensors.Upload(stream()));
    std::fill(layouts[i].buffer.host.begin(), layouts[i].buffer.host.end(), 0xff);
    COHORT_ASSERT_OK(layouts[i].buffer.Upload(stream()));
  }
  for (Layout& l : layouts) {
    COHORT_ASSERT_OK(cuda::PackFusionBuffer(workspace_, l.device, c.tensor, l.buffer.device_at(l.buffer_at),
                                            l.buffer_count, c.buffer, c.scale, stream()));
  }
  for (int i = 0; i < kCalls; ++i) {
    Layout& l = layouts[i];
    COHORT_ASSERT_OK(reference::PackFusionBuffer(l.host, c.tensor, l.buffer.host_at(l.buffer_at),
                                                 l.buffer_count, c.buffer, c.scale));
    std::vector<uint8_t> packed;
    COHORT_ASSERT_OK(l.buffer.Download(stream(), packed));
    ASSERT_EQ(packed, l.buffer.host) << "call " << i << ": " << FirstDifference(l.buffer.host, packed);
  }
}

TEST_F(MultiTensorPackGpuTest, RefusesBadArguments) {
  MirroredArena arena;
  COHORT_ASSERT_OK(arena.Allocate(1024));
  float* base = static_cast<float*>(arena.device.data());
  const FusionEntry fine{base, 10, 0};
  EXPECT_TRUE(cuda::PackFusionBuffer(workspace_, {&fine, 1}, DataType::kF32, base + 64, 10,
                                     DataType::kF32, 1.0, stream()).ok());
  EXPECT_EQ(cuda::PackFusionBuffer(workspace_, {&fine, 1}, DataType::kF32, base + 64, 9,
                                   DataType::kF32, 1.0, stream()).code(),
            StatusCode::kInvalidArgument);  // entry past the buffer
  const FusionEntry odd{arena.device_at(2), 10, 0};  // f32 at a 2-byte boundary
  EXPECT_EQ(cuda::PackFusionBuffer(workspace_, {&odd, 1}, DataType::kF32, base + 64, 10,
                                   DataType::kF32, 1.0, stream()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::PackFusionBuffer(workspace_, {&fine, 1}, DataType::kI32, base + 64, 10,
                                   DataType::kF32, 1.0, stream()).code(),
            StatusCode::kUnimplemented);
  cuda::MultiTensorWorkspace empty;
  EXPECT_EQ(cuda::PackFusionBuffer(empty, {&fine, 1}, DataType::kF32, base + 64, 10,
                                   DataType::kF32, 1.0, stream()).code(),
            StatusCode::kInvalidArgument);
  // Nothing to do is not an error, and launches nothing.
  EXPECT_TRUE(cuda::MultiTensorCopy(workspace_, {}, DataType::kF32, DataType::kBF16, 1.0, stream()).ok());
  COHORT_ASSERT_OK(cohort::cuda::StreamSynchronize(stream()));
}

}  // namespace
}  // namespace cohort::kernels::gpu_testing
