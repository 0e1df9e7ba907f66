#include "runtime/comm/work.h"

#include <algorithm>
#include <thread>

#include "runtime/base/errors.h"

namespace cohort {

using Clock = std::chrono::steady_clock;

void Work::YieldUntilDone(Clock::time_point until) {
  if (yield_for_.count() <= 0 || done_.load(std::memory_order_acquire)) return;
  // The budget runs from the first wait, so that a caller waiting in slices (Python's
  // interruptible wait) does not renew it with every slice.
  const Clock::rep now = Clock::now().time_since_epoch().count();
  Clock::rep first = 0;
  if (first_wait_ns_.compare_exchange_strong(first, now)) first = now;
  const Clock::time_point budget_end = Clock::time_point(Clock::duration(first)) + yield_for_;
  const Clock::time_point end = std::min(until, budget_end);
  while (!done_.load(std::memory_order_acquire) && Clock::now() < end) {
    std::this_thread::yield();
  }
}

void Work::wait() {
  YieldUntilDone(Clock::time_point::max());
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] { return done_.load(); });
  ThrowIfError(status_);
}

bool Work::wait_for(std::chrono::milliseconds timeout) {
  // One deadline for both phases: the yielding does not extend the timeout.
  const Clock::time_point deadline = Clock::now() + timeout;
  YieldUntilDone(deadline);
  std::unique_lock lock(mutex_);
  if (!done_cv_.wait_until(lock, deadline, [&] { return done_.load(); })) return false;
  ThrowIfError(status_);
  return true;
}

bool Work::test() const {
  std::lock_guard lock(mutex_);
  return done_.load();
}

Status Work::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void Work::Complete(Status status) {
  {
    std::lock_guard lock(mutex_);
    if (done_.load()) return;
    status_ = std::move(status);
    done_.store(true, std::memory_order_release);
  }
  done_cv_.notify_all();
}

}  // namespace cohort
