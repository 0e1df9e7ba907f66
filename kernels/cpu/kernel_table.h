// The table of kernel entry points one ISA provides; dispatch.cc picks one table and routes
// reduce.h's functions through it. Internal to kernels/cpu.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/base/dtype.h"

namespace cohort::kernels::detail {

inline constexpr size_t kNumDataTypes = 8;

// dst may equal a or b exactly; no pointer needs alignment.
using ReduceCopyFn = void (*)(void* dst, const void* a, const void* b, size_t count, ReduceOp op);
// dst[i] = srcs[0][i] op ... op srcs[num_srcs-1][i]; num_srcs >= 2; dst may equal any source.
using ReduceManyFn = void (*)(void* dst, const void* const* srcs, size_t num_srcs, size_t count, ReduceOp op);
using ScaleFn = void (*)(void* dst, size_t count, double factor);
using WidenFn = void (*)(float* dst, const uint16_t* src, size_t count);
using NarrowFn = void (*)(uint16_t* dst, const float* src, size_t count);

struct KernelTable {
  std::string_view isa;
  ReduceCopyFn reduce_copy[kNumDataTypes] = {};  // indexed by DataType
  // A fused kernel where the ISA has one; nullptr: ReduceMany folds blocks through reduce_copy.
  ReduceManyFn reduce_many[kNumDataTypes] = {};
  ScaleFn scale[kNumDataTypes] = {};             // nullptr for integer dtypes: Scale is a no-op
  WidenFn half_to_float = nullptr;
  NarrowFn float_to_half = nullptr;
  WidenFn bfloat16_to_float = nullptr;
  NarrowFn float_to_bfloat16 = nullptr;
};

// Optional AVX-512 extensions, probed at run time by the dispatcher.
struct Avx512Extensions {
  bool bf16 = false;  // AVX512_BF16 and AVX512DQ: vcvtne2ps2bf16, vfpclassps
  bool fp16 = false;  // AVX512_FP16: native f16 arithmetic
};

// The table reduce.h's functions route through (dispatch.cc), for kernels built from its entries.
const KernelTable& ActiveTable();

KernelTable PortableKernels();
KernelTable Avx2Kernels();
KernelTable Avx512Kernels(const Avx512Extensions& extensions);
// f16 ReduceCopy in native f16 arithmetic (avx512_fp16.cc); only call it when extensions.fp16.
void Avx512Fp16ReduceCopyHalf(void* dst, const void* a, const void* b, size_t count, ReduceOp op);
// bf16 kernels rounding with AVX512_BF16 (avx512_bf16.cc); only call them when extensions.bf16.
void Avx512Bf16ReduceCopy(void* dst, const void* a, const void* b, size_t count, ReduceOp op);
void Avx512Bf16ReduceMany(void* dst, const void* const* srcs, size_t num_srcs, size_t count, ReduceOp op);
void Avx512Bf16Scale(void* dst, size_t count, double factor);
void Avx512Bf16FloatToBFloat16(uint16_t* dst, const float* src, size_t count);

}  // namespace cohort::kernels::detail
