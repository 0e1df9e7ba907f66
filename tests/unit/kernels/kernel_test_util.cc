// Random buffers and element comparison for the kernel tests.
#include "tests/unit/kernels/kernel_test_util.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "kernels/cpu/half.h"

namespace cohort::kernels::testing {
namespace {

template <typename T>
T Pick(std::mt19937_64& rng, std::initializer_list<T> values) {
  return values.begin()[rng() % values.size()];
}

// A float drawn from a mix of distributions; narrow types round it afterwards.
template <typename F>
F RandomFloat(std::mt19937_64& rng) {
  using Bits = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
  const unsigned kind = rng() % 10;
  if (kind < 6) return static_cast<F>(std::uniform_real_distribution<double>(-8, 8)(rng));
  if (kind < 7) return static_cast<F>(static_cast<int>(rng() % 7) - 3);  // equal values, zeros
  if (kind < 8) {
    const Bits bits = static_cast<Bits>(rng());
    F value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;  // any pattern: NaN payloads, subnormals, huge values
  }
  using L = std::numeric_limits<F>;
  return Pick<F>(rng, {F(0), -F(0), L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN(),
                       L::denorm_min(), -L::denorm_min() * 3, L::max(), -L::max(), L::min(),
                       F(65504), F(65520), F(1e-7), F(3e38)});
}

template <typename T>
void Put(void* data, size_t i, T value) {
  std::memcpy(static_cast<char*>(data) + i * sizeof(T), &value, sizeof(T));
}

template <typename T>
T Get(const void* data, size_t i) {
  T value;
  std::memcpy(&value, static_cast<const char*>(data) + i * sizeof(T), sizeof(T));
  return value;
}

bool IsNanElement(DataType dtype, const void* data, size_t i) {
  switch (dtype) {
    case DataType::kF32: return std::isnan(Get<float>(data, i));
    case DataType::kF64: return std::isnan(Get<double>(data, i));
    case DataType::kF16: return (Get<uint16_t>(data, i) & 0x7fff) > 0x7c00;
    case DataType::kBF16: return (Get<uint16_t>(data, i) & 0x7fff) > 0x7f80;
    default: return false;
  }
}

std::string Hex(const void* data, size_t i, size_t size) {
  uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const char*>(data) + i * size, size);
  char text[32];
  std::snprintf(text, sizeof(text), "0x%0*llx", static_cast<int>(2 * size),
                static_cast<unsigned long long>(bits));
  return text;
}

}  // namespace

void FillRandom(std::mt19937_64& rng, DataType dtype, void* data, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    switch (dtype) {
      case DataType::kF32: Put(data, i, RandomFloat<float>(rng)); break;
      case DataType::kF64: Put(data, i, RandomFloat<double>(rng)); break;
      case DataType::kF16:
        Put(data, i, rng() % 2 ? static_cast<uint16_t>(rng()) : FloatToHalfBits(RandomFloat<float>(rng)));
        break;
      case DataType::kBF16:
        Put(data, i, rng() % 2 ? static_cast<uint16_t>(rng()) : FloatToBFloat16Bits(RandomFloat<float>(rng)));
        break;
      case DataType::kI8:
      case DataType::kU8: Put(data, i, static_cast<uint8_t>(rng())); break;
      case DataType::kI32: Put(data, i, static_cast<uint32_t>(rng())); break;
      case DataType::kI64: Put(data, i, static_cast<uint64_t>(rng())); break;
    }
  }
}

std::string CompareElements(DataType dtype, ReduceOp op, const void* expected, const void* actual,
                            size_t count) {
  const size_t size = DataTypeSize(dtype);
  const bool payload_free = op == ReduceOp::kSum || op == ReduceOp::kProd || op == ReduceOp::kAvg;
  for (size_t i = 0; i < count; ++i) {
    const char* e = static_cast<const char*>(expected) + i * size;
    const char* a = static_cast<const char*>(actual) + i * size;
    if (std::memcmp(e, a, size) == 0) continue;
    if (payload_free && IsNanElement(dtype, expected, i) && IsNanElement(dtype, actual, i)) continue;
    return "element " + std::to_string(i) + " of " + std::to_string(count) + ": expected " +
           Hex(expected, i, size) + ", got " + Hex(actual, i, size);
  }
  return "";
}

// One instantiation covers the IsaTest cases of every file in this executable.
INSTANTIATE_TEST_SUITE_P(Isa, IsaTest, ::testing::ValuesIn(kIsas),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace cohort::kernels::testing
