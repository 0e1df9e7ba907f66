// dtype / op mapping and ncclResult_t translation, checked exhaustively against tables written
// here independently of nccl_mapping.cc.
#include "collectives/nccl/nccl_mapping.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>

#include "collectives/nccl/nccl_library.h"

namespace cohort {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Expected NCCL dtype per cohort dtype name.
ncclDataType_t ExpectedType(std::string_view name) {
  if (name == "f32") return ncclFloat;
  if (name == "f64") return ncclDouble;
  if (name == "f16") return ncclHalf;
  if (name == "bf16") return ncclBfloat16;
  if (name == "i8") return ncclChar;
  if (name == "u8") return ncclUint8;
  if (name == "i32") return ncclInt;
  if (name == "i64") return ncclInt64;
  ADD_FAILURE() << "unexpected dtype " << name;
  return ncclNumTypes;
}

ncclRedOp_t ExpectedOp(std::string_view name) {
  if (name == "sum") return ncclSum;
  if (name == "prod") return ncclProd;
  if (name == "min") return ncclMin;
  if (name == "max") return ncclMax;
  if (name == "avg") return ncclAvg;
  ADD_FAILURE() << "unexpected op " << name;
  return ncclNumOps;
}

TEST(NcclMapping, EveryDataTypeMapsToADistinctNcclType) {
  std::set<int> seen;
  for (DataType dtype : kAllDataTypes) {
    auto type = ToNcclDataType(dtype);
    ASSERT_TRUE(type.ok()) << DataTypeName(dtype) << ": " << type.status().ToString();
    EXPECT_EQ(*type, ExpectedType(DataTypeName(dtype))) << DataTypeName(dtype);
    seen.insert(*type);
  }
  EXPECT_EQ(seen.size(), std::size(kAllDataTypes));
}

TEST(NcclMapping, OutOfRangeValuesAreRefused) {
  auto type = ToNcclDataType(static_cast<DataType>(200));
  EXPECT_EQ(type.status().code(), StatusCode::kInvalidArgument);
  auto op = ToNcclRedOp(static_cast<ReduceOp>(200), DataType::kF32);
  EXPECT_EQ(op.status().code(), StatusCode::kInvalidArgument);
}

TEST(NcclMapping, EveryOpOnEveryDataType) {
  for (DataType dtype : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      SCOPED_TRACE(std::string(ReduceOpName(op)) + " on " + std::string(DataTypeName(dtype)));
      auto red = ToNcclRedOp(op, dtype);
      bool integer = dtype == DataType::kI8 || dtype == DataType::kU8 || dtype == DataType::kI32 ||
                     dtype == DataType::kI64;
      if (op == ReduceOp::kAvg && integer) {
        // Refused like the CPU path, although NCCL would truncate.
        ASSERT_FALSE(red.ok());
        EXPECT_EQ(red.status().code(), StatusCode::kInvalidArgument);
        EXPECT_TRUE(Contains(red.status().message(), "avg")) << red.status().message();
        EXPECT_TRUE(Contains(red.status().message(), std::string(DataTypeName(dtype))));
        EXPECT_EQ(red.status().message(), CheckOpSupported(op, dtype).message());
      } else {
        ASSERT_TRUE(red.ok()) << red.status().ToString();
        EXPECT_EQ(*red, ExpectedOp(ReduceOpName(op)));
      }
    }
  }
}

struct ResultCase {
  ncclResult_t result;
  const char* name;
  StatusCode code;
  const char* meaning_part;  // a word the message must carry
};

TEST(NcclMapping, EveryResultTranslates) {
  const ResultCase cases[] = {
      {ncclUnhandledCudaError, "ncclUnhandledCudaError", StatusCode::kInternal, "CUDA"},
      {ncclSystemError, "ncclSystemError", StatusCode::kUnavailable, "system call"},
      {ncclInternalError, "ncclInternalError", StatusCode::kInternal, "internal"},
      {ncclInvalidArgument, "ncclInvalidArgument", StatusCode::kInvalidArgument, "invalid argument"},
      {ncclInvalidUsage, "ncclInvalidUsage", StatusCode::kInvalidArgument, "invalid usage"},
      {ncclRemoteError, "ncclRemoteError", StatusCode::kUnavailable, "peer rank failed"},
      {ncclInProgress, "ncclInProgress", StatusCode::kInternal, "in progress"},
      {ncclNumResults, "ncclResult 8", StatusCode::kInternal, "unknown"},
      // A newer NCCL's value (within the enum's range: anything else is UB to even hold).
      {static_cast<ncclResult_t>(15), "ncclResult 15", StatusCode::kInternal, "unknown"},
  };
  // Every value nccl.h defines is covered above.
  ASSERT_EQ(static_cast<int>(ncclNumResults), 8);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(NcclResultName(c.result), c.name);
    EXPECT_EQ(NcclResultCode(c.result), c.code);
    Status status = NcclStatus(c.result, "allreduce of 4 f32", 5);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), c.code);
    const std::string& message = status.message();
    EXPECT_TRUE(Contains(message, "allreduce of 4 f32")) << message;
    EXPECT_TRUE(Contains(message, "rank 5")) << message;
    EXPECT_TRUE(Contains(message, c.name)) << message;
    EXPECT_TRUE(Contains(message, c.meaning_part)) << message;
    EXPECT_TRUE(Contains(message, "NCCL_DEBUG=WARN")) << message;
  }
  EXPECT_TRUE(NcclStatus(ncclSuccess, "allreduce", 0).ok());
  EXPECT_EQ(NcclResultCode(ncclSuccess), StatusCode::kOk);
  EXPECT_EQ(NcclResultName(ncclSuccess), "ncclSuccess");
}

TEST(NcclMapping, LibraryAddsNcclsOwnText) {
  constexpr const char* kMachineNccl = "/usr/local/cuda/lib/libnccl.so.2";
  if (access(kMachineNccl, R_OK) != 0) GTEST_SKIP() << "no " << kMachineNccl;
  auto lib = NcclLibrary::Load(kMachineNccl);
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  for (int value = 1; value < static_cast<int>(ncclNumResults); ++value) {
    auto result = static_cast<ncclResult_t>(value);
    Status status = NcclStatus(result, "broadcast", 2, lib->get());
    std::string text = (*lib)->fn().GetErrorString(result);
    EXPECT_TRUE(Contains(status.message(), text)) << status.message() << " lacks " << text;
    EXPECT_EQ(status.code(), NcclResultCode(result));
  }
}

}  // namespace
}  // namespace cohort
