// The typed exceptions of cohort's public API. A failed Status crosses the public edge once,
// through ThrowIfError, and becomes the exception that matches its code.
#pragma once

#include <stdexcept>
#include <string>

#include "runtime/base/status.h"

namespace cohort {

class Error : public std::runtime_error {
 public:
  Error(StatusCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  StatusCode code() const { return code_; }

 private:
  StatusCode code_;
};

// A wait ran past its deadline (COHORT_TIMEOUT or the caller's).
class TimeoutError : public Error {
 public:
  using Error::Error;
};
// A peer rank, host or the store went away or could not be reached; also aborts caused by them.
class PeerError : public Error {
 public:
  using Error::Error;
};
// Wrong sizes, dtypes, ranks, options, or ranks that disagree on a collective's arguments.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};
// A peer or store did not prove the job secret.
class AuthError : public Error {
 public:
  using Error::Error;
};
// Not supported by this build or for this input.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

// Throws the exception matching status.code(); does nothing when status is ok.
void ThrowIfError(const Status& status);

template <typename T>
T ValueOrThrow(Result<T> result) {
  ThrowIfError(result.status());
  return std::move(result).value();
}

}  // namespace cohort
