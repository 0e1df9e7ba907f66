// Scalar reference kernels. Every element is read with memcpy (pointers need no alignment) and
// combined with one operation; f16/bf16 widen to f32, combine, and round once.
#include "kernels/cpu/reference.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/half.h"

namespace cohort::kernels::reference {
namespace {

template <typename T>
T Load(const void* base, size_t i) {
  T value;
  std::memcpy(&value, static_cast<const char*>(base) + i * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
void Store(void* base, size_t i, T value) {
  std::memcpy(static_cast<char*>(base) + i * sizeof(T), &value, sizeof(T));
}

// Integers wrap: the arithmetic is done on the unsigned type of the same width.
template <typename T>
T Combine(T a, T b, ReduceOp op) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg: return a + b;
      case ReduceOp::kProd: return a * b;
      case ReduceOp::kMin:
        if (std::isnan(a)) return a;
        if (std::isnan(b)) return b;
        return b < a ? b : a;
      case ReduceOp::kMax:
        if (std::isnan(a)) return a;
        if (std::isnan(b)) return b;
        return b > a ? b : a;
    }
    return a;
  } else {
    using U = std::make_unsigned_t<T>;
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg: return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
      case ReduceOp::kProd: {
        // Promote to at least unsigned int so that u16-sized products cannot overflow a signed int.
        using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
        return static_cast<T>(static_cast<U>(static_cast<W>(static_cast<U>(a)) *
                                             static_cast<W>(static_cast<U>(b))));
      }
      case ReduceOp::kMin: return b < a ? b : a;
      case ReduceOp::kMax: return b > a ? b : a;
    }
    return a;
  }
}

template <typename T>
void ReduceCopyTyped(void* dst, const void* a, const void* b, size_t count, ReduceOp op) {
  for (size_t i = 0; i < count; ++i) Store<T>(dst, i, Combine<T>(Load<T>(a, i), Load<T>(b, i), op));
}

template <float (*Widen)(uint16_t), uint16_t (*Narrow)(float)>
void ReduceCopyHalf(void* dst, const void* a, const void* b, size_t count, ReduceOp op) {
  for (size_t i = 0; i < count; ++i) {
    const float x = Widen(Load<uint16_t>(a, i));
    const float y = Widen(Load<uint16_t>(b, i));
    Store<uint16_t>(dst, i, Narrow(Combine<float>(x, y, op)));
  }
}

template <float (*Widen)(uint16_t), uint16_t (*Narrow)(float)>
void ScaleHalf(void* dst, size_t count, float factor) {
  for (size_t i = 0; i < count; ++i) Store<uint16_t>(dst, i, Narrow(Widen(Load<uint16_t>(dst, i)) * factor));
}

float WidenHalf(uint16_t h) { return HalfBitsToFloat(h); }
uint16_t NarrowHalf(float f) { return FloatToHalfBits(f); }
float WidenBFloat16(uint16_t h) { return BFloat16BitsToFloat(h); }
uint16_t NarrowBFloat16(float f) { return FloatToBFloat16Bits(f); }

}  // namespace

void ReduceCopy(void* dst, const void* a, const void* b, size_t count, DataType dtype, ReduceOp op) {
  switch (dtype) {
    case DataType::kF32: return ReduceCopyTyped<float>(dst, a, b, count, op);
    case DataType::kF64: return ReduceCopyTyped<double>(dst, a, b, count, op);
    case DataType::kF16: return ReduceCopyHalf<WidenHalf, NarrowHalf>(dst, a, b, count, op);
    case DataType::kBF16: return ReduceCopyHalf<WidenBFloat16, NarrowBFloat16>(dst, a, b, count, op);
    case DataType::kI8: return ReduceCopyTyped<int8_t>(dst, a, b, count, op);
    case DataType::kU8: return ReduceCopyTyped<uint8_t>(dst, a, b, count, op);
    case DataType::kI32: return ReduceCopyTyped<int32_t>(dst, a, b, count, op);
    case DataType::kI64: return ReduceCopyTyped<int64_t>(dst, a, b, count, op);
  }
}

void Reduce(void* dst, const void* src, size_t count, DataType dtype, ReduceOp op) {
  ReduceCopy(dst, dst, src, count, dtype, op);
}

namespace {

template <typename T>
void ReduceManyTyped(void* dst, const void* const* srcs, size_t num_srcs, size_t count, ReduceOp op) {
  for (size_t i = 0; i < count; ++i) {
    T acc = Load<T>(srcs[0], i);
    for (size_t j = 1; j < num_srcs; ++j) acc = Combine<T>(acc, Load<T>(srcs[j], i), op);
    Store<T>(dst, i, acc);
  }
}

template <float (*Widen)(uint16_t), uint16_t (*Narrow)(float)>
void ReduceManyHalf(void* dst, const void* const* srcs, size_t num_srcs, size_t count, ReduceOp op) {
  for (size_t i = 0; i < count; ++i) {
    float acc = Widen(Load<uint16_t>(srcs[0], i));
    for (size_t j = 1; j < num_srcs; ++j) acc = Combine<float>(acc, Widen(Load<uint16_t>(srcs[j], i)), op);
    Store<uint16_t>(dst, i, Narrow(acc));
  }
}

}  // namespace

void ReduceMany(void* dst, const void* const* srcs, size_t num_srcs, size_t count, DataType dtype,
                ReduceOp op) {
  if (num_srcs == 0) return;
  if (num_srcs == 1) {  // a copy: bits unchanged, signaling NaNs included
    if (dst != srcs[0]) std::memmove(dst, srcs[0], count * DataTypeSize(dtype));
    return;
  }
  switch (dtype) {
    case DataType::kF32: return ReduceManyTyped<float>(dst, srcs, num_srcs, count, op);
    case DataType::kF64: return ReduceManyTyped<double>(dst, srcs, num_srcs, count, op);
    case DataType::kF16: return ReduceManyHalf<WidenHalf, NarrowHalf>(dst, srcs, num_srcs, count, op);
    case DataType::kBF16:
      return ReduceManyHalf<WidenBFloat16, NarrowBFloat16>(dst, srcs, num_srcs, count, op);
    case DataType::kI8: return ReduceManyTyped<int8_t>(dst, srcs, num_srcs, count, op);
    case DataType::kU8: return ReduceManyTyped<uint8_t>(dst, srcs, num_srcs, count, op);
    case DataType::kI32: return ReduceManyTyped<int32_t>(dst, srcs, num_srcs, count, op);
    case DataType::kI64: return ReduceManyTyped<int64_t>(dst, srcs, num_srcs, count, op);
  }
}

void Scale(void* dst, size_t count, DataType dtype, double factor) {
  switch (dtype) {
    case DataType::kF32:
      for (size_t i = 0; i < count; ++i) Store<float>(dst, i, Load<float>(dst, i) * static_cast<float>(factor));
      return;
    case DataType::kF64:
      for (size_t i = 0; i < count; ++i) Store<double>(dst, i, Load<double>(dst, i) * factor);
      return;
    case DataType::kF16: return ScaleHalf<WidenHalf, NarrowHalf>(dst, count, static_cast<float>(factor));
    case DataType::kBF16:
      return ScaleHalf<WidenBFloat16, NarrowBFloat16>(dst, count, static_cast<float>(factor));
    default: return;  // integer dtypes are left unchanged
  }
}

void HalfToFloat(float* dst, const uint16_t* src, size_t count) {
  for (size_t i = 0; i < count; ++i) Store<float>(dst, i, HalfBitsToFloat(Load<uint16_t>(src, i)));
}

void FloatToHalf(uint16_t* dst, const float* src, size_t count) {
  for (size_t i = 0; i < count; ++i) Store<uint16_t>(dst, i, FloatToHalfBits(Load<float>(src, i)));
}

void BFloat16ToFloat(float* dst, const uint16_t* src, size_t count) {
  for (size_t i = 0; i < count; ++i) Store<float>(dst, i, BFloat16BitsToFloat(Load<uint16_t>(src, i)));
}

void FloatToBFloat16(uint16_t* dst, const float* src, size_t count) {
  for (size_t i = 0; i < count; ++i) Store<uint16_t>(dst, i, FloatToBFloat16Bits(Load<float>(src, i)));
}

}  // namespace cohort::kernels::reference
