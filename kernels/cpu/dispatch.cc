// reduce.h's entry points: pick the widest ISA the CPU supports once, route every call through
// that ISA's KernelTable. ForceIsa swaps the table (tests run every ISA against the reference).
#include <cpuid.h>

#include <atomic>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/reduce.h"

namespace cohort::kernels {
namespace {

using detail::KernelTable;

// CPUID bits for the features whose __builtin_cpu_supports names Clang 14 does not know
// ("f16c", "avx512fp16"). Callers check them only together with a feature the builtin does
// know and that needs the same OS support (AVX, AVX-512 state), so no XGETBV check is needed.
bool CpuidBit(unsigned leaf, unsigned subleaf, int reg, int bit) {
  unsigned r[4] = {};
  if (__get_cpuid_count(leaf, subleaf, &r[0], &r[1], &r[2], &r[3]) == 0) return false;
  return (r[reg] >> bit) & 1u;
}
constexpr int kEax = 0, kEcx = 2, kEdx = 3;
bool CpuHasF16c() { return CpuidBit(1, 0, kEcx, 29); }
bool CpuHasAvx512Fp16() { return CpuidBit(7, 0, kEdx, 23); }
bool CpuHasAvx512Bf16() { return CpuidBit(7, 1, kEax, 5); }

bool CpuHasAvx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && CpuHasF16c();
}

bool CpuHasAvx512() {
  return CpuHasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}

// The tables are built once at first use and never change; only which one is active does.
struct Tables {
  KernelTable portable = detail::PortableKernels();
  KernelTable avx2 = CpuHasAvx2() ? detail::Avx2Kernels() : KernelTable{};
  KernelTable avx512 = CpuHasAvx512()
                           ? detail::Avx512Kernels({.bf16 = CpuHasAvx512Bf16() &&
                                                            __builtin_cpu_supports("avx512dq"),
                                                    .fp16 = CpuHasAvx512Fp16()})
                           : KernelTable{};
};

const Tables& AllTables() {
  static const Tables tables;
  return tables;
}

const KernelTable* BestTable() {
  const Tables& tables = AllTables();
  if (CpuHasAvx512()) return &tables.avx512;
  if (CpuHasAvx2()) return &tables.avx2;
  return &tables.portable;
}

std::atomic<const KernelTable*> g_active{nullptr};

const KernelTable& Active() {
  const KernelTable* table = g_active.load(std::memory_order_acquire);
  if (table == nullptr) {
    // Racing first calls all compute the same answer; whichever store lands is fine.
    table = BestTable();
    g_active.store(table, std::memory_order_release);
  }
  return *table;
}

size_t Index(DataType dtype) { return static_cast<size_t>(dtype); }

}  // namespace

const KernelTable& detail::ActiveTable() { return Active(); }

void Reduce(void* dst, const void* src, size_t count, DataType dtype, ReduceOp op) {
  Active().reduce_copy[Index(dtype)](dst, dst, src, count, op);
}

void ReduceCopy(void* dst, const void* a, const void* b, size_t count, DataType dtype, ReduceOp op) {
  Active().reduce_copy[Index(dtype)](dst, a, b, count, op);
}

void Scale(void* dst, size_t count, DataType dtype, double factor) {
  const detail::ScaleFn fn = Active().scale[Index(dtype)];
  if (fn != nullptr) fn(dst, count, factor);
}

void HalfToFloat(float* dst, const uint16_t* src, size_t count) { Active().half_to_float(dst, src, count); }
void FloatToHalf(uint16_t* dst, const float* src, size_t count) { Active().float_to_half(dst, src, count); }
void BFloat16ToFloat(float* dst, const uint16_t* src, size_t count) {
  Active().bfloat16_to_float(dst, src, count);
}
void FloatToBFloat16(uint16_t* dst, const float* src, size_t count) {
  Active().float_to_bfloat16(dst, src, count);
}

std::string_view ActiveIsa() { return Active().isa; }

bool ForceIsa(std::string_view isa) {
  const Tables& tables = AllTables();
  const KernelTable* table = nullptr;
  if (isa == "auto") {
    table = BestTable();
  } else if (isa == "portable") {
    table = &tables.portable;
  } else if (isa == "avx2" && CpuHasAvx2()) {
    table = &tables.avx2;
  } else if (isa == "avx512" && CpuHasAvx512()) {
    table = &tables.avx512;
  }
  if (table == nullptr) return false;
  g_active.store(table, std::memory_order_release);
  return true;
}

}  // namespace cohort::kernels
