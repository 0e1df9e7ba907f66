// dtype, op and error-code translation for the NCCL backend.
#include "collectives/nccl/nccl_mapping.h"

#include "collectives/nccl/nccl_library.h"

namespace cohort {

Result<ncclDataType_t> ToNcclDataType(DataType dtype) {
  switch (dtype) {
    case DataType::kF32: return ncclFloat32;
    case DataType::kF64: return ncclFloat64;
    case DataType::kF16: return ncclFloat16;
    case DataType::kBF16: return ncclBfloat16;
    case DataType::kI8: return ncclInt8;
    case DataType::kU8: return ncclUint8;
    case DataType::kI32: return ncclInt32;
    case DataType::kI64: return ncclInt64;
  }
  return InvalidArgumentError("dtype value " + std::to_string(static_cast<int>(dtype)) +
                              " has no NCCL equivalent");
}

Result<ncclRedOp_t> ToNcclRedOp(ReduceOp op, DataType dtype) {
  COHORT_RETURN_IF_ERROR(CheckOpSupported(op, dtype));
  COHORT_RETURN_IF_ERROR(ToNcclDataType(dtype).status());
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kProd: return ncclProd;
    case ReduceOp::kMin: return ncclMin;
    case ReduceOp::kMax: return ncclMax;
    case ReduceOp::kAvg: return ncclAvg;
  }
  return InvalidArgumentError("reduce op value " + std::to_string(static_cast<int>(op)) +
                              " has no NCCL equivalent");
}

std::string NcclResultName(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "ncclSuccess";
    case ncclUnhandledCudaError: return "ncclUnhandledCudaError";
    case ncclSystemError: return "ncclSystemError";
    case ncclInternalError: return "ncclInternalError";
    case ncclInvalidArgument: return "ncclInvalidArgument";
    case ncclInvalidUsage: return "ncclInvalidUsage";
    case ncclRemoteError: return "ncclRemoteError";
    case ncclInProgress: return "ncclInProgress";
    default: break;  // ncclNumResults and values from a newer NCCL than our nccl.h
  }
  return "ncclResult " + std::to_string(static_cast<int>(result));
}

StatusCode NcclResultCode(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return StatusCode::kOk;
    case ncclInvalidArgument:
    case ncclInvalidUsage: return StatusCode::kInvalidArgument;
    case ncclRemoteError:
    case ncclSystemError: return StatusCode::kUnavailable;
    default: return StatusCode::kInternal;  // internal, unhandled CUDA, in progress, unknown
  }
}

// What the result means for the user, in words that suggest where to look.
static std::string_view Meaning(ncclResult_t result) {
  switch (result) {
    case ncclUnhandledCudaError: return "a CUDA call inside NCCL failed";
    case ncclSystemError:
      return "a system call failed (network, sockets, shared memory or host memory)";
    case ncclInternalError: return "NCCL hit an internal error";
    case ncclInvalidArgument:
      return "invalid argument (a pointer, count, dtype, root or peer NCCL cannot use)";
    case ncclInvalidUsage:
      return "invalid usage (calls in an order NCCL does not allow, or differing between ranks)";
    case ncclRemoteError: return "a peer rank failed or its connection broke";
    case ncclInProgress: return "still in progress where a final result was expected";
    default: return "unknown NCCL result";
  }
}

Status NcclStatus(ncclResult_t result, std::string_view operation, int rank,
                  const NcclLibrary* lib, ncclComm_t comm) {
  if (result == ncclSuccess) return Status::Ok();
  std::string message = "NCCL " + std::string(operation) + " on rank " + std::to_string(rank) +
                        " failed: " + std::string(Meaning(result)) + " (" +
                        NcclResultName(result);
  if (lib != nullptr) {
    const char* text = lib->fn().GetErrorString(result);
    if (text != nullptr && *text != '\0') message += ": " + std::string(text);
    // NCCL's last error is per thread and may predate this call, but it is usually the detail
    // (which peer, which socket) that the result code lacks.
    const char* last = lib->fn().GetLastError(comm);
    if (last != nullptr && *last != '\0') message += "; last NCCL error: " + std::string(last);
  }
  message += "). Set NCCL_DEBUG=WARN for NCCL's own log";
  return Status(NcclResultCode(result), std::move(message));
}

}  // namespace cohort
