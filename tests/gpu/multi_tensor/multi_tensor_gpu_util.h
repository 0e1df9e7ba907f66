// Helpers for the multi-tensor GPU tests: a fixture that skips without a device, host/device
// "mirrored arenas" (the same byte layout on both sides, so the CPU reference runs on exactly
// the layout the kernel saw, and whole arenas, gaps included, compare byte for byte), unique
// input values, and the element comparison and norm tolerance shared by the tests.
//
// Compiled by the host compiler: device memory and copies go through runtime/device/cuda_runtime.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/cuda/multi_tensor.h"
#include "runtime/device/cuda_runtime.h"

#define COHORT_ASSERT_OK(expr)                         \
  do {                                                 \
    const ::cohort::Status _status = (expr);           \
    ASSERT_TRUE(_status.ok()) << _status.ToString();   \
  } while (0)

namespace cohort::kernels::gpu_testing {

// Base seed; COHORT_TEST_SEED overrides it. Every case adds its own salt and prints the sum.
inline uint64_t BaseSeed() {
  const char* env = std::getenv("COHORT_TEST_SEED");
  return env != nullptr ? std::stoull(env) : 0x5eed2024u;
}
inline std::string SeedText(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (rerun with COHORT_TEST_SEED)";
}

class MultiTensorGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cohort::cuda::DeviceCount() == 0) {
      GTEST_SKIP() << "no CUDA device: " << cohort::cuda::NoDeviceReason();
    }
    COHORT_ASSERT_OK(cohort::cuda::SetDevice(0));
    auto stream = cohort::cuda::Stream::Create(0, /*blocking=*/false);
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    stream_ = std::move(stream).value();
    auto workspace = cuda::MultiTensorWorkspace::Create(0);
    ASSERT_TRUE(workspace.ok()) << workspace.status().ToString();
    workspace_ = std::move(workspace).value();
  }
  void* stream() const { return stream_.get(); }

  cohort::cuda::Stream stream_;
  cuda::MultiTensorWorkspace workspace_;
};

// `bytes` of device memory and a host vector of the same size; offsets mean the same in both.
struct MirroredArena {
  std::vector<uint8_t> host;
  cohort::cuda::DeviceBuffer device;

  Status Allocate(size_t bytes) {
    host.assign(bytes, 0);
    auto buffer = cohort::cuda::DeviceBuffer::Allocate(0, bytes);
    if (!buffer.ok()) return buffer.status();
    device = std::move(buffer).value();
    return Status::Ok();
  }
  uint8_t* host_at(size_t offset) { return host.data() + offset; }
  void* device_at(size_t offset) const { return static_cast<uint8_t*>(device.data()) + offset; }
  // Host copy -> device, then waits.
  Status Upload(void* stream) {
    COHORT_RETURN_IF_ERROR(cohort::cuda::MemcpyAsync(device.data(), host.data(), host.size(), stream));
    return cohort::cuda::StreamSynchronize(stream);
  }
  Status Download(void* stream, std::vector<uint8_t>& out) const {
    out.resize(host.size());
    COHORT_RETURN_IF_ERROR(cohort::cuda::MemcpyAsync(out.data(), device.data(), host.size(), stream));
    return cohort::cuda::StreamSynchronize(stream);
  }
};

// Element `g` of a test's data: distinct for every g where the dtype allows (odd integers times
// powers of two for f32/f64, a bijection of g for 16-bit types), with NaNs (payloads,
// signalling), infinities, signed zeros, subnormals and rounding ties mixed in.
inline void FillUnique(std::mt19937_64& rng, DataType dtype, uint8_t* out, size_t count, size_t& g) {
  const size_t size = DataTypeSize(dtype);
  static const uint32_t kF32Special[] = {0x7fc00001u, 0xffa00000u, 0x7f800001u, 0x7f800000u,
                                         0xff800000u, 0x80000000u, 0x00000001u, 0x807fffffu,
                                         0x477ff000u, 0x3f808000u, 0x3f818000u, 0x7f7fffffu};
  static const uint64_t kF64Special[] = {0x7ff8000000000123ull, 0xfff0000000000000ull,
                                         0x7ff0000000000001ull, 0x8000000000000000ull,
                                         0x0000000000000001ull};
  for (size_t i = 0; i < count; ++i, ++g) {
    const bool special = rng() % 64 == 0;
    uint64_t bits = 0;
    if (dtype == DataType::kF32) {
      const float value = std::ldexp(static_cast<float>(2 * (g % (1 << 22)) + 1),
                                     static_cast<int>(rng() % 40) - 30) * (rng() % 2 ? 1 : -1);
      bits = special ? kF32Special[rng() % std::size(kF32Special)] : FloatBits(value);
    } else if (dtype == DataType::kF64) {
      const double value = std::ldexp(static_cast<double>(2 * g + 1),
                                      static_cast<int>(rng() % 600) - 300) * (rng() % 2 ? 1 : -1);
      if (special) {
        bits = kF64Special[rng() % std::size(kF64Special)];
      } else {
        std::memcpy(&bits, &value, 8);
      }
    } else if (size == 2) {
      bits = (g * 40503u + 12345u) & 0xffffu;  // odd multiplier: a bijection on 16 bits
    } else {
      bits = rng();
    }
    std::memcpy(out + i * size, &bits, size);
  }
}

// Finite values in [-8, 8) (for sums and norms whose expected values must stay finite).
inline void FillFinite(std::mt19937_64& rng, DataType dtype, uint8_t* out, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const float value = std::uniform_real_distribution<float>(-8, 8)(rng);
    uint16_t h;
    switch (dtype) {
      case DataType::kF32: std::memcpy(out + 4 * i, &value, 4); break;
      case DataType::kF64: { const double d = value * (1 + 1e-9 * static_cast<double>(i % 7)); std::memcpy(out + 8 * i, &d, 8); break; }
      case DataType::kF16: h = FloatToHalfBits(value); std::memcpy(out + 2 * i, &h, 2); break;
      case DataType::kBF16: h = FloatToBFloat16Bits(value); std::memcpy(out + 2 * i, &h, 2); break;
      default: break;
    }
  }
}

inline bool IsNanAt(DataType dtype, const uint8_t* p) {
  uint64_t bits = 0;
  std::memcpy(&bits, p, DataTypeSize(dtype));
  switch (dtype) {
    case DataType::kF32: return (bits & 0x7fffffffu) > 0x7f800000u;
    case DataType::kF64: return (bits & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
    case DataType::kF16: return (bits & 0x7fffu) > 0x7c00u;
    case DataType::kBF16: return (bits & 0x7fffu) > 0x7f80u;
    default: return false;
  }
}

// "" when `count` elements agree bit for bit, except that with `any_nan` two NaNs agree
// whatever their payloads (GPU arithmetic returns a canonical NaN); else the first mismatch.
inline std::string CompareElements(DataType dtype, bool any_nan, const uint8_t* expected,
                                   const uint8_t* actual, size_t count) {
  const size_t size = DataTypeSize(dtype);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* e = expected + i * size;
    const uint8_t* a = actual + i * size;
    if (std::memcmp(e, a, size) == 0) continue;
    if (any_nan && IsNanAt(dtype, e) && IsNanAt(dtype, a)) continue;
    uint64_t want = 0, got = 0;
    std::memcpy(&want, e, size);
    std::memcpy(&got, a, size);
    char text[128];
    std::snprintf(text, sizeof(text), "element %zu of %zu: expected 0x%llx, got 0x%llx", i, count,
                  static_cast<unsigned long long>(want), static_cast<unsigned long long>(got));
    return text;
  }
  return "";
}

// The one tolerance rule for norms, relative to the expected value: two f32 summation orders
// of 16384 squares differ by ~1e-6 relative; f64 orders (and FMA) by ~1e-15.
inline void ExpectNormNear(double expected, double actual, DataType accum_dtype,
                           const std::string& what) {
  if (std::isnan(expected) || std::isinf(expected)) {
    EXPECT_EQ(std::isnan(expected), std::isnan(actual)) << what << ": got " << actual;
    EXPECT_EQ(std::isinf(expected), std::isinf(actual)) << what << ": got " << actual;
    return;
  }
  const double tolerance = accum_dtype == DataType::kF64 ? 1e-12 : 1e-5;
  EXPECT_LE(std::fabs(actual - expected), tolerance * std::fabs(expected))
      << what << ": expected " << expected << ", got " << actual;
}

// A pointer phase for a tensor of `size`-byte elements: 16-byte aligned half the time, else
// any multiple of the element size below 16 (so some tensors share their destination's phase
// and take the vector path after a head, others never align and go element by element).
inline size_t RandomPhase(std::mt19937_64& rng, size_t size) {
  if (rng() % 2 == 0 || size >= 16) return 0;
  return size * (rng() % (16 / size));
}

// Log-uniform element counts in [1, 2^max_log2), with some empty tensors.
inline size_t RandomCount(std::mt19937_64& rng, double max_log2) {
  if (rng() % 16 == 0) return 0;
  return static_cast<size_t>(std::exp2(std::uniform_real_distribution<double>(0, max_log2)(rng)));
}

}  // namespace cohort::kernels::gpu_testing
