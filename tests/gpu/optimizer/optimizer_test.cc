// SgdStepCuda / AdamStepCuda (kernels/cuda/optimizer.h) against the CPU implementation, which
// tests/unit/kernels/optimizer_test.cc checks against PyTorch's algorithms. Fresh random data per
// step (seed printed), every gradient x model-copy dtype pair, option combinations, odd sizes,
// buffers at the same and at different element phases (vector body with scalar head and tail, and
// the all-scalar path), guard elements around every device buffer, a model copy poisoned before
// every step, the device-side skip flag, NaN and infinity, and input checks.
//
// Tolerance: the kernels are written to equal the CPU code bit for bit (same f32 constants and
// operation order, no fma contraction, IEEE division and sqrt), and the test prints how many
// elements differ at all; it fails only beyond 1e-6 relative per element (plus 1e-6 of the
// buffer's RMS, for values that cancel to near zero), which would still hold if the kernels one
// day let nvcc contract into fma. bf16/f16 model copies must be within 1 ulp.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/cpu/optimizer.h"
#include "kernels/cuda/optimizer.h"
#include "runtime/device/cuda_runtime.h"

namespace cohort::kernels {
namespace {

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    const ::cohort::Status _status = (expr);               \
    ASSERT_TRUE(_status.ok()) << _status.ToString();       \
  } while (0)

#define SKIP_WITHOUT_DEVICE()                                                              \
  if (::cohort::cuda::DeviceCount() == 0) {                                                \
    GTEST_SKIP() << "no CUDA device: " << ::cohort::cuda::NoDeviceReason();                \
  }

uint64_t BaseSeed() {
  const char* env = std::getenv("COHORT_TEST_SEED");
  return env != nullptr ? std::stoull(env) : 0x5eed2024u;
}

constexpr size_t kGuard = 64;  // guard elements on each side of every device buffer
constexpr unsigned char kGuardByte = 0xa5;

// `count` elements at element `phase` past a 256-byte boundary, with guards, on device 0.
class DeviceArray {
 public:
  DeviceArray(size_t element_bytes, size_t count, size_t phase, void* stream)
      : element_bytes_(element_bytes), count_(count), phase_(phase), stream_(stream) {
    auto buffer = cuda::DeviceBuffer::Allocate(0, TotalBytes());
    status_ = buffer.status();
    if (!buffer.ok()) return;
    buffer_ = std::move(buffer).value();
    const std::vector<unsigned char> guards(TotalBytes(), kGuardByte);
    status_ = cuda::MemcpyAsync(buffer_.data(), guards.data(), guards.size(), stream_);
    if (status_.ok()) status_ = cuda::StreamSynchronize(stream_);
  }
  const Status& status() const { return status_; }
  void* data() const { return static_cast<char*>(buffer_.data()) + (kGuard + phase_) * element_bytes_; }
  float* f32() const { return static_cast<float*>(data()); }
  size_t bytes() const { return count_ * element_bytes_; }

  Status Upload(const void* host) {
    COHORT_RETURN_IF_ERROR(cuda::MemcpyAsync(data(), host, bytes(), stream_));
    return cuda::StreamSynchronize(stream_);
  }
  Status Download(void* host) const {
    COHORT_RETURN_IF_ERROR(cuda::MemcpyAsync(host, data(), bytes(), stream_));
    return cuda::StreamSynchronize(stream_);
  }
  // True when nothing outside the elements was written.
  Result<bool> GuardsIntact() const {
    std::vector<unsigned char> all(TotalBytes());
    COHORT_RETURN_IF_ERROR(cuda::MemcpyAsync(all.data(), buffer_.data(), all.size(), stream_));
    COHORT_RETURN_IF_ERROR(cuda::StreamSynchronize(stream_));
    const size_t begin = (kGuard + phase_) * element_bytes_;
    for (size_t i = 0; i < all.size(); ++i) {
      if ((i < begin || i >= begin + bytes()) && all[i] != kGuardByte) return false;
    }
    return true;
  }

 private:
  size_t TotalBytes() const { return (count_ + 2 * kGuard + phase_) * element_bytes_; }
  size_t element_bytes_, count_, phase_;
  void* stream_;
  cuda::DeviceBuffer buffer_;
  Status status_;
};

uint16_t Narrow(DataType dtype, float x) {
  return dtype == DataType::kBF16 ? FloatToBFloat16Bits(x) : FloatToHalfBits(x);
}

std::vector<unsigned char> RandomGradients(std::mt19937_64& rng, DataType dtype, size_t count) {
  std::vector<unsigned char> bytes(count * DataTypeSize(dtype));
  std::normal_distribution<float> normal(0, 1);
  for (size_t i = 0; i < count; ++i) {
    const float x = rng() % 64 == 0 ? 0.0f : normal(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 12) - 8);
    if (dtype == DataType::kF32) {
      std::memcpy(bytes.data() + 4 * i, &x, 4);
    } else {
      const uint16_t h = Narrow(dtype, x);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return bytes;
}

// "" or the first element beyond the tolerance; counts elements that differ at all.
std::string CompareF32(const char* name, const std::vector<float>& gpu,
                       const std::vector<float>& cpu, size_t* inexact) {
  double sum_squares = 0;
  for (float x : cpu) sum_squares += std::isfinite(x) ? static_cast<double>(x) * x : 0.0;
  const double rms = cpu.empty() ? 0 : std::sqrt(sum_squares / static_cast<double>(cpu.size()));
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (std::memcmp(&gpu[i], &cpu[i], 4) == 0) continue;
    ++*inexact;
    if (std::isnan(gpu[i]) && std::isnan(cpu[i])) continue;
    const double tolerance = 1e-6 * std::fabs(cpu[i]) + 1e-6 * rms;
    if (!(std::fabs(static_cast<double>(gpu[i]) - cpu[i]) <= tolerance)) {
      char text[160];
      std::snprintf(text, sizeof(text), "%s[%zu]: gpu %.9g, cpu %.9g (tolerance %.3g)", name, i,
                    gpu[i], cpu[i], tolerance);
      return text;
    }
  }
  return "";
}

// bf16/f16 bit patterns: equal, both NaN, or neighbours (adjacent patterns of one sign are
// adjacent values; +0 and -0 count as equal).
std::string CompareNarrow(DataType dtype, const std::vector<uint16_t>& gpu,
                          const std::vector<uint16_t>& cpu) {
  const uint16_t nan_above = dtype == DataType::kBF16 ? 0x7f80 : 0x7c00;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const uint16_t a = gpu[i], b = cpu[i];
    if (a == b || ((a & 0x7fff) == 0 && (b & 0x7fff) == 0)) continue;
    if ((a & 0x7fff) > nan_above && (b & 0x7fff) > nan_above) continue;
    if ((a & 0x8000) == (b & 0x8000) && (a - b == 1 || b - a == 1)) continue;
    char text[96];
    std::snprintf(text, sizeof(text), "model[%zu]: gpu 0x%04x, cpu 0x%04x", i, a, b);
    return text;
  }
  return "";
}

struct Layout {
  size_t count;
  size_t phases[6];  // params, grads, model, state 0..2 (element phase of each buffer)
};

// One optimizer run: CPU buffers are the reference, device buffers the subject; after each
// step the GPU results are compared and then replaced by the CPU's, so every step is checked
// from identical inputs.
class ShardRun {
 public:
  ShardRun(DataType grad_dtype, DataType model_dtype, const Layout& layout, int states, uint64_t seed)
      : grad_dtype_(grad_dtype), model_dtype_(model_dtype), n_(layout.count), states_(states),
        rng_(seed) {
    auto stream = cuda::Stream::Create(0, /*blocking=*/false);
    if (!stream.ok()) { status_ = stream.status(); return; }
    stream_ = std::move(stream).value();
    void* s = stream_.get();
    params_ = std::make_unique<DeviceArray>(4, n_, layout.phases[0], s);
    grads_ = std::make_unique<DeviceArray>(DataTypeSize(grad_dtype), n_, layout.phases[1], s);
    model_ = std::make_unique<DeviceArray>(2, n_, layout.phases[2], s);
    for (int k = 0; k < states_; ++k) state_[k] = std::make_unique<DeviceArray>(4, n_, layout.phases[3 + k], s);
    std::normal_distribution<float> normal(0, 1);
    host_p_.resize(n_);
    for (float& x : host_p_) x = normal(rng_);
    for (int k = 0; k < states_; ++k) {
      host_state_[k].resize(n_);
      // exp_avg any sign; exp_avg_sq and max_exp_avg_sq non-negative; SGD's buffer is overwritten.
      for (float& x : host_state_[k]) x = k == 0 ? normal(rng_) * 0.01f : std::fabs(normal(rng_)) * 1e-4f;
    }
    status_ = SyncDeviceFromHost();
  }
  const Status& status() const { return status_; }
  void* stream() const { return stream_.get(); }

  OptimizerShard DeviceShard(const float* flag = nullptr) const {
    return {n_, params_->f32(), grads_->data(), grad_dtype_, HasModel() ? model_->data() : nullptr,
            model_dtype_, flag};
  }
  OptimizerShard HostShard() {
    return {n_, host_p_.data(), host_grads_.data(), grad_dtype_,
            HasModel() ? host_model_.data() : nullptr, model_dtype_, nullptr};
  }
  float* DeviceState(int k) const { return k < states_ ? state_[k]->f32() : nullptr; }
  float* HostState(int k) { return k < states_ ? host_state_[k].data() : nullptr; }

  // Fresh gradients and a poisoned model copy (all-ones bits: NaN) on both sides.
  Status NextGradients() {
    host_grads_ = RandomGradients(rng_, grad_dtype_, n_);
    COHORT_RETURN_IF_ERROR(grads_->Upload(host_grads_.data()));
    host_model_.assign(n_, 0xffff);
    return model_->Upload(host_model_.data());
  }

  // Compares device results with the host's, then makes the device equal the host again.
  std::string CompareAndResync(size_t* inexact) {
    std::vector<float> got(n_);
    if (!params_->Download(got.data()).ok()) return "download failed";
    std::string error = CompareF32("params", got, host_p_, inexact);
    for (int k = 0; k < states_ && error.empty(); ++k) {
      if (!state_[k]->Download(got.data()).ok()) return "download failed";
      const char* names[] = {"state0", "state1", "state2"};
      error = CompareF32(names[k], got, host_state_[k], inexact);
    }
    if (error.empty() && HasModel()) {
      std::vector<uint16_t> model(n_);
      if (!model_->Download(model.data()).ok()) return "download failed";
      error = CompareNarrow(model_dtype_, model, host_model_);
    }
    for (const DeviceArray* a : {params_.get(), grads_.get(), model_.get(), state_[0].get(),
                                 state_[1].get(), state_[2].get()}) {
      if (a == nullptr || !error.empty()) continue;
      const Result<bool> intact = a->GuardsIntact();
      if (!intact.ok() || !intact.value()) error = "a write landed outside a buffer";
    }
    if (error.empty() && !SyncDeviceFromHost().ok()) error = "upload failed";
    return error;
  }

 private:
  bool HasModel() const { return model_dtype_ != DataType::kF32; }
  Status SyncDeviceFromHost() {
    for (const Status& s : {params_->status(), grads_->status(), model_->status()}) COHORT_RETURN_IF_ERROR(s);
    COHORT_RETURN_IF_ERROR(params_->Upload(host_p_.data()));
    for (int k = 0; k < states_; ++k) {
      COHORT_RETURN_IF_ERROR(state_[k]->status());
      COHORT_RETURN_IF_ERROR(state_[k]->Upload(host_state_[k].data()));
    }
    return Status::Ok();
  }

  DataType grad_dtype_, model_dtype_;
  size_t n_;
  int states_;
  std::mt19937_64 rng_;
  cuda::Stream stream_;
  std::unique_ptr<DeviceArray> params_, grads_, model_, state_[3];
  std::vector<float> host_p_, host_state_[3];
  std::vector<unsigned char> host_grads_;
  std::vector<uint16_t> host_model_;
  Status status_;
};

constexpr DataType kGradTypes[] = {DataType::kF32, DataType::kBF16, DataType::kF16};
constexpr DataType kModelTypes[] = {DataType::kF32, DataType::kBF16, DataType::kF16};  // f32: none
// Same phase everywhere (vector body, scalar head/tail) and mixed phases (all-scalar path).
constexpr Layout kLayouts[] = {{1, {0, 0, 0, 0, 0, 0}},       {5, {3, 3, 3, 3, 3, 3}},
                               {1031, {0, 0, 0, 0, 0, 0}},    {4099, {1, 1, 1, 1, 1, 1}},
                               {777, {0, 1, 2, 3, 0, 1}},     {(1 << 20) + 7, {2, 2, 2, 2, 2, 2}},
                               {(1 << 18) + 1, {0, 0, 3, 0, 0, 0}}};
constexpr int kSteps = 4;

std::string Name(DataType g, DataType m, const Layout& l, uint64_t seed) {
  return std::string("grads ") + std::string(DataTypeName(g)) + ", model " +
         (m == DataType::kF32 ? "none" : std::string(DataTypeName(m))) + ", count " +
         std::to_string(l.count) + ", phases " + std::to_string(l.phases[0]) +
         std::to_string(l.phases[1]) + std::to_string(l.phases[2]) + std::to_string(l.phases[3]) +
         ", seed " + std::to_string(seed);
}

// Runs `step(run, step_number, gpu)` for every dtype pair and layout; gpu=false runs the CPU.
template <typename Step>
void ForEachRun(int states, uint64_t salt, Step step) {
  size_t inexact = 0, index = 0;
  for (DataType g : kGradTypes) {
    for (DataType m : kModelTypes) {
      for (const Layout& layout : kLayouts) {
        const uint64_t seed = BaseSeed() * 1000003 + salt * 7919 + index++;
        SCOPED_TRACE(Name(g, m, layout, seed));
        ShardRun run(g, m, layout, states, seed);
        ASSERT_OK(run.status());
        for (int s = 1; s <= kSteps; ++s) {
          SCOPED_TRACE("step " + std::to_string(s));
          ASSERT_OK(run.NextGradients());
          ASSERT_OK(step(run, s, true));
          ASSERT_OK(step(run, s, false));
          ASSERT_EQ(run.CompareAndResync(&inexact), "");
        }
      }
    }
  }
  std::printf("elements not bit-identical to the CPU: %zu\n", inexact);
  ::testing::Test::RecordProperty("inexact_elements", static_cast<int>(inexact));
}

TEST(OptimizerCudaTest, SgdMatchesCpu) {
  SKIP_WITHOUT_DEVICE();
  const SgdParams configs[] = {
      {.lr = 0.1},
      {.lr = 0.1, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true, .grad_scale = 1.0 / 3},
      {.lr = 0.1, .momentum = 0.5, .dampening = 0.25, .weight_decay = 0.1, .maximize = true,
       .grad_scale = 1.0 / 1024},
  };
  uint64_t salt = 0;
  for (const SgdParams& config : configs) {
    SCOPED_TRACE("SGD config " + std::to_string(salt));
    ForEachRun(1, ++salt, [&](ShardRun& run, int step, bool gpu) {
      SgdParams o = config;
      o.step = step;
      return gpu ? SgdStepCuda(o, run.DeviceShard(), run.DeviceState(0), run.stream())
                 : SgdStep(o, run.HostShard(), run.HostState(0));
    });
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(OptimizerCudaTest, AdamMatchesCpu) {
  SKIP_WITHOUT_DEVICE();
  const AdamParams configs[] = {
      {.lr = 0.01},
      {.lr = 0.01, .weight_decay = 0.1, .decoupled_weight_decay = true},
      {.lr = 0.01, .eps = 1e-3, .weight_decay = 0.1, .amsgrad = true, .grad_scale = 1.0 / 3},
      {.lr = 0.02, .beta1 = 0.5, .beta2 = 0.9, .weight_decay = 0.01, .decoupled_weight_decay = true,
       .amsgrad = true, .maximize = true, .grad_scale = 1.0 / 1024},
  };
  uint64_t salt = 100;
  for (const AdamParams& config : configs) {
    SCOPED_TRACE("Adam config " + std::to_string(salt));
    ForEachRun(3, ++salt, [&](ShardRun& run, int step, bool gpu) {
      AdamParams o = config;
      o.step = step;
      return gpu ? AdamStepCuda(o, run.DeviceShard(), run.DeviceState(0), run.DeviceState(1),
                                o.amsgrad ? run.DeviceState(2) : nullptr, run.stream())
                 : AdamStep(o, run.HostShard(), run.HostState(0), run.HostState(1),
                            o.amsgrad ? run.HostState(2) : nullptr);
    });
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(OptimizerCudaTest, DeviceFlagSkipsTheStep) {
  SKIP_WITHOUT_DEVICE();
  ShardRun run(DataType::kBF16, DataType::kBF16, {4099, {0, 0, 0, 0, 0, 0}}, 3, BaseSeed());
  ASSERT_OK(run.status());
  DeviceArray flag(4, 1, 0, run.stream());
  ASSERT_OK(flag.status());
  size_t inexact = 0;
  for (float value : {1.0f, INFINITY, std::nanf(""), 0.0f}) {
    SCOPED_TRACE("flag " + std::to_string(value));
    ASSERT_OK(flag.Upload(&value));
    ASSERT_OK(run.NextGradients());
    const AdamParams o{.weight_decay = 0.1, .decoupled_weight_decay = true, .amsgrad = true};
    ASSERT_OK(AdamStepCuda(o, run.DeviceShard(flag.f32()), run.DeviceState(0), run.DeviceState(1),
                           run.DeviceState(2), run.stream()));
    ASSERT_OK(SgdStepCuda({.momentum = 0.9, .step = 2}, run.DeviceShard(flag.f32()),
                          run.DeviceState(0), run.stream()));
    if (value == 0.0f) {  // a clear flag is an ordinary step
      OptimizerShard host = run.HostShard();
      host.found_nonfinite = &value;
      ASSERT_OK(AdamStep(o, host, run.HostState(0), run.HostState(1), run.HostState(2)));
      ASSERT_OK(SgdStep({.momentum = 0.9, .step = 2}, host, run.HostState(0)));
    }
    // Skipped: everything, including the poisoned model copy, must be as before on both sides.
    ASSERT_EQ(run.CompareAndResync(&inexact), "");
  }
}

TEST(OptimizerCudaTest, NonFiniteGradientsMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  for (DataType g : kGradTypes) {
    ShardRun run(g, DataType::kF16, {1000, {0, 0, 0, 0, 0, 0}}, 3, BaseSeed() + 1);
    ASSERT_OK(run.status());
    ASSERT_OK(run.NextGradients());
    // Overwrite a few gradients with NaN and +-infinity on both sides.
    std::vector<unsigned char> grads(1000 * DataTypeSize(g));
    OptimizerShard host = run.HostShard();
    std::memcpy(grads.data(), host.grads, grads.size());
    for (size_t i : {0, 5, 999}) {
      const float bad = i == 0 ? std::nanf("") : i == 5 ? INFINITY : -INFINITY;
      if (g == DataType::kF32) {
        std::memcpy(grads.data() + 4 * i, &bad, 4);
      } else {
        const uint16_t h = Narrow(g, bad);
        std::memcpy(grads.data() + 2 * i, &h, 2);
      }
    }
    DeviceArray device_grads(DataTypeSize(g), 1000, 0, run.stream());
    ASSERT_OK(device_grads.status());
    ASSERT_OK(device_grads.Upload(grads.data()));
    OptimizerShard device = run.DeviceShard();
    device.grads = device_grads.data();
    host.grads = grads.data();
    const AdamParams o{.amsgrad = true};
    ASSERT_OK(AdamStepCuda(o, device, run.DeviceState(0), run.DeviceState(1), run.DeviceState(2), run.stream()));
    ASSERT_OK(AdamStep(o, host, run.HostState(0), run.HostState(1), run.HostState(2)));
    size_t inexact = 0;
    ASSERT_EQ(run.CompareAndResync(&inexact), "");
  }
}

TEST(OptimizerCudaTest, RejectsBadInputBeforeLaunching) {
  SKIP_WITHOUT_DEVICE();
  ShardRun run(DataType::kF32, DataType::kF32, {64, {0, 0, 0, 0, 0, 0}}, 3, BaseSeed());
  ASSERT_OK(run.status());
  const OptimizerShard shard = run.DeviceShard();
  Status s = AdamStepCuda({}, shard, shard.params + 8, run.DeviceState(1), nullptr, run.stream());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("AdamStepCuda: exp_avg overlaps params"), std::string::npos) << s.ToString();
  s = SgdStepCuda({.nesterov = true}, shard, run.DeviceState(0), run.stream());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  OptimizerShard empty = shard;
  empty.count = 0;
  EXPECT_TRUE(SgdStepCuda({}, empty, nullptr, run.stream()).ok());
  ASSERT_OK(cuda::StreamSynchronize(run.stream()));
}

}  // namespace
}  // namespace cohort::kernels
