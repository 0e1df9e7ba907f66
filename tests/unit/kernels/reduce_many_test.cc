// ReduceMany on every ISA, dtype and op against the scalar reference: 1 to 9 sources, odd
// lengths that cross the kernel's internal blocks, byte-misaligned pointers, dst equal to the
// first, a middle or the last source, and guard bytes around dst.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/reduce.h"
#include "kernels/cpu/reference.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace cohort::kernels::testing {
namespace {

constexpr size_t kLengths[] = {0, 1, 17, 65, 2047, 2049, 4100};
constexpr size_t kSourceCounts[] = {1, 2, 3, 5, 9};
constexpr unsigned char kGuard = 0x5a;

// Where dst is: its own buffer, or exactly one of the sources.
enum class Dst { kDistinct, kFirstSource, kMiddleSource, kLastSource };
constexpr Dst kDsts[] = {Dst::kDistinct, Dst::kFirstSource, Dst::kMiddleSource, Dst::kLastSource};

std::string RunCase(DataType dtype, ReduceOp op, size_t count, size_t num_srcs, Dst where,
                    size_t misalign, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t bytes = count * DataTypeSize(dtype);
  constexpr size_t kPad = 64;
  // One arena per source plus one for a distinct dst, each with guards and its own misalignment.
  std::vector<std::vector<unsigned char>> arenas(num_srcs + 1,
                                                 std::vector<unsigned char>(bytes + 2 * kPad, kGuard));
  std::vector<std::vector<char>> values(num_srcs, std::vector<char>(bytes + 1));
  std::vector<const void*> srcs(num_srcs);
  for (size_t j = 0; j < num_srcs; ++j) {
    FillRandom(rng, dtype, values[j].data(), count);
    char* at = reinterpret_cast<char*>(arenas[j].data()) + kPad + (misalign * (j + 1)) % 7;
    std::memcpy(at, values[j].data(), bytes);
    srcs[j] = at;
  }
  std::vector<const void*> value_ptrs(num_srcs);
  for (size_t j = 0; j < num_srcs; ++j) value_ptrs[j] = values[j].data();
  std::vector<char> expected(bytes + 1);
  reference::ReduceMany(expected.data(), value_ptrs.data(), num_srcs, count, dtype, op);

  size_t dst_index = num_srcs;  // the extra arena
  if (where == Dst::kFirstSource) dst_index = 0;
  if (where == Dst::kMiddleSource) dst_index = num_srcs / 2;
  if (where == Dst::kLastSource) dst_index = num_srcs - 1;
  char* dst = dst_index == num_srcs ? reinterpret_cast<char*>(arenas[num_srcs].data()) + kPad + misalign
                                    : const_cast<char*>(static_cast<const char*>(srcs[dst_index]));
  ReduceMany(dst, srcs.data(), num_srcs, count, dtype, op);

  for (size_t j = 0; j <= num_srcs; ++j) {
    const std::vector<unsigned char>& arena = arenas[j];
    const size_t begin = j == num_srcs ? kPad + misalign
                                       : static_cast<size_t>(static_cast<const unsigned char*>(srcs[j]) - arena.data());
    for (size_t i = 0; i < arena.size(); ++i) {
      if ((i < begin || i >= begin + bytes) && arena[i] != kGuard) return "wrote outside a buffer";
    }
    if (j < num_srcs && j != dst_index && std::memcmp(srcs[j], values[j].data(), bytes) != 0) {
      return "modified source " + std::to_string(j);
    }
  }
  return CompareElements(dtype, op, expected.data(), dst, count);
}

TEST_P(IsaTest, ReduceManyMatchesReference) {
  const uint64_t base = BaseSeed();
  int failures = 0;
  for (DataType dtype : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      for (size_t count : kLengths) {
        for (size_t num_srcs : kSourceCounts) {
          for (Dst where : kDsts) {
            const size_t misalign = (count + num_srcs) % 5;
            const uint64_t seed = base ^ (static_cast<uint64_t>(dtype) << 40) ^
                                  (static_cast<uint64_t>(op) << 32) ^ (count << 12) ^
                                  (num_srcs << 4) ^ static_cast<uint64_t>(where);
            const std::string error = RunCase(dtype, op, count, num_srcs, where, misalign, seed);
            if (error.empty()) continue;
            ADD_FAILURE() << GetParam() << " " << DataTypeName(dtype) << " " << ReduceOpName(op)
                          << " count " << count << " sources " << num_srcs << " dst case "
                          << static_cast<int>(where) << " seed " << seed << ": " << error;
            if (++failures >= 20) return;
          }
        }
      }
    }
  }
}

// Rounding once: three bf16 sources whose pairwise sums would round twice.
TEST_P(IsaTest, ReduceManyRoundsHalfTypesOnce) {
  // 1 + 2^-8 + 2^-8: pairwise, 1 + 2^-8 ties to 1, then again to 1; in f32 it is 1 + 2^-7.
  const uint16_t one = 0x3f80, tiny = 0x3b80;  // bf16 1.0 and 2^-8
  const uint16_t a[] = {one}, b[] = {tiny}, c[] = {tiny};
  const void* srcs[] = {a, b, c};
  uint16_t out = 0;
  ReduceMany(&out, srcs, 3, 1, DataType::kBF16, ReduceOp::kSum);
  EXPECT_EQ(out, 0x3f81);
}

}  // namespace
}  // namespace cohort::kernels::testing
