// WaitForRequests: drives a set of links until the given requests are done, bounded by a deadline.
// Used by tests and by the communicator's progress loop.
//
// Waiting strategy (so that 4 ranks on 2 cores do not starve each other): after progress stops,
// spin briefly (fast wake-up for latency-bound exchanges), then sched_yield() for a while, then
// block: poll() on the tcp links' fds when every busy link has one, or short sleeps (~50 us) when
// shm links (nothing to poll) are involved. While stalled, every ~100 ms each link's
// CheckPeerAlive() runs, so a crashed same-host peer turns into an error instead of a hang.
//
// Every link in `links` is progressed, not only those the requests belong to: a send to one
// peer may have to drain before another peer can answer.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "runtime/base/backoff.h"
#include "runtime/base/deadline.h"
#include "runtime/base/status.h"
#include "runtime/transport/link.h"

namespace cohort {

// What a caller may add to a wait: a flag checked on every round (abort), and a check run about
// every 100 ms while nothing moves (e.g. asking the store whether another rank failed).
struct WaitHooks {
  const std::atomic<bool>* cancelled = nullptr;
  std::function<Status()> cancelled_status;
  std::function<Status()> on_stall;
  // Return Ok as soon as any one request is done (the caller then sees which).
  bool until_any_done = false;
  // How long a wait without a file descriptor keeps yielding the CPU before it naps
  // (backoff.h).
  std::chrono::microseconds yield_for = backoff::kYieldFor;
};

// Returns Ok when every request is done and succeeded; the first failed request's (or broken
// link's) error otherwise; kDeadlineExceeded naming the peers still busy when `deadline` passes.
// Null entries in `links` are skipped (a communicator's own rank).
Status WaitForRequests(std::span<Link* const> links, std::span<Request* const> requests,
                       Deadline deadline, const WaitHooks* hooks = nullptr);
Status WaitForRequests(const std::vector<std::unique_ptr<Link>>& links,
                       std::span<Request* const> requests, Deadline deadline);
inline Status WaitForRequests(const std::vector<std::unique_ptr<Link>>& links,
                              std::initializer_list<Request*> requests, Deadline deadline) {
  return WaitForRequests(links, std::span<Request* const>(requests.begin(), requests.size()),
                         deadline);
}

}  // namespace cohort
