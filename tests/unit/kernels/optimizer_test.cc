// SgdStep / AdamStep (kernels/cpu/optimizer.h) against PyTorch's algorithms transcribed below in
// double precision: every option combination, f32/bf16/f16 gradients, f32 parameters alone or as
// masters of a bf16/f16 model copy, grad scaling, steps 1..10 (bias correction), fresh random data
// with the seed printed, odd sizes, guard elements around every buffer; plus the skip flag, NaN
// propagation and the input checks (including the rule that no two buffers may overlap).
//
// How results are judged: each step starts the reference from the implementation's own state, so
// the check is per step and does not drift. The reference carries, next to each double value, a
// running bound on how far an f32 evaluation of the same formula can be from it (one rounding of
// 2^-24 relative per operation, propagated), and an output passes within twice that bound. A
// wrong constant, a missing term or a swapped operand shows up as an error far above it.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/half.h"
#include "kernels/cpu/optimizer.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace cohort::kernels::testing {
namespace {

// ---- the reference's number type: value plus a bound on an f32 evaluation's distance -----------

constexpr double kUnit = 0x1p-24;   // f32 unit roundoff (round to nearest)
constexpr double kTiny = 0x1p-149;  // absolute error of a result in f32's subnormal range

struct Tracked {
  double v = 0;  // exact value of the formula for these inputs
  double e = 0;  // bound on |f32 evaluation - v|
};
Tracked Input(double x) { return {x, 0}; }                              // an f32 the code reads
Tracked Constant(double c) { return {c, std::fabs(c) * kUnit}; }         // rounded once to f32
Tracked Rounded(double v, double e) { return {v, e + std::fabs(v) * kUnit + kTiny}; }
Tracked operator+(Tracked a, Tracked b) { return Rounded(a.v + b.v, a.e + b.e); }
Tracked operator-(Tracked a, Tracked b) { return Rounded(a.v - b.v, a.e + b.e); }
Tracked operator-(Tracked a) { return {-a.v, a.e}; }
Tracked operator*(Tracked a, Tracked b) {
  return Rounded(a.v * b.v, std::fabs(a.v) * b.e + std::fabs(b.v) * a.e + a.e * b.e);
}
Tracked operator/(Tracked a, Tracked b) {
  const double v = a.v / b.v;
  return Rounded(v, (a.e + std::fabs(v) * b.e) / (std::fabs(b.v) - b.e));
}
Tracked Sqrt(Tracked a) {
  const double v = std::sqrt(a.v);
  return Rounded(v, a.v > 0 ? std::min(std::sqrt(a.e), a.e / v) : std::sqrt(a.e));
}
Tracked Max(Tracked a, Tracked b) { return {std::max(a.v, b.v), std::max(a.e, b.e)}; }

// ---- PyTorch's algorithms (torch/optim/sgd.py, adam.py: the per-element math) ------------------

// torch.optim.SGD. Note: the docs' pseudo-code applies `maximize` at the final update, but the
// code negates the gradient first, so weight decay still pulls towards zero; this is the code.
struct SgdRef {
  Tracked p, buf;
};
SgdRef SgdReference(const SgdParams& o, float p, float grad, float buf) {
  Tracked g = Input(grad) * Constant(o.grad_scale);
  if (o.maximize) g = -g;
  if (o.weight_decay != 0) g = g + Constant(o.weight_decay) * Input(p);
  Tracked b;
  if (o.momentum != 0) {
    b = o.step == 1 ? g : Constant(o.momentum) * Input(buf) + Constant(1 - o.dampening) * g;
    g = o.nesterov ? g + Constant(o.momentum) * b : b;
  }
  return {Input(p) - Constant(o.lr) * g, b};
}

// torch.optim.Adam / AdamW: theta -= lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 -
// beta1^t) and v_hat = v / (1 - beta2^t), evaluated as PyTorch's fused kernel orders it.
struct AdamRef {
  Tracked p, m, v, vmax;
};
AdamRef AdamReference(const AdamParams& o, float p_in, float grad, float m_in, float v_in,
                      float vmax_in) {
  Tracked g = Input(grad) * Constant(o.grad_scale);
  if (o.maximize) g = -g;
  Tracked p = Input(p_in);
  if (o.weight_decay != 0) {
    if (o.decoupled_weight_decay) {
      p = p - Constant(o.lr * o.weight_decay) * p;
    } else {
      g = g + Constant(o.weight_decay) * p;
    }
  }
  const Tracked m = Constant(o.beta1) * Input(m_in) + Constant(1 - o.beta1) * g;
  const Tracked v = Constant(o.beta2) * Input(v_in) + Constant(1 - o.beta2) * g * g;
  const double t = static_cast<double>(o.step);
  const Tracked step_size = Constant(o.lr / (1 - std::pow(o.beta1, t)));
  const Tracked bias_correction2_sqrt = Constant(std::sqrt(1 - std::pow(o.beta2, t)));
  const Tracked vmax = o.amsgrad ? Max(Input(vmax_in), v) : Tracked{};
  const Tracked denom = Sqrt(o.amsgrad ? vmax : v) / bias_correction2_sqrt + Constant(o.eps);
  return {p - step_size * m / denom, m, v, vmax};
}

// ---- buffers ---------------------------------------------------------------------------------

constexpr size_t kGuard = 16;  // guard elements on each side of every buffer

// `count` elements of `dtype` starting `phase` elements after a 64-byte boundary, with guards.
class Buffer {
 public:
  Buffer(DataType dtype, size_t count, size_t phase)
      : size_(DataTypeSize(dtype)), count_(count), offset_((kGuard + phase) * size_),
        storage_((count + 2 * kGuard + phase) * size_ + 64, 0xa5) {}
  void* data() { return Aligned() + offset_; }
  float* f32() { return static_cast<float*>(data()); }
  uint16_t* u16() { return static_cast<uint16_t*>(data()); }
  bool GuardsIntact() {
    for (size_t i = 0; i < storage_.size(); ++i) {
      const char* byte = reinterpret_cast<const char*>(storage_.data()) + i;
      const bool inside = byte >= static_cast<char*>(data()) && byte < static_cast<char*>(data()) + count_ * size_;
      if (!inside && storage_[i] != 0xa5) return false;
    }
    return true;
  }

 private:
  char* Aligned() {
    const auto raw = reinterpret_cast<uintptr_t>(storage_.data());
    return reinterpret_cast<char*>(storage_.data()) + ((64 - raw % 64) % 64);
  }
  size_t size_, count_, offset_;
  std::vector<unsigned char> storage_;
};

float Widen(DataType dtype, const void* data, size_t i) {
  const auto* u = static_cast<const uint16_t*>(data);
  if (dtype == DataType::kBF16) return BFloat16BitsToFloat(u[i]);
  if (dtype == DataType::kF16) return HalfBitsToFloat(u[i]);
  return static_cast<const float*>(data)[i];
}
uint16_t Narrow(DataType dtype, float x) {
  return dtype == DataType::kBF16 ? FloatToBFloat16Bits(x) : FloatToHalfBits(x);
}
// Spacing of bf16 / f16 numbers around x: one unit in the last place.
double NarrowUlp(DataType dtype, double x) {
  const int mantissa_bits = dtype == DataType::kBF16 ? 7 : 10;
  const int min_exponent = dtype == DataType::kBF16 ? -126 : -14;
  const int exponent = x == 0 ? min_exponent : std::max(std::ilogb(x), min_exponent);
  return std::ldexp(1.0, exponent - mantissa_bits);
}

// Gradients of mixed magnitudes, rounded to the gradient dtype.
void FillGradients(std::mt19937_64& rng, DataType dtype, void* data, size_t count) {
  std::normal_distribution<float> normal(0, 1);
  for (size_t i = 0; i < count; ++i) {
    const float x = normal(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 12) - 8);
    if (dtype == DataType::kF32) {
      static_cast<float*>(data)[i] = x;
    } else {
      static_cast<uint16_t*>(data)[i] = Narrow(dtype, x);
    }
  }
}

std::string Format(double x) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.9g", x);
  return text;
}

// "" or the first element of `got` outside the reference's bound.
std::string Compare(const char* name, const float* got, const std::vector<Tracked>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double tolerance = 2 * want[i].e + kTiny;
    if (!(std::fabs(got[i] - want[i].v) <= tolerance)) {
      return std::string(name) + "[" + std::to_string(i) + "] = " + Format(got[i]) + ", reference " +
             Format(want[i].v) + " +- " + Format(tolerance);
    }
  }
  return "";
}

// The model copy is exactly the rounded master, hence within one ulp of the reference's value.
std::string CompareModel(DataType dtype, const uint16_t* model, const float* master,
                         const std::vector<Tracked>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (model[i] != Narrow(dtype, master[i])) {
      return "model[" + std::to_string(i) + "] is not the rounded master value";
    }
    if (!(std::fabs(Widen(dtype, model, i) - want[i].v) <= NarrowUlp(dtype, want[i].v) + 2 * want[i].e)) {
      return "model[" + std::to_string(i) + "] is more than 1 ulp from the reference";
    }
  }
  return "";
}

// ---- one case: options x dtypes x size, ten steps ---------------------------------------------

struct Case {
  DataType grad_dtype;
  DataType model_dtype;  // kF32: no model copy
  size_t count;
  uint64_t seed;
  std::string Describe() const {
    return "grads " + std::string(DataTypeName(grad_dtype)) + ", model " +
           (model_dtype == DataType::kF32 ? "none" : std::string(DataTypeName(model_dtype))) +
           ", count " + std::to_string(count) + ", seed " + std::to_string(seed) +
           " (COHORT_TEST_SEED=" + std::to_string(BaseSeed()) + ")";
  }
};

constexpr DataType kGradTypes[] = {DataType::kF32, DataType::kBF16, DataType::kF16};
constexpr DataType kModelTypes[] = {DataType::kF32, DataType::kBF16, DataType::kF16};
constexpr size_t kCounts[] = {1, 3, 17, 1000, 1031, 2053};
constexpr int kSteps = 10;

// Every grad x model dtype pair, with sizes and phases cycling, for one options combination.
template <typename Run>
void ForEachCase(uint64_t salt, Run run) {
  size_t index = 0;
  for (DataType g : kGradTypes) {
    for (DataType m : kModelTypes) {
      const Case c{g, m, kCounts[(salt + index) % std::size(kCounts)], BaseSeed() * 1000003 + salt * 97 + index};
      ++index;
      SCOPED_TRACE(c.Describe());
      run(c);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

void RunSgdCase(const SgdParams& base, const Case& c) {
  std::mt19937_64 rng(c.seed);
  const size_t n = c.count;
  Buffer params(DataType::kF32, n, rng() % 4), grads(c.grad_dtype, n, rng() % 4),
      model(DataType::kBF16, n, rng() % 4), buf(DataType::kF32, n, rng() % 4);
  std::normal_distribution<float> normal(0, 1);
  for (size_t i = 0; i < n; ++i) params.f32()[i] = normal(rng);
  // Step 1 must ignore the buffer's contents: poison it.
  for (size_t i = 0; i < n; ++i) buf.f32()[i] = std::nanf("");
  OptimizerShard shard{n, params.f32(), grads.data(), c.grad_dtype,
                       c.model_dtype == DataType::kF32 ? nullptr : model.data(), c.model_dtype};
  for (int step = 1; step <= kSteps; ++step) {
    SgdParams o = base;
    o.step = step;
    FillGradients(rng, c.grad_dtype, grads.data(), n);
    std::vector<Tracked> want_p(n), want_buf(n);
    for (size_t i = 0; i < n; ++i) {
      const SgdRef r = SgdReference(o, params.f32()[i], Widen(c.grad_dtype, grads.data(), i), buf.f32()[i]);
      want_p[i] = r.p;
      want_buf[i] = r.buf;
    }
    ASSERT_TRUE(SgdStep(o, shard, o.momentum != 0 ? buf.f32() : nullptr).ok());
    SCOPED_TRACE("step " + std::to_string(step));
    ASSERT_EQ(Compare("params", params.f32(), want_p), "");
    if (o.momentum != 0) {
      ASSERT_EQ(Compare("momentum_buffer", buf.f32(), want_buf), "");
    }
    if (shard.model_params) {
      ASSERT_EQ(CompareModel(c.model_dtype, model.u16(), params.f32(), want_p), "");
    }
  }
  ASSERT_TRUE(params.GuardsIntact() && grads.GuardsIntact() && model.GuardsIntact() && buf.GuardsIntact());
}

void RunAdamCase(const AdamParams& base, const Case& c, int64_t first_step) {
  std::mt19937_64 rng(c.seed);
  const size_t n = c.count;
  Buffer params(DataType::kF32, n, rng() % 4), grads(c.grad_dtype, n, rng() % 4),
      model(DataType::kBF16, n, rng() % 4), m(DataType::kF32, n, rng() % 4),
      v(DataType::kF32, n, rng() % 4), vmax(DataType::kF32, n, rng() % 4);
  std::normal_distribution<float> normal(0, 1);
  // PyTorch starts from zero state; half the cases start mid-training (a loaded checkpoint).
  const bool warm = c.seed % 2 == 1;
  for (size_t i = 0; i < n; ++i) {
    params.f32()[i] = normal(rng);
    m.f32()[i] = warm ? normal(rng) * 0.01f : 0.0f;
    v.f32()[i] = warm ? std::fabs(normal(rng)) * 1e-4f : 0.0f;
    vmax.f32()[i] = warm ? v.f32()[i] * 2 : 0.0f;
  }
  OptimizerShard shard{n, params.f32(), grads.data(), c.grad_dtype,
                       c.model_dtype == DataType::kF32 ? nullptr : model.data(), c.model_dtype};
  for (int64_t step = first_step; step < first_step + kSteps; ++step) {
    AdamParams o = base;
    o.step = step;
    FillGradients(rng, c.grad_dtype, grads.data(), n);
    std::vector<Tracked> want_p(n), want_m(n), want_v(n), want_vmax(n);
    for (size_t i = 0; i < n; ++i) {
      const AdamRef r = AdamReference(o, params.f32()[i], Widen(c.grad_dtype, grads.data(), i),
                                      m.f32()[i], v.f32()[i], vmax.f32()[i]);
      want_p[i] = r.p, want_m[i] = r.m, want_v[i] = r.v, want_vmax[i] = r.vmax;
    }
    ASSERT_TRUE(AdamStep(o, shard, m.f32(), v.f32(), o.amsgrad ? vmax.f32() : nullptr).ok());
    SCOPED_TRACE("step " + std::to_string(step));
    ASSERT_EQ(Compare("params", params.f32(), want_p), "");
    ASSERT_EQ(Compare("exp_avg", m.f32(), want_m), "");
    ASSERT_EQ(Compare("exp_avg_sq", v.f32(), want_v), "");
    if (o.amsgrad) {
      ASSERT_EQ(Compare("max_exp_avg_sq", vmax.f32(), want_vmax), "");
    }
    if (shard.model_params) {
      ASSERT_EQ(CompareModel(c.model_dtype, model.u16(), params.f32(), want_p), "");
    }
  }
  ASSERT_TRUE(params.GuardsIntact() && grads.GuardsIntact() && model.GuardsIntact() &&
              m.GuardsIntact() && v.GuardsIntact() && vmax.GuardsIntact());
}

std::string Describe(const SgdParams& o) {
  return "SGD lr " + std::to_string(o.lr) + " momentum " + std::to_string(o.momentum) +
         " dampening " + std::to_string(o.dampening) + " nesterov " + std::to_string(o.nesterov) +
         " weight_decay " + std::to_string(o.weight_decay) + " maximize " + std::to_string(o.maximize) +
         " grad_scale " + std::to_string(o.grad_scale);
}
std::string Describe(const AdamParams& o) {
  return std::string(o.decoupled_weight_decay ? "AdamW" : "Adam") + " lr " + std::to_string(o.lr) +
         " weight_decay " + std::to_string(o.weight_decay) + " eps " + std::to_string(o.eps) +
         " amsgrad " + std::to_string(o.amsgrad) + " maximize " + std::to_string(o.maximize) +
         " grad_scale " + std::to_string(o.grad_scale);
}

// The combination tests run under every ISA: the gradient and model conversions are dispatched.
TEST_P(IsaTest, OptimizerSgdMatchesPytorchAlgorithm) {
  uint64_t salt = 0;
  for (double momentum : {0.0, 0.9}) {
    for (double dampening : {0.0, 0.25}) {
      for (bool nesterov : {false, true}) {
        if (nesterov && (momentum == 0 || dampening != 0)) continue;
        if (momentum == 0 && (dampening != 0 || nesterov)) continue;
        for (double weight_decay : {0.0, 0.01}) {
          for (bool maximize : {false, true}) {
            for (double grad_scale : {1.0, 1.0 / 3}) {
              const SgdParams o{.lr = 0.1, .momentum = momentum, .dampening = dampening,
                                .weight_decay = weight_decay, .nesterov = nesterov,
                                .maximize = maximize, .grad_scale = grad_scale};
              SCOPED_TRACE(Describe(o));
              ForEachCase(++salt, [&](const Case& c) { RunSgdCase(o, c); });
              if (HasFailure()) return;
            }
          }
        }
      }
    }
  }
}

TEST_P(IsaTest, OptimizerAdamMatchesPytorchAlgorithm) {
  uint64_t salt = 0;
  for (bool decoupled : {false, true}) {
    for (double weight_decay : {0.0, 0.1}) {
      for (bool amsgrad : {false, true}) {
        for (bool maximize : {false, true}) {
          for (double grad_scale : {1.0, 1.0 / 1024, 1.0 / 3}) {
            const AdamParams o{.lr = 0.01, .eps = salt % 2 ? 1e-8 : 1e-3,
                               .weight_decay = weight_decay, .decoupled_weight_decay = decoupled,
                               .amsgrad = amsgrad, .maximize = maximize, .grad_scale = grad_scale};
            SCOPED_TRACE(Describe(o));
            ForEachCase(++salt, [&](const Case& c) { RunAdamCase(o, c, 1); });
            if (HasFailure()) return;
          }
        }
      }
    }
  }
}

TEST(OptimizerTest, AdamLateStepsAndOtherBetas) {
  // Bias correction near 1 (step 10^6) and near its smallest (beta1 = 0: no first moment).
  const AdamParams late{.lr = 0.001, .weight_decay = 0.01, .decoupled_weight_decay = true};
  ForEachCase(1, [&](const Case& c) { RunAdamCase(late, c, 1000000); });
  const AdamParams betas{.lr = 0.05, .beta1 = 0.0, .beta2 = 0.5, .amsgrad = true};
  ForEachCase(2, [&](const Case& c) { RunAdamCase(betas, c, 1); });
}

// ---- PyTorch's own results (optimizer_golden.py ran torch.optim on the CPU) ---------------------

struct GoldenCase {
  const char* name;
  bool is_adam;
  SgdParams sgd;
  AdamParams adam;
  float params[16];
  float grads[3][16];
  float after[3][16];  // parameters after each step
};
const GoldenCase kGolden[] = {
#include "tests/unit/kernels/optimizer_golden.inc"
};

// PyTorch's CPU path rounds in a different order (exp_avg.mul_(beta1).add_(grad, ...),
// param.mul_(1 - lr * wd), addcdiv_, and may use fma), so results agree to a few f32 ulps of the
// operands, not bit for bit.
TEST(OptimizerTest, MatchesTorchGoldenResults) {
  for (const GoldenCase& golden : kGolden) {
    SCOPED_TRACE(golden.name);
    std::vector<float> p(golden.params, golden.params + 16), m(16), v(16), vmax(16);
    double worst_ulps = 0;
    for (int s = 0; s < 3; ++s) {
      const OptimizerShard shard{.count = 16, .params = p.data(), .grads = golden.grads[s]};
      AdamParams adam = golden.adam;
      SgdParams sgd = golden.sgd;
      adam.step = sgd.step = s + 1;
      const std::vector<float> before = p;
      const Status status = golden.is_adam ? AdamStep(adam, shard, m.data(), v.data(), vmax.data())
                                           : SgdStep(sgd, shard, m.data());
      ASSERT_TRUE(status.ok()) << status.ToString();
      for (size_t i = 0; i < 16; ++i) {
        const double want = golden.after[s][i];
        // In ulps of the larger of the old and new value: p - update can cancel.
        const double scale = std::max(std::fabs(want), std::fabs(static_cast<double>(before[i])));
        const double ulps = std::fabs(p[i] - want) / (scale * kUnit * 2);
        worst_ulps = std::max(worst_ulps, ulps);
        EXPECT_LE(ulps, 4) << "step " << s + 1 << " element " << i << ": " << Format(p[i])
                           << " vs torch " << Format(want);
      }
    }
    std::printf("%s: worst difference from torch %.1f ulp\n", golden.name, worst_ulps);
  }
}

// ---- skip flag, NaN, input checks ------------------------------------------------------------

struct Fixture {
  explicit Fixture(size_t n) : p(n, 1.5f), g(n, 0.25f), m(n, 0.125f), v(n, 0.0625f), vmax(n, 0.5f), model(n, 7) {}
  OptimizerShard Shard(const float* flag = nullptr) {
    return {p.size(), p.data(), g.data(), DataType::kF32, model.data(), DataType::kBF16, flag};
  }
  std::vector<float> p, g, m, v, vmax;
  std::vector<uint16_t> model;
};

TEST(OptimizerTest, FoundNonfiniteFlagMakesTheStepANoOp) {
  for (float flag : {1.0f, -1.0f, INFINITY, std::nanf("")}) {
    Fixture f(37), before(37);
    ASSERT_TRUE(AdamStep({.amsgrad = true}, f.Shard(&flag), f.m.data(), f.v.data(), f.vmax.data()).ok());
    ASSERT_TRUE(SgdStep({.momentum = 0.9, .step = 2}, f.Shard(&flag), f.m.data()).ok());
    EXPECT_EQ(f.p, before.p);
    EXPECT_EQ(f.m, before.m);
    EXPECT_EQ(f.v, before.v);
    EXPECT_EQ(f.vmax, before.vmax);
    EXPECT_EQ(f.model, before.model);
  }
  // A clear flag is an ordinary step.
  const float clear = 0.0f;
  Fixture flagged(37), plain(37);
  ASSERT_TRUE(AdamStep({}, flagged.Shard(&clear), flagged.m.data(), flagged.v.data(), nullptr).ok());
  ASSERT_TRUE(AdamStep({}, plain.Shard(), plain.m.data(), plain.v.data(), nullptr).ok());
  EXPECT_EQ(flagged.p, plain.p);
  EXPECT_NE(flagged.p, Fixture(37).p);
}

TEST(OptimizerTest, NonFiniteGradientsPoisonOnlyTheirElements) {
  for (float bad : {std::nanf(""), INFINITY}) {
    Fixture f(50), clean(50);
    f.g[5] = bad;
    clean.g[5] = 0;
    const AdamParams o{.weight_decay = 0.1, .decoupled_weight_decay = true, .amsgrad = true};
    ASSERT_TRUE(AdamStep(o, f.Shard(), f.m.data(), f.v.data(), f.vmax.data()).ok());
    ASSERT_TRUE(AdamStep(o, clean.Shard(), clean.m.data(), clean.v.data(), clean.vmax.data()).ok());
    EXPECT_TRUE(std::isnan(f.p[5])) << f.p[5];  // inf / inf or NaN
    EXPECT_TRUE(std::isnan(f.vmax[5]) || std::isinf(f.vmax[5]));
    EXPECT_TRUE(std::isnan(Widen(DataType::kBF16, f.model.data(), 5)));
    for (size_t i = 0; i < 50; ++i) {
      if (i == 5) continue;
      ASSERT_EQ(f.p[i], clean.p[i]) << i;
      ASSERT_EQ(f.model[i], clean.model[i]) << i;
    }
  }
  // A NaN already in max_exp_avg_sq stays (torch.maximum propagates NaN).
  Fixture f(8);
  f.vmax[3] = std::nanf("");
  ASSERT_TRUE(AdamStep({.amsgrad = true}, f.Shard(), f.m.data(), f.v.data(), f.vmax.data()).ok());
  EXPECT_TRUE(std::isnan(f.vmax[3]) && std::isnan(f.p[3]));
  EXPECT_FALSE(std::isnan(f.p[2]));
}

void ExpectInvalid(const Status& status, const std::string& needle) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(needle), std::string::npos) << status.ToString();
}

TEST(OptimizerTest, RejectsBadHyperparametersAndWritesNothing) {
  Fixture f(9), before(9);
  float* m = f.m.data();
  ExpectInvalid(SgdStep({.lr = -1}, f.Shard(), nullptr), "learning rate");
  ExpectInvalid(SgdStep({.momentum = 0.9, .dampening = 0.1, .nesterov = true}, f.Shard(), m), "nesterov");
  ExpectInvalid(SgdStep({.nesterov = true}, f.Shard(), m), "nesterov");
  ExpectInvalid(SgdStep({.weight_decay = -0.1}, f.Shard(), nullptr), "weight_decay");
  ExpectInvalid(SgdStep({.step = 0}, f.Shard(), nullptr), "step 0");
  ExpectInvalid(SgdStep({.grad_scale = INFINITY}, f.Shard(), nullptr), "grad_scale");
  ExpectInvalid(SgdStep({.momentum = 0.9}, f.Shard(), nullptr), "momentum_buffer is null");
  ExpectInvalid(AdamStep({.lr = std::nan("")}, f.Shard(), m, f.v.data(), nullptr), "learning rate");
  ExpectInvalid(AdamStep({.beta1 = 1.0}, f.Shard(), m, f.v.data(), nullptr), "beta1");
  ExpectInvalid(AdamStep({.beta2 = -0.5}, f.Shard(), m, f.v.data(), nullptr), "beta2");
  ExpectInvalid(AdamStep({.eps = -1}, f.Shard(), m, f.v.data(), nullptr), "epsilon");
  ExpectInvalid(AdamStep({.step = -3}, f.Shard(), m, f.v.data(), nullptr), "step -3");
  ExpectInvalid(AdamStep({.amsgrad = true}, f.Shard(), m, f.v.data(), nullptr), "max_exp_avg_sq is null");
  ExpectInvalid(AdamStep({}, f.Shard(), m, nullptr, nullptr), "exp_avg_sq is null");
  EXPECT_EQ(f.p, before.p);
  EXPECT_EQ(f.m, before.m);
  EXPECT_EQ(f.model, before.model);
}

TEST(OptimizerTest, RejectsBadBuffers) {
  Fixture f(9);
  OptimizerShard shard = f.Shard();
  shard.grad_dtype = DataType::kF64;
  ExpectInvalid(SgdStep({}, shard, nullptr), "gradient dtype f64");
  shard = f.Shard();
  shard.model_dtype = DataType::kF32;
  ExpectInvalid(SgdStep({}, shard, nullptr), "model copy dtype f32");
  shard = f.Shard();
  shard.grads = nullptr;
  ExpectInvalid(AdamStep({}, shard, f.m.data(), f.v.data(), nullptr), "grads is null");
  shard.count = 0;  // nothing to do: null buffers are fine
  EXPECT_TRUE(AdamStep({}, shard, nullptr, nullptr, nullptr).ok());
  // Element alignment: a bf16 gradient at an odd address.
  std::vector<uint16_t> g16(20);
  shard = f.Shard();
  shard.grads = reinterpret_cast<char*>(g16.data()) + 1;
  shard.grad_dtype = DataType::kBF16;
  ExpectInvalid(SgdStep({}, shard, nullptr), "grads is not aligned");
}

// Aliasing rule: no two buffers of a step may overlap, exactly or partially (an exact alias
// would be element-wise well defined, but no caller needs it, and refusing it catches mistakes).
TEST(OptimizerTest, RefusesOverlappingBuffersAndAcceptsAdjacentOnes) {
  std::vector<float> storage(64, 0.5f);
  float* a = storage.data();
  std::vector<float> g(16, 0.1f);
  OptimizerShard shard{16, a, g.data()};
  ExpectInvalid(AdamStep({}, shard, a, a + 32, nullptr), "exp_avg overlaps params");
  ExpectInvalid(AdamStep({}, shard, a + 15, a + 32, nullptr), "exp_avg overlaps params");
  ExpectInvalid(AdamStep({}, shard, a + 16, a + 31, nullptr), "exp_avg_sq overlaps exp_avg");
  ExpectInvalid(SgdStep({.momentum = 0.9}, shard, g.data() + 3), "momentum_buffer overlaps grads");
  OptimizerShard in_place = shard;
  in_place.grads = a;
  ExpectInvalid(SgdStep({}, in_place, nullptr), "grads overlaps params");
  OptimizerShard model_over_master = shard;
  model_over_master.model_params = a + 4;  // 16 bf16 elements = 8 floats: a[4..12)
  ExpectInvalid(SgdStep({}, model_over_master, nullptr), "model_params overlaps params");
  EXPECT_TRUE(AdamStep({}, shard, a + 16, a + 32, nullptr).ok());  // adjacent, not overlapping
  EXPECT_TRUE(AdamStep({.amsgrad = true, .step = 2}, shard, a + 16, a + 32, a + 48).ok());
}

}  // namespace
}  // namespace cohort::kernels::testing
