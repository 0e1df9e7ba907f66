// Status and Result<T>: how everything below the public API reports failure.
//
// Transports, collectives, kernels, the store and the progress thread never throw; they return a
// [[nodiscard]] Status (or Result<T>) with a canonical code and a message that names the rank,
// peer, operation and bytes involved. The public edges (Communicator, cohortrun, bindings) turn a
// failed Status into a typed exception (errors.h).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cohort {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller passed something wrong (sizes, dtypes, ranks, options)
  kDeadlineExceeded,  // a wait ran past its timeout
  kUnavailable,       // a peer, the store or a host cannot be reached or went away
  kAborted,           // the operation was stopped: communicator aborted, or another rank failed
  kUnauthenticated,   // a peer or client did not prove the job secret
  kUnimplemented,     // not supported in this build or for this input
  kInternal,          // a bug or an unexpected system failure
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "DEADLINE_EXCEEDED: allreduce #5 ..." for logs.
  std::string ToString() const;

  // Prepends context ("while connecting to rank 3: ") to a failure; no-op on success.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status DeadlineExceededError(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status AbortedError(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status UnimplementedError(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// "what failed: strerror(errno)" as kUnavailable for connection errors, kInternal otherwise.
Status ErrnoStatus(std::string_view what, int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace cohort

#define COHORT_CONCAT_INNER(a, b) a##b
#define COHORT_CONCAT(a, b) COHORT_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` failed.
#define COHORT_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    ::cohort::Status _cohort_status = (expr);          \
    if (!_cohort_status.ok()) return _cohort_status;   \
  } while (0)

// `COHORT_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its Status.
#define COHORT_ASSIGN_OR_RETURN(lhs, expr) \
  COHORT_ASSIGN_OR_RETURN_IMPL(COHORT_CONCAT(_cohort_result_, __LINE__), lhs, expr)
#define COHORT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
