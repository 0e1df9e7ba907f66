// The values of check_values.h, per dtype and inline: the fill and check loops of
// check_values.cc and expected.cc switch on the dtype once per buffer (WithDataType) and then run
// these, instead of several out-of-line calls per element. The RawElement functions of
// check_values.h are built on the same code, so both give the same bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "benchmarks/cohort_bench/check_values.h"

namespace cohort::bench::detail {

inline uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
// HashElement(seed, rank, index) is SplitMix(RankKey(seed, rank) + index).
inline uint64_t RankKey(uint64_t seed, uint64_t rank) {
  return SplitMix(seed ^ (rank * 0xd1342543de82ef95ull));
}

// Storage of each dtype: `Bits` holds the element; integers compare as `Value`.
template <DataType D> struct Traits;
template <> struct Traits<DataType::kF32> {
  using Bits = uint32_t;
  static constexpr int kMantissa = 23;  // stored bits
};
template <> struct Traits<DataType::kF64> {
  using Bits = uint64_t;
  static constexpr int kMantissa = 52;  // stored bits
};
template <> struct Traits<DataType::kF16> {
  using Bits = uint16_t;
  static constexpr int kMantissa = 10;  // stored bits
};
template <> struct Traits<DataType::kBF16> {
  using Bits = uint16_t;
  static constexpr int kMantissa = 7;  // stored bits
};
template <> struct Traits<DataType::kI8> { using Bits = uint8_t; using Value = int8_t; };
template <> struct Traits<DataType::kU8> { using Bits = uint8_t; using Value = uint8_t; };
template <> struct Traits<DataType::kI32> { using Bits = uint32_t; using Value = int32_t; };
template <> struct Traits<DataType::kI64> { using Bits = uint64_t; using Value = int64_t; };
template <DataType D> using BitsOf = typename Traits<D>::Bits;
template <DataType D>
inline constexpr bool kIsFloat = D == DataType::kF32 || D == DataType::kF64 ||
                                 D == DataType::kF16 || D == DataType::kBF16;

// Calls fn.operator()<dtype>() (fn: a lambda [&]<DataType D>() {...}): the one switch on the
// dtype of a loop over a buffer.
template <class Fn> decltype(auto) WithDataType(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kF32: return fn.template operator()<DataType::kF32>();
    case DataType::kF64: return fn.template operator()<DataType::kF64>();
    case DataType::kF16: return fn.template operator()<DataType::kF16>();
    case DataType::kBF16: return fn.template operator()<DataType::kBF16>();
    case DataType::kI8: return fn.template operator()<DataType::kI8>();
    case DataType::kU8: return fn.template operator()<DataType::kU8>();
    case DataType::kI32: return fn.template operator()<DataType::kI32>();
    case DataType::kI64: break;
  }
  return fn.template operator()<DataType::kI64>();
}

template <DataType D> BitsOf<D> Load(const void* buffer, size_t index) {
  BitsOf<D> bits;
  std::memcpy(&bits, static_cast<const char*>(buffer) + index * sizeof bits, sizeof bits);
  return bits;
}
template <DataType D> void Store(void* buffer, size_t index, BitsOf<D> bits) {
  std::memcpy(static_cast<char*>(buffer) + index * sizeof bits, &bits, sizeof bits);
}

// f16 and bf16 conversions, written out here so that the reference shares no code with the
// kernels. Floats round to nearest even.
inline double HalfToDouble(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double value;
  if (exponent == 0) {
    value = mantissa * 0x1p-24;
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {  // as an f32: exponent rebiased from 15 to 127, mantissa widened from 10 to 23 bits
    const auto u = static_cast<uint32_t>((exponent + 112) << 23 | mantissa << 13);
    float f;
    std::memcpy(&f, &u, 4);
    value = f;
  }
  return (h >> 15) ? -value : value;
}

inline uint16_t DoubleToHalf(double x) {
  if (std::isnan(x)) return 0x7e00;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  if (a >= 65520.0) return sign | 0x7c00;  // rounds to infinity
  if (a < 0x1p-14) {  // subnormal (or zero); 1024 rounds up to the smallest normal
    return sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24));
  }
  // a is a normal double in [2^-14, 65520): keep 10 of its 52 mantissa bits, rounding the 42
  // dropped bits to nearest even. A carry out of the mantissa lands in the exponent, as it should.
  uint64_t u;
  std::memcpy(&u, &a, 8);
  const auto exponent = static_cast<uint32_t>(u >> 52) - 1023 + 15;
  const uint64_t mantissa = u & ((uint64_t{1} << 52) - 1);
  auto half = static_cast<uint32_t>(exponent << 10 | mantissa >> 42);
  const uint64_t dropped = mantissa & ((uint64_t{1} << 42) - 1), tie = uint64_t{1} << 41;
  if (dropped > tie || (dropped == tie && (half & 1))) ++half;
  return sign | static_cast<uint16_t>(half);
}

inline uint16_t FloatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

inline double Bf16ToDouble(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <DataType D> double FloatToDouble(BitsOf<D> bits) {
  if constexpr (D == DataType::kF16) return HalfToDouble(bits);
  if constexpr (D == DataType::kBF16) return Bf16ToDouble(bits);
  if constexpr (D == DataType::kF32) {
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  if constexpr (D == DataType::kF64) {
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
}

template <DataType D> BitsOf<D> DoubleToFloat(double value) {
  if constexpr (D == DataType::kF16) return DoubleToHalf(value);
  if constexpr (D == DataType::kBF16) return FloatToBf16(static_cast<float>(value));
  if constexpr (D == DataType::kF32) {
    const auto f = static_cast<float>(value);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
  }
  if constexpr (D == DataType::kF64) {
    uint64_t u;
    std::memcpy(&u, &value, 8);
    return u;
  }
}

// |got - expected| <= 4 ulp of D, relative to max(|expected|, 1); false for NaN.
template <DataType D> bool WithinTolerance(double got, double expected) {
  constexpr double kUlp = 1.0 / static_cast<double>(uint64_t{1} << Traits<D>::kMantissa);
  return std::fabs(got - expected) <= 4 * kUlp * std::max(std::fabs(expected), 1.0);
}

// Maps a hash to an input value of a ValueSet (see check_values.h), for `nranks` ranks.
class ValueMap {
 public:
  ValueMap(ValueSet set, int nranks)
      : set_(set),
        // Largest magnitude for kSum so that any partial sum over nranks values stays within
        // 256 (the largest range of consecutive integers that bf16 holds exactly).
        bound_(std::clamp(256 / std::max(nranks, 1), 1, 16)),
        // Products of more than 14 factors of 2 would leave f16's range: use +-1 there.
        unit_products_(nranks > 14) {}

  ValueSet set() const { return set_; }

  double Float(uint64_t h) const {
    switch (set_) {
      case ValueSet::kSum: {  // integers in [-bound, bound]; 16 (up to 16 ranks) as a constant
        const uint64_t pick = bound_ == 16 ? h % 33 : h % static_cast<uint64_t>(2 * bound_ + 1);
        return static_cast<double>(static_cast<int>(pick) - bound_);
      }
      case ValueSet::kProd: {
        static constexpr double kSmall[] = {-2, -1, -0.5, 0.5, 1, 2};
        static constexpr double kUnit[] = {-1, 1};
        return unit_products_ ? kUnit[h % 2] : kSmall[h % 6];
      }
      case ValueSet::kAny: {
        // m * 2^e with |m| < 128 and e in [-4, 3]: exact in f16 and bf16 alike.
        static constexpr double kPowerOfTwo[] = {0.0625, 0.125, 0.25, 0.5, 1, 2, 4, 8};
        const int m = static_cast<int>(h % 255) - 127;
        return m * kPowerOfTwo[(h >> 8) % 8];
      }
    }
    return 0;
  }

  // Integers take any bits (sums and products wrap), but products use odd factors so that
  // they do not collapse to zero modulo 2^bits.
  uint64_t Integer(uint64_t h) const { return set_ == ValueSet::kProd ? (h | 1) : h; }

  template <DataType D> BitsOf<D> Bits(uint64_t h) const {
    if constexpr (kIsFloat<D>) {
      return DoubleToFloat<D>(Float(h));
    } else {
      return static_cast<BitsOf<D>>(Integer(h));
    }
  }

 private:
  ValueSet set_;
  int bound_;
  bool unit_products_;
};

// One rank's input (InputElement), element by element.
template <DataType D> class RankInput {
 public:
  RankInput(uint64_t seed, int rank, ValueSet set, int nranks)
      : key_(RankKey(seed, static_cast<uint64_t>(rank))), values_(set, nranks) {}
  BitsOf<D> operator[](size_t index) const { return values_.Bits<D>(SplitMix(key_ + index)); }

 private:
  uint64_t key_;
  ValueMap values_;
};

// The reduction over every rank's input (ExpectedReduction), element by element: in double
// for floating point (exact: the inputs are exact in every float dtype, so they need no round
// trip through bits), then rounded to D; for integers in D's own width, wrapping.
template <DataType D> class ReducedInput {
 public:
  ReducedInput(uint64_t seed, int nranks, ReduceOp op)
      : values_(ValueSetFor(op), nranks), op_(op), nranks_(nranks) {
    for (int r = 0; r < nranks; ++r) keys_.push_back(RankKey(seed, static_cast<uint64_t>(r)));
  }

  BitsOf<D> operator[](size_t index) const {
    if constexpr (kIsFloat<D>) {
      const auto input = [&](size_t r) { return values_.Float(SplitMix(keys_[r] + index)); };
      double acc = 0;
      switch (op_) {
        case ReduceOp::kSum: acc = Fold(input, [](double a, double v) { return a + v; }); break;
        case ReduceOp::kAvg:
          acc = Fold(input, [](double a, double v) { return a + v; }) / nranks_;
          break;
        case ReduceOp::kProd: acc = Fold(input, [](double a, double v) { return a * v; }); break;
        case ReduceOp::kMin:
          acc = Fold(input, [](double a, double v) { return std::min(a, v); });
          break;
        case ReduceOp::kMax:
          acc = Fold(input, [](double a, double v) { return std::max(a, v); });
          break;
      }
      return DoubleToFloat<D>(acc);
    } else {
      using Bits = BitsOf<D>;
      using Value = typename Traits<D>::Value;
      const auto input = [&](size_t r) {
        return static_cast<Bits>(values_.Integer(SplitMix(keys_[r] + index)));
      };
      const auto wrap = [](uint64_t v) { return static_cast<Bits>(v); };  // modulo 2^bits
      switch (op_) {
        case ReduceOp::kSum:
        case ReduceOp::kAvg:
          return Fold(input, [&](Bits a, Bits v) { return wrap(uint64_t{a} + v); });
        case ReduceOp::kProd:
          return Fold(input, [&](Bits a, Bits v) { return wrap(uint64_t{a} * v); });
        case ReduceOp::kMin:  // compared as the dtype's signed or unsigned values
          return Fold(input, [](Bits a, Bits v) { return Bits(std::min(Value(a), Value(v))); });
        case ReduceOp::kMax:
          return Fold(input, [](Bits a, Bits v) { return Bits(std::max(Value(a), Value(v))); });
      }
      return 0;
    }
  }

 private:
  template <class Input, class Op> auto Fold(const Input& input, const Op& op) const {
    auto acc = input(0);
    for (size_t r = 1; r < keys_.size(); ++r) acc = op(acc, input(r));
    return acc;
  }

  ValueMap values_;
  ReduceOp op_;
  int nranks_;
  std::vector<uint64_t> keys_;
};

}  // namespace cohort::bench::detail
