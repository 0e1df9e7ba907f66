#include "runtime/base/errors.h"

namespace cohort {

void ThrowIfError(const Status& status) {
  if (status.ok()) return;
  const std::string& m = status.message();
  switch (status.code()) {
    case StatusCode::kOk: return;
    case StatusCode::kDeadlineExceeded: throw TimeoutError(status.code(), m);
    case StatusCode::kUnavailable:
    case StatusCode::kAborted: throw PeerError(status.code(), m);
    case StatusCode::kInvalidArgument: throw InvalidArgument(status.code(), m);
    case StatusCode::kUnauthenticated: throw AuthError(status.code(), m);
    case StatusCode::kUnimplemented: throw UnsupportedError(status.code(), m);
    case StatusCode::kInternal: throw Error(status.code(), m);
  }
  throw Error(status.code(), m);
}

}  // namespace cohort
