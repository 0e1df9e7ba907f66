// Work: the handle of an asynchronous collective. The progress thread completes it; any thread
// may wait on it. Mirrors torch.distributed's Work: wait, test, and the error that ended it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/base/status.h"

namespace cohort {

class Work {
 public:
  // `yield_for`: how long waiters keep their CPU (polling, yielding it to runnable threads)
  // before they sleep, counted from the first wait (backoff.h says why; 0: sleep at
  // once).
  explicit Work(std::string description,
                std::chrono::microseconds yield_for = std::chrono::microseconds(0))
      : description_(std::move(description)), yield_for_(yield_for) {}

  // Blocks until the operation ends; throws its error (TimeoutError, PeerError, ...) if it failed.
  // The operation itself is bounded by COHORT_TIMEOUT, so this never blocks forever.
  void wait();
  // Waits at most `timeout`. Returns false if the operation is still running (it goes on);
  // throws the operation's error if it failed.
  bool wait_for(std::chrono::milliseconds timeout);
  // True once the operation has ended, successfully or not. Never throws.
  bool test() const;
  // The operation's final status (Ok while running).
  Status status() const;
  // "allreduce #12 (4194304 bytes f32 sum)".
  const std::string& description() const { return description_; }

  // Called once by the progress thread.
  void Complete(Status status);

 private:
  // Polls until the operation ends or the yield budget (from the first wait) or `until` passes.
  void YieldUntilDone(std::chrono::steady_clock::time_point until);

  std::string description_;
  const std::chrono::microseconds yield_for_;
  std::atomic<std::chrono::steady_clock::rep> first_wait_ns_{0};  // 0: nobody waited yet
  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  // Set once, under mutex_ and after status_ (release); polled without the mutex while yielding.
  std::atomic<bool> done_{false};
  Status status_;
};

using WorkPtr = std::shared_ptr<Work>;

}  // namespace cohort
