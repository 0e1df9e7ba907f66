// The fuzz build's stand-in for the element conversions of kernels/cpu/dispatch.cc, which picks
// an ISA with __builtin_cpu_supports("avx512fp16") that clang 14 does not know. The parameter
// store's message decoders reach kernels/cpu/optimizer.cc (hyperparameter validation), which
// links these; here they always run the portable loops (kernels/cpu/portable.cc).
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/reduce.h"

namespace cohort::kernels {
namespace {

const detail::KernelTable& Portable() {
  static const detail::KernelTable table = detail::PortableKernels();
  return table;
}

}  // namespace

void HalfToFloat(float* dst, const uint16_t* src, size_t count) {
  Portable().half_to_float(dst, src, count);
}
void FloatToHalf(uint16_t* dst, const float* src, size_t count) {
  Portable().float_to_half(dst, src, count);
}
void BFloat16ToFloat(float* dst, const uint16_t* src, size_t count) {
  Portable().bfloat16_to_float(dst, src, count);
}
void FloatToBFloat16(uint16_t* dst, const float* src, size_t count) {
  Portable().float_to_bfloat16(dst, src, count);
}

}  // namespace cohort::kernels
