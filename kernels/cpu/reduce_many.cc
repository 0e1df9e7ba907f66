// ReduceMany (reduce.h): the ISA's fused kernel where it has one (AVX-512: f32, f16, bf16);
// otherwise folds k sources into one destination block by block, through the active
// ISA's pairwise kernels, so that a block of dst stays in L1 while every source is combined into
// it. The direct shared-memory collectives reduce a slice from every local rank with one call.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/reduce.h"

namespace cohort::kernels {
namespace {

// Elements per block: 8 KiB of f32 accumulator plus as much again for a widened source, so both
// sit in L1 next to the source lines being read.
constexpr size_t kBlockElements = 2048;

bool Overlaps(const void* a, const void* b, size_t bytes) {
  const auto* x = static_cast<const char*>(a);
  const auto* y = static_cast<const char*>(b);
  return x < y + bytes && y < x + bytes;
}

// f16/bf16: widen every source into f32, combine in f32, round once when the block is stored.
void ReduceManyHalf(const detail::KernelTable& table, bool bfloat16, uint16_t* dst,
                    const void* const* srcs, size_t num_srcs, size_t count, ReduceOp op) {
  const detail::WidenFn widen = bfloat16 ? table.bfloat16_to_float : table.half_to_float;
  const detail::NarrowFn narrow = bfloat16 ? table.float_to_bfloat16 : table.float_to_half;
  const detail::ReduceCopyFn combine = table.reduce_copy[static_cast<size_t>(DataType::kF32)];
  alignas(64) float acc[kBlockElements];
  alignas(64) float other[kBlockElements];
  for (size_t at = 0; at < count; at += kBlockElements) {
    const size_t n = std::min(kBlockElements, count - at);
    widen(acc, static_cast<const uint16_t*>(srcs[0]) + at, n);
    for (size_t j = 1; j < num_srcs; ++j) {
      widen(other, static_cast<const uint16_t*>(srcs[j]) + at, n);
      combine(acc, acc, other, n, op);
    }
    narrow(dst + at, acc, n);
  }
}

}  // namespace

void ReduceMany(void* dst, const void* const* srcs, size_t num_srcs, size_t count, DataType dtype,
                ReduceOp op) {
  if (num_srcs == 0 || count == 0) return;
  const size_t elem = DataTypeSize(dtype);
  if (num_srcs == 1) {
    if (dst != srcs[0]) std::memmove(dst, srcs[0], count * elem);
    return;
  }
  const detail::KernelTable& table = detail::ActiveTable();
  if (const detail::ReduceManyFn fused = table.reduce_many[static_cast<size_t>(dtype)]) {
    return fused(dst, srcs, num_srcs, count, op);
  }
  if (dtype == DataType::kF16 || dtype == DataType::kBF16) {
    return ReduceManyHalf(table, dtype == DataType::kBF16, static_cast<uint16_t*>(dst), srcs,
                          num_srcs, count, op);
  }
  const detail::ReduceCopyFn combine = table.reduce_copy[static_cast<size_t>(dtype)];
  // dst may be any source. Folding straight into dst would overwrite a later source before it
  // is read, so then each block is folded in a scratch block and copied out.
  bool dst_is_later_source = false;
  for (size_t j = 1; j < num_srcs; ++j) {
    dst_is_later_source = dst_is_later_source || Overlaps(dst, srcs[j], count * elem);
  }
  alignas(64) char scratch[kBlockElements * sizeof(float)];
  const size_t block = sizeof(scratch) / elem;
  for (size_t at = 0; at < count; at += block) {
    const size_t n = std::min(block, count - at);
    char* out = dst_is_later_source ? scratch : static_cast<char*>(dst) + at * elem;
    combine(out, static_cast<const char*>(srcs[0]) + at * elem,
            static_cast<const char*>(srcs[1]) + at * elem, n, op);
    for (size_t j = 2; j < num_srcs; ++j) {
      combine(out, out, static_cast<const char*>(srcs[j]) + at * elem, n, op);
    }
    if (dst_is_later_source) std::memcpy(static_cast<char*>(dst) + at * elem, scratch, n * elem);
  }
}

}  // namespace cohort::kernels
