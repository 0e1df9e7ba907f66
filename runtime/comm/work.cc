#include "runtime/comm/work.h"

#include "runtime/base/errors.h"

namespace cohort {

void Work::wait() {
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] { return done_; });
  ThrowIfError(status_);
}

bool Work::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!done_cv_.wait_for(lock, timeout, [&] { return done_; })) return false;
  ThrowIfError(status_);
  return true;
}

bool Work::test() const {
  std::lock_guard lock(mutex_);
  return done_;
}

Status Work::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void Work::Complete(Status status) {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    status_ = std::move(status);
    done_ = true;
  }
  done_cv_.notify_all();
}

}  // namespace cohort
