#include "runtime/base/dtype.h"

namespace cohort {

std::string_view DataTypeName(DataType dtype) {
  switch (dtype) {
    case DataType::kF32: return "f32";
    case DataType::kF64: return "f64";
    case DataType::kF16: return "f16";
    case DataType::kBF16: return "bf16";
    case DataType::kI8: return "i8";
    case DataType::kU8: return "u8";
    case DataType::kI32: return "i32";
    case DataType::kI64: return "i64";
  }
  return "?";
}

Result<DataType> ParseDataType(std::string_view name) {
  struct Alias { std::string_view name; DataType dtype; };
  static constexpr Alias kAliases[] = {
      {"f32", DataType::kF32},   {"float", DataType::kF32},     {"float32", DataType::kF32},
      {"f64", DataType::kF64},   {"double", DataType::kF64},    {"float64", DataType::kF64},
      {"f16", DataType::kF16},   {"half", DataType::kF16},      {"float16", DataType::kF16},
      {"bf16", DataType::kBF16}, {"bfloat16", DataType::kBF16}, {"i8", DataType::kI8},
      {"int8", DataType::kI8},   {"u8", DataType::kU8},         {"uint8", DataType::kU8},
      {"i32", DataType::kI32},   {"int32", DataType::kI32},     {"int", DataType::kI32},
      {"i64", DataType::kI64},   {"int64", DataType::kI64},
  };
  for (const Alias& alias : kAliases) {
    if (alias.name == name) return alias.dtype;
  }
  return InvalidArgumentError("unknown dtype '" + std::string(name) +
                         "'; expected one of f32 f64 f16 bf16 i8 u8 i32 i64 "
                         "(or float double half bfloat16 int8 uint8 int32 int64)");
}

std::string_view ReduceOpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kProd: return "prod";
    case ReduceOp::kMin: return "min";
    case ReduceOp::kMax: return "max";
    case ReduceOp::kAvg: return "avg";
  }
  return "?";
}

Result<ReduceOp> ParseReduceOp(std::string_view name) {
  for (ReduceOp op : kAllReduceOps) {
    if (ReduceOpName(op) == name) return op;
  }
  return InvalidArgumentError("unknown reduction op '" + std::string(name) +
                         "'; expected one of sum prod min max avg");
}

Status CheckOpSupported(ReduceOp op, DataType dtype) {
  if (op != ReduceOp::kAvg || IsFloatingPoint(dtype)) return Status::Ok();
  return InvalidArgumentError("op avg is not defined for integer dtype " +
                              std::string(DataTypeName(dtype)) +
                              "; use sum and divide, or a floating-point dtype");
}

std::string Device::ToString() const {
  return kind == Kind::kCpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace cohort
