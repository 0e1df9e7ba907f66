// Test values and dtype access; see test_values.h.
#include "test_values.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace cohort::testing {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Largest magnitude such that 8 ranks' sums (and every partial sum) stay exact in dtype.
int64_t Magnitude(DataType dtype) {
  switch (dtype) {
    case DataType::kBF16: return 31;   // 8 * 31 <= 256 = 2^(7+1)
    case DataType::kF16: return 255;   // 8 * 255 <= 2048 = 2^(10+1)
    case DataType::kI8: return 100;    // wraps; wrapping is exact
    case DataType::kU8: return 200;
    default: return int64_t{1} << 20;
  }
}

uint16_t FloatToHalfExact(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  if (f == 0.0f) return static_cast<uint16_t>(sign);
  int exponent = static_cast<int>((bits >> 23) & 0xff) - 127;
  uint32_t mantissa = bits & 0x7fffffu;
  if (exponent >= -14) {  // normal half (test values are never too large)
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(exponent + 15) << 10 |
                                 (mantissa >> 13));
  }
  // Subnormal half: value = m * 2^-24.
  const uint32_t m = static_cast<uint32_t>(std::ldexp(std::fabs(f), 24));
  return static_cast<uint16_t>(sign | m);
}

float HalfToFloat(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {
    value = std::ldexp(1024 + mantissa, exponent - 25);
  }
  return static_cast<float>((h & 0x8000) ? -value : value);
}

template <typename T>
void Put(void* base, size_t index, T v) {
  std::memcpy(static_cast<char*>(base) + index * sizeof(T), &v, sizeof(T));
}
template <typename T>
T Get(const void* base, size_t index) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + index * sizeof(T), sizeof(T));
  return v;
}

// Uniform in [0, range) without a division: the high 32 bits scaled by range.
uint64_t Below(uint64_t h, uint64_t range) { return ((h >> 32) * range) >> 32; }

}  // namespace

double InputValue(int rank, size_t index, DataType dtype, ReduceOp op) {
  const uint64_t h = Mix((static_cast<uint64_t>(rank) << 40) ^ index);
  if (op == ReduceOp::kProd) {
    if (IsFloatingPoint(dtype)) {
      static constexpr double kFactors[] = {-2, -1, -0.5, 0.5, 1, 2};
      return kFactors[Below(h, 6)];
    }
    if (dtype == DataType::kU8) return static_cast<double>(1 + (h >> 63));
    static constexpr double kIntFactors[] = {-2, -1, 1, 2};
    return kIntFactors[h >> 62];
  }
  const int64_t m = Magnitude(dtype);
  if (dtype == DataType::kU8) return static_cast<double>(Below(h, static_cast<uint64_t>(m + 1)));
  return static_cast<double>(static_cast<int64_t>(Below(h, static_cast<uint64_t>(2 * m + 1))) - m);
}

void StoreValue(DataType dtype, void* base, size_t index, double value) {
  const int64_t i = static_cast<int64_t>(value);
  switch (dtype) {
    case DataType::kF32: Put<float>(base, index, static_cast<float>(value)); break;
    case DataType::kF64: Put<double>(base, index, value); break;
    case DataType::kF16:
      Put<uint16_t>(base, index, FloatToHalfExact(static_cast<float>(value)));
      break;
    case DataType::kBF16: {
      const float f = static_cast<float>(value);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      Put<uint16_t>(base, index, static_cast<uint16_t>(bits >> 16));  // exact values only
      break;
    }
    case DataType::kI8: Put<int8_t>(base, index, static_cast<int8_t>(i)); break;
    case DataType::kU8: Put<uint8_t>(base, index, static_cast<uint8_t>(i)); break;
    case DataType::kI32: Put<int32_t>(base, index, static_cast<int32_t>(i)); break;
    case DataType::kI64: Put<int64_t>(base, index, i); break;
  }
}

double LoadValue(DataType dtype, const void* base, size_t index) {
  switch (dtype) {
    case DataType::kF32: return Get<float>(base, index);
    case DataType::kF64: return Get<double>(base, index);
    case DataType::kF16: return HalfToFloat(Get<uint16_t>(base, index));
    case DataType::kBF16: {
      const uint32_t bits = static_cast<uint32_t>(Get<uint16_t>(base, index)) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case DataType::kI8: return Get<int8_t>(base, index);
    case DataType::kU8: return Get<uint8_t>(base, index);
    case DataType::kI32: return Get<int32_t>(base, index);
    case DataType::kI64: return static_cast<double>(Get<int64_t>(base, index));
  }
  return NAN;
}

double Representable(DataType dtype, double value) {
  unsigned char cell[8];
  StoreValue(dtype, cell, 0, value);
  return LoadValue(dtype, cell, 0);
}

double Combine(ReduceOp op, double a, double b) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return a + b;
    case ReduceOp::kProd: return a * b;
    case ReduceOp::kMin: return std::min(a, b);
    case ReduceOp::kMax: return std::max(a, b);
  }
  return NAN;
}

bool Matches(DataType dtype, ReduceOp op, double actual, double expected) {
  if (op != ReduceOp::kAvg) return actual == Representable(dtype, expected);
  // Relative half-ulp rounding of the result, plus slack: one generic rule for every dtype.
  double epsilon = 0;
  switch (dtype) {
    case DataType::kF32: epsilon = 0x1p-22; break;
    case DataType::kF64: epsilon = 0x1p-50; break;
    case DataType::kF16: epsilon = 0x1p-9; break;
    case DataType::kBF16: epsilon = 0x1p-6; break;
    default: epsilon = 0; break;
  }
  return std::fabs(actual - expected) <= epsilon * std::max(1.0, std::fabs(expected));
}

}  // namespace cohort::testing
