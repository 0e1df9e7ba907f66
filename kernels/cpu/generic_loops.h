// Element-wise loops written for the auto-vectoriser, shared by every ISA's .cc file.
//
// Each including .cc compiles its own copy (everything here has internal linkage) with its own
// target flags, so the same loops become SSE2, AVX2 or AVX-512 code and no copy built for a wide
// ISA can be picked by the linker for a narrower one. Elements are read with memcpy, so pointers
// need no alignment. The three alias cases (distinct, dst == a, dst == b) get separate __restrict
// loops so the compiler vectorises without run-time overlap checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/half.h"
#include "kernels/cpu/kernel_table.h"

namespace cohort::kernels::detail {
namespace {

template <typename T>
inline T LoadAt(const char* base, size_t i) {
  T value;
  std::memcpy(&value, base + i * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
inline void StoreAt(char* base, size_t i, T value) {
  std::memcpy(base + i * sizeof(T), &value, sizeof(T));
}

// Integer arithmetic is done in the unsigned type (wraps, no UB); prod promotes narrow types to
// unsigned int first because u8 * u8 would otherwise promote to signed int.
template <typename T>
using WideUnsigned = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
struct SumOp {
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return a + b;
    } else {
      return static_cast<T>(static_cast<WideUnsigned<T>>(a) + static_cast<WideUnsigned<T>>(b));
    }
  }
};

template <typename T>
struct ProdOp {
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return a * b;
    } else {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<WideUnsigned<T>>(static_cast<U>(a)) *
                            static_cast<WideUnsigned<T>>(static_cast<U>(b)));
    }
  }
};

// Float min/max: a NaN in a wins, then a NaN in b, else the smaller (larger); ties keep a.
// Written as one select so that it vectorises to compare + blend.
template <typename T>
struct MinOp {
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      const bool take_b = (a == a) & !(a <= b);
      return take_b ? b : a;
    } else {
      return b < a ? b : a;
    }
  }
};

template <typename T>
struct MaxOp {
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      const bool take_b = (a == a) & !(a >= b);
      return take_b ? b : a;
    } else {
      return b > a ? b : a;
    }
  }
};

// Widen/narrow policies: T is the element type in memory, Compute the type the op runs in.
template <typename T>
struct Plain {
  using Stored = T;
  using Compute = T;
  static Compute Widen(Stored x) { return x; }
  static Stored Narrow(Compute x) { return x; }
};
struct Half {
  using Stored = uint16_t;
  using Compute = float;
  static float Widen(uint16_t x) { return HalfBitsToFloat(x); }
  static uint16_t Narrow(float x) { return FloatToHalfBits(x); }
};
struct BFloat16 {
  using Stored = uint16_t;
  using Compute = float;
  // No NaN quieting needed here: every result goes through Narrow, which quiets.
  static float Widen(uint16_t x) { return FloatFromBits(static_cast<uint32_t>(x) << 16); }
  static uint16_t Narrow(float x) { return FloatToBFloat16Bits(x); }
};

template <typename P, template <typename> class Op>
void LoopDistinct(char* __restrict dst, const char* __restrict a, const char* __restrict b, size_t count) {
  using S = typename P::Stored;
  using C = typename P::Compute;
  for (size_t i = 0; i < count; ++i) {
    StoreAt<S>(dst, i, P::Narrow(Op<C>::Apply(P::Widen(LoadAt<S>(a, i)), P::Widen(LoadAt<S>(b, i)))));
  }
}

// dst is also one operand: the left one when kDstIsLeft, else the right one.
template <typename P, template <typename> class Op, bool kDstIsLeft>
void LoopInPlace(char* __restrict dst, const char* __restrict other, size_t count) {
  using S = typename P::Stored;
  using C = typename P::Compute;
  for (size_t i = 0; i < count; ++i) {
    const C d = P::Widen(LoadAt<S>(dst, i));
    const C o = P::Widen(LoadAt<S>(other, i));
    StoreAt<S>(dst, i, P::Narrow(kDstIsLeft ? Op<C>::Apply(d, o) : Op<C>::Apply(o, d)));
  }
}

template <typename P, template <typename> class Op>
void LoopAnyAlias(void* dst, const void* a, const void* b, size_t count) {
  char* d = static_cast<char*>(dst);
  if (dst == a) return LoopInPlace<P, Op, true>(d, static_cast<const char*>(b), count);
  if (dst == b) return LoopInPlace<P, Op, false>(d, static_cast<const char*>(a), count);
  LoopDistinct<P, Op>(d, static_cast<const char*>(a), static_cast<const char*>(b), count);
}

template <typename P>
void GenericReduceCopy(void* dst, const void* a, const void* b, size_t count, ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return LoopAnyAlias<P, SumOp>(dst, a, b, count);
    case ReduceOp::kProd: return LoopAnyAlias<P, ProdOp>(dst, a, b, count);
    case ReduceOp::kMin: return LoopAnyAlias<P, MinOp>(dst, a, b, count);
    case ReduceOp::kMax: return LoopAnyAlias<P, MaxOp>(dst, a, b, count);
  }
}

// f32, f16 and bf16 scale in f32 by factor rounded to f32 once; f64 scales in f64.
template <typename P>
void GenericScale(void* dst, size_t count, double factor) {
  using S = typename P::Stored;
  using C = typename P::Compute;
  char* d = static_cast<char*>(dst);
  const C f = static_cast<C>(factor);
  for (size_t i = 0; i < count; ++i) StoreAt<S>(d, i, P::Narrow(P::Widen(LoadAt<S>(d, i)) * f));
}

void GenericHalfToFloat(float* dst, const uint16_t* src, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    StoreAt<float>(reinterpret_cast<char*>(dst), i, HalfBitsToFloat(LoadAt<uint16_t>(reinterpret_cast<const char*>(src), i)));
  }
}
void GenericFloatToHalf(uint16_t* dst, const float* src, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    StoreAt<uint16_t>(reinterpret_cast<char*>(dst), i, FloatToHalfBits(LoadAt<float>(reinterpret_cast<const char*>(src), i)));
  }
}
void GenericBFloat16ToFloat(float* dst, const uint16_t* src, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    StoreAt<float>(reinterpret_cast<char*>(dst), i, BFloat16BitsToFloat(LoadAt<uint16_t>(reinterpret_cast<const char*>(src), i)));
  }
}
void GenericFloatToBFloat16(uint16_t* dst, const float* src, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    StoreAt<uint16_t>(reinterpret_cast<char*>(dst), i, FloatToBFloat16Bits(LoadAt<float>(reinterpret_cast<const char*>(src), i)));
  }
}

// Every entry from the loops above; an ISA's file then replaces the ones it writes by hand.
KernelTable GenericKernels(std::string_view isa) {
  KernelTable table;
  table.isa = isa;
  auto set = [&table](DataType dtype, ReduceCopyFn fn) { table.reduce_copy[static_cast<size_t>(dtype)] = fn; };
  set(DataType::kF32, GenericReduceCopy<Plain<float>>);
  set(DataType::kF64, GenericReduceCopy<Plain<double>>);
  set(DataType::kF16, GenericReduceCopy<Half>);
  set(DataType::kBF16, GenericReduceCopy<BFloat16>);
  set(DataType::kI8, GenericReduceCopy<Plain<int8_t>>);
  set(DataType::kU8, GenericReduceCopy<Plain<uint8_t>>);
  set(DataType::kI32, GenericReduceCopy<Plain<int32_t>>);
  set(DataType::kI64, GenericReduceCopy<Plain<int64_t>>);
  table.scale[static_cast<size_t>(DataType::kF32)] = GenericScale<Plain<float>>;
  table.scale[static_cast<size_t>(DataType::kF64)] = GenericScale<Plain<double>>;
  table.scale[static_cast<size_t>(DataType::kF16)] = GenericScale<Half>;
  table.scale[static_cast<size_t>(DataType::kBF16)] = GenericScale<BFloat16>;
  table.half_to_float = GenericHalfToFloat;
  table.float_to_half = GenericFloatToHalf;
  table.bfloat16_to_float = GenericBFloat16ToFloat;
  table.float_to_bfloat16 = GenericFloatToBFloat16;
  return table;
}

}  // namespace
}  // namespace cohort::kernels::detail
