// Test values and reference reductions (see check_values.h).
#include "benchmarks/cohort_bench/check_values.h"

#include <cstdio>
#include <cstring>

#include "benchmarks/cohort_bench/typed_values.h"

namespace cohort::bench {
namespace {

int IntegerBits(DataType dtype) { return static_cast<int>(DataTypeSize(dtype)) * 8; }
bool IsSigned(DataType dtype) { return dtype != DataType::kU8; }

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
  return detail::SplitMix(detail::RankKey(seed, rank) + index);
}

uint64_t MixSeed(uint64_t seed, uint64_t value) {
  return detail::SplitMix(seed ^ detail::SplitMix(value));
}

RawElement InputElement(uint64_t seed, int rank, size_t index, DataType dtype, ValueSet set,
                        int nranks) {
  return detail::WithDataType(dtype, [&]<DataType D>() -> RawElement {
    return detail::RankInput<D>(seed, rank, set, nranks)[index];
  });
}

void FillInput(void* dst, size_t count, DataType dtype, ValueSet set, uint64_t seed, int rank,
               size_t first_index, int nranks) {
  detail::WithDataType(dtype, [&]<DataType D>() {
    const detail::RankInput<D> input(seed, rank, set, nranks);
    for (size_t i = 0; i < count; ++i) detail::Store<D>(dst, i, input[first_index + i]);
  });
}

void FillSentinel(void* dst, size_t count, DataType dtype) {
  std::memset(dst, 0xa5, count * DataTypeSize(dtype));
}

RawElement LoadElement(const void* buffer, size_t index, DataType dtype) {
  return detail::WithDataType(
      dtype, [&]<DataType D>() -> RawElement { return detail::Load<D>(buffer, index); });
}

void StoreElement(void* buffer, size_t index, DataType dtype, RawElement value) {
  detail::WithDataType(dtype, [&]<DataType D>() {
    detail::Store<D>(buffer, index, static_cast<detail::BitsOf<D>>(value));
  });
}

double ToDouble(RawElement raw, DataType dtype) {
  return detail::WithDataType(dtype, [&]<DataType D>() -> double {
    if constexpr (detail::kIsFloat<D>) {
      return detail::FloatToDouble<D>(static_cast<detail::BitsOf<D>>(raw));
    } else {
      return static_cast<double>(ToInt64(raw, dtype));
    }
  });
}

RawElement FromDouble(double value, DataType dtype) {
  return detail::WithDataType(dtype, [&]<DataType D>() -> RawElement {
    if constexpr (detail::kIsFloat<D>) {
      return detail::DoubleToFloat<D>(value);
    } else {
      return FromInt64(static_cast<int64_t>(value), dtype);
    }
  });
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
  return detail::WithDataType(dtype, [&]<DataType D>() -> RawElement {
    return detail::ReducedInput<D>(seed, nranks, op)[index];
  });
}

bool WithinTolerance(double got, double expected, DataType dtype) {
  return detail::WithDataType(dtype, [&]<DataType D>() {
    if constexpr (detail::kIsFloat<D>) {
      return detail::WithinTolerance<D>(got, expected);
    } else {
      return detail::WithinTolerance<DataType::kF64>(got, expected);
    }
  });
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
