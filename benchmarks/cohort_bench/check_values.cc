// Test values and reference reductions (see check_values.h).
#include "benchmarks/cohort_bench/check_values.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace cohort::bench {
namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int IntegerBits(DataType dtype) { return static_cast<int>(DataTypeSize(dtype)) * 8; }
bool IsSigned(DataType dtype) { return dtype != DataType::kU8; }

// f16 <-> double, written out here so that the reference does not share code with the kernels.
double HalfToDouble(uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {
    value = std::ldexp(1024 + mantissa, exponent - 25);
  }
  return sign ? -value : value;
}

uint16_t DoubleToHalf(double x) {
  if (std::isnan(x)) return 0x7e00;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  if (a >= 65520.0) return sign | 0x7c00;  // rounds to infinity
  if (a < std::ldexp(1.0, -14)) {           // subnormal (or zero); 1024 rounds up to min normal
    return sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24)));
  }
  int e;
  std::frexp(a, &e);  // a = f * 2^e, f in [0.5, 1)
  int exponent = e - 1;
  auto mantissa = static_cast<int>(std::nearbyint((std::ldexp(a, -exponent) - 1.0) * 1024));
  if (mantissa == 1024) {
    mantissa = 0;
    ++exponent;
  }
  if (exponent > 15) return sign | 0x7c00;
  return sign | static_cast<uint16_t>(((exponent + 15) << 10) | mantissa);
}

uint16_t FloatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

double Bf16ToDouble(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Largest magnitude for kSum so that any partial sum over `nranks` values stays within 256 (the
// largest range of consecutive integers that bf16 holds exactly).
int SumBound(int nranks) { return std::clamp(256 / std::max(nranks, 1), 1, 16); }

double FloatInput(uint64_t h, ValueSet set, int nranks) {
  switch (set) {
    case ValueSet::kSum: {
      const int bound = SumBound(nranks);
      return static_cast<double>(static_cast<int>(h % (2 * bound + 1)) - bound);
    }
    case ValueSet::kProd: {
      // Products of more than 14 factors of 2 would leave f16's range: use +-1 there.
      static constexpr double kSmall[] = {-2, -1, -0.5, 0.5, 1, 2};
      static constexpr double kUnit[] = {-1, 1};
      return nranks <= 14 ? kSmall[h % 6] : kUnit[h % 2];
    }
    case ValueSet::kAny: {
      // m * 2^e with |m| < 128 and e in [-4, 3]: exact in f16 and bf16 alike.
      const int m = static_cast<int>(h % 255) - 127;
      const int e = static_cast<int>((h >> 8) % 8) - 4;
      return std::ldexp(m, e);
    }
  }
  return 0;
}

}  // namespace

ValueSet ValueSetFor(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return ValueSet::kSum;
    case ReduceOp::kProd: return ValueSet::kProd;
    case ReduceOp::kMin:
    case ReduceOp::kMax: return ValueSet::kAny;
  }
  return ValueSet::kAny;
}

uint64_t HashElement(uint64_t seed, uint64_t rank, uint64_t index) {
  return SplitMix(SplitMix(seed ^ (rank * 0xd1342543de82ef95ull)) + index);
}

uint64_t MixSeed(uint64_t seed, uint64_t value) { return SplitMix(seed ^ SplitMix(value)); }

RawElement InputElement(uint64_t seed, int rank, size_t index, DataType dtype, ValueSet set,
                        int nranks) {
  const uint64_t h = HashElement(seed, static_cast<uint64_t>(rank), index);
  if (IsFloatingPoint(dtype)) return FromDouble(FloatInput(h, set, nranks), dtype);
  // Integers take any bits (sums and products wrap), but products use odd factors so that
  // they do not collapse to zero modulo 2^bits.
  return FromInt64(static_cast<int64_t>(set == ValueSet::kProd ? (h | 1) : h), dtype);
}

void FillInput(void* dst, size_t count, DataType dtype, ValueSet set, uint64_t seed, int rank,
               size_t first_index, int nranks) {
  for (size_t i = 0; i < count; ++i) {
    StoreElement(dst, i, dtype, InputElement(seed, rank, first_index + i, dtype, set, nranks));
  }
}

void FillSentinel(void* dst, size_t count, DataType dtype) {
  std::memset(dst, 0xa5, count * DataTypeSize(dtype));
}

RawElement LoadElement(const void* buffer, size_t index, DataType dtype) {
  const size_t bytes = DataTypeSize(dtype);
  RawElement raw = 0;
  std::memcpy(&raw, static_cast<const char*>(buffer) + index * bytes, bytes);  // little endian
  return raw;
}

void StoreElement(void* buffer, size_t index, DataType dtype, RawElement value) {
  const size_t bytes = DataTypeSize(dtype);
  std::memcpy(static_cast<char*>(buffer) + index * bytes, &value, bytes);
}

double ToDouble(RawElement raw, DataType dtype) {
  switch (dtype) {
    case DataType::kF32: {
      float f;
      const auto u = static_cast<uint32_t>(raw);
      std::memcpy(&f, &u, 4);
      return f;
    }
    case DataType::kF64: {
      double d;
      std::memcpy(&d, &raw, 8);
      return d;
    }
    case DataType::kF16: return HalfToDouble(static_cast<uint16_t>(raw));
    case DataType::kBF16: return Bf16ToDouble(static_cast<uint16_t>(raw));
    default: return static_cast<double>(ToInt64(raw, dtype));
  }
}

RawElement FromDouble(double value, DataType dtype) {
  switch (dtype) {
    case DataType::kF32: {
      const auto f = static_cast<float>(value);
      uint32_t u;
      std::memcpy(&u, &f, 4);
      return u;
    }
    case DataType::kF64: {
      RawElement raw;
      std::memcpy(&raw, &value, 8);
      return raw;
    }
    case DataType::kF16: return DoubleToHalf(value);
    case DataType::kBF16: return FloatToBf16(static_cast<float>(value));
    default: return FromInt64(static_cast<int64_t>(value), dtype);
  }
}

int64_t ToInt64(RawElement raw, DataType dtype) {
  const int bits = IntegerBits(dtype);
  if (bits == 64) return static_cast<int64_t>(raw);
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  raw &= mask;
  if (IsSigned(dtype) && (raw >> (bits - 1)) != 0) raw |= ~mask;  // sign-extend
  return static_cast<int64_t>(raw);
}

RawElement FromInt64(int64_t value, DataType dtype) {
  const int bits = IntegerBits(dtype);
  const auto raw = static_cast<uint64_t>(value);
  return bits == 64 ? raw : raw & ((uint64_t{1} << bits) - 1);
}

RawElement ExpectedReduction(uint64_t seed, int nranks, size_t index, DataType dtype,
                             ReduceOp op) {
  const ValueSet set = ValueSetFor(op);
  if (IsFloatingPoint(dtype)) {
    // Inputs are exact in every float dtype, so their values need no round trip through bits.
    auto input = [&](int r) { return FloatInput(HashElement(seed, r, index), set, nranks); };
    double acc = input(0);
    for (int r = 1; r < nranks; ++r) {
      const double v = input(r);
      switch (op) {
        case ReduceOp::kSum:
        case ReduceOp::kAvg: acc += v; break;
        case ReduceOp::kProd: acc *= v; break;
        case ReduceOp::kMin: acc = std::min(acc, v); break;
        case ReduceOp::kMax: acc = std::max(acc, v); break;
      }
    }
    if (op == ReduceOp::kAvg) acc /= nranks;
    return FromDouble(acc, dtype);
  }
  // Unsigned arithmetic wraps exactly as two's complement integers of the dtype's width would.
  uint64_t acc = static_cast<uint64_t>(ToInt64(InputElement(seed, 0, index, dtype, set, nranks), dtype));
  for (int r = 1; r < nranks; ++r) {
    const int64_t v = ToInt64(InputElement(seed, r, index, dtype, set, nranks), dtype);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg: acc += static_cast<uint64_t>(v); break;
      case ReduceOp::kProd: acc *= static_cast<uint64_t>(v); break;
      case ReduceOp::kMin: acc = static_cast<uint64_t>(std::min(static_cast<int64_t>(acc), v)); break;
      case ReduceOp::kMax: acc = static_cast<uint64_t>(std::max(static_cast<int64_t>(acc), v)); break;
    }
    acc = static_cast<uint64_t>(ToInt64(FromInt64(static_cast<int64_t>(acc), dtype), dtype));
  }
  return FromInt64(static_cast<int64_t>(acc), dtype);
}

bool WithinTolerance(double got, double expected, DataType dtype) {
  int mantissa_bits = 52;
  switch (dtype) {
    case DataType::kF32: mantissa_bits = 23; break;
    case DataType::kF16: mantissa_bits = 10; break;
    case DataType::kBF16: mantissa_bits = 7; break;
    default: break;
  }
  const double allowed = 4 * std::ldexp(1.0, -mantissa_bits) * std::max(std::fabs(expected), 1.0);
  return std::fabs(got - expected) <= allowed;  // false for NaN
}

bool ElementMatches(RawElement got, RawElement expected, DataType dtype, ReduceOp op) {
  if (op == ReduceOp::kAvg && IsFloatingPoint(dtype)) {
    return WithinTolerance(ToDouble(got, dtype), ToDouble(expected, dtype), dtype);
  }
  return got == expected;
}

std::string ElementToString(RawElement raw, DataType dtype) {
  char text[64];
  if (IsFloatingPoint(dtype)) {
    std::snprintf(text, sizeof text, "%.9g (0x%llx)", ToDouble(raw, dtype),
                  static_cast<unsigned long long>(raw));
  } else {
    std::snprintf(text, sizeof text, "%lld", static_cast<long long>(ToInt64(raw, dtype)));
  }
  return text;
}

}  // namespace cohort::bench
