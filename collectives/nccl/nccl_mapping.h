// Translation between cohort's types and NCCL's: dtypes, reduction ops, and ncclResult_t ->
// Status (the one place NCCL error codes are converted, keeping NCCL's own text).
//
// Pure functions; none needs a loaded library (NcclStatus only uses one, when given, to add
// ncclGetErrorString / ncclGetLastError text). Thread-safe.
#pragma once

#include <nccl.h>

#include <string>
#include <string_view>

#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort {

class NcclLibrary;

// Every cohort dtype has an NCCL equivalent; an out-of-range value is kInvalidArgument.
Result<ncclDataType_t> ToNcclDataType(DataType dtype);

// sum, prod, min, max and avg map to NCCL's built-in ops (avg is NCCL's native ncclAvg, which
// divides by the communicator size in the reduction). avg on an integer dtype is refused exactly
// as on the CPU path (CheckOpSupported), although NCCL would truncate silently.
Result<ncclRedOp_t> ToNcclRedOp(ReduceOp op, DataType dtype);

// "ncclRemoteError"; "ncclResult 42" for a value this header does not know.
std::string NcclResultName(ncclResult_t result);

// The canonical code for an NCCL result: invalid argument / invalid usage -> kInvalidArgument,
// remote error (a peer failed) and system error -> kUnavailable, internal and unhandled CUDA
// errors -> kInternal. ncclInProgress is not an outcome: callers poll it away, and one that
// reaches here is reported as kInternal. Unknown values -> kInternal. ncclSuccess -> kOk.
StatusCode NcclResultCode(ncclResult_t result);

// A Status for `result` of `operation` on `rank`: "NCCL allreduce on rank 3 failed: a peer rank
// failed or its connection broke (ncclRemoteError: <ncclGetErrorString>; last NCCL error:
// <ncclGetLastError>)". `lib` (optional) supplies NCCL's texts; `comm` is passed to
// ncclGetLastError (nullptr is fine: NCCL ignores it). Ok for ncclSuccess.
Status NcclStatus(ncclResult_t result, std::string_view operation, int rank,
                  const NcclLibrary* lib = nullptr, ncclComm_t comm = nullptr);

}  // namespace cohort
