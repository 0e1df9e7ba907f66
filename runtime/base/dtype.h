// Element types, reduction ops and devices that describe every buffer cohort moves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/base/status.h"

namespace cohort {

enum class DataType : uint8_t { kF32, kF64, kF16, kBF16, kI8, kU8, kI32, kI64 };
inline constexpr DataType kAllDataTypes[] = {DataType::kF32, DataType::kF64, DataType::kF16,
                                             DataType::kBF16, DataType::kI8, DataType::kU8,
                                             DataType::kI32, DataType::kI64};

enum class ReduceOp : uint8_t { kSum, kProd, kMin, kMax, kAvg };
inline constexpr ReduceOp kAllReduceOps[] = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin,
                                             ReduceOp::kMax, ReduceOp::kAvg};

// Inline: on the latency path of every call.
constexpr size_t DataTypeSize(DataType dtype) {
  switch (dtype) {
    case DataType::kF32: return 4;
    case DataType::kF64: return 8;
    case DataType::kF16: return 2;
    case DataType::kBF16: return 2;
    case DataType::kI8: return 1;
    case DataType::kU8: return 1;
    case DataType::kI32: return 4;
    case DataType::kI64: return 8;
  }
  return 0;
}
constexpr bool IsFloatingPoint(DataType dtype) {
  return dtype == DataType::kF32 || dtype == DataType::kF64 || dtype == DataType::kF16 ||
         dtype == DataType::kBF16;
}
// Short names as users type them: f32 f64 f16 bf16 i8 u8 i32 i64.
std::string_view DataTypeName(DataType dtype);
// Accepts our short names and nccl-tests' (float, double, half, bfloat16, int8, uint8, int32, int64).
Result<DataType> ParseDataType(std::string_view name);

std::string_view ReduceOpName(ReduceOp op);
Result<ReduceOp> ParseReduceOp(std::string_view name);

// avg is a floating-point op: integer avg is refused rather than silently truncated.
Status CheckOpSupported(ReduceOp op, DataType dtype);

struct Device {
  enum class Kind : uint8_t { kCpu, kCuda };
  Kind kind = Kind::kCpu;
  int index = 0;

  static Device Cpu() { return {}; }
  static Device Cuda(int ordinal) { return {Kind::kCuda, ordinal}; }
  bool is_cpu() const { return kind == Kind::kCpu; }
  std::string ToString() const;  // "cpu", "cuda:1"
  bool operator==(const Device&) const = default;
};

// A buffer as a collective sees it: not owning, `count` elements of `dtype` on `device`.
struct BufferView {
  void* data = nullptr;
  size_t count = 0;
  DataType dtype = DataType::kF32;
  Device device = Device::Cpu();

  size_t bytes() const { return count * DataTypeSize(dtype); }
};

}  // namespace cohort
