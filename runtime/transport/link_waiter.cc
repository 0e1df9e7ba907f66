// WaitForRequests: spin, then yield, then block on sockets or short sleeps (link_waiter.h).
#include "runtime/transport/link_waiter.h"

#include <poll.h>
#include <sched.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "runtime/base/backoff.h"

namespace cohort {

namespace {

using backoff::CpuRelax;
using backoff::kAliveEvery;
using backoff::kSpinFor;
// Sleep while blocked on links without a file descriptor (shm).
constexpr auto kShmSleep = backoff::kNap;

std::string DescribeBusy(std::span<Link* const> links, std::span<Request* const> requests) {
  size_t pending = 0;
  for (Request* request : requests) pending += request->done ? 0 : 1;
  std::string busy;
  for (Link* link : links) {
    if (link == nullptr || !link->busy()) continue;
    busy += (busy.empty() ? "" : ", ") + std::string("rank ") + std::to_string(link->peer()) +
            " (" + std::string(link->kind()) + ")";
  }
  return std::to_string(pending) + " of " + std::to_string(requests.size()) +
         " transfers still pending; peers not done: " + (busy.empty() ? "none" : busy);
}

}  // namespace

Status WaitForRequests(std::span<Link* const> links, std::span<Request* const> requests,
                       Deadline deadline, const WaitHooks* hooks) {
  std::vector<pollfd> fds;
  Clock::time_point stalled_since{};
  Clock::time_point last_alive_check{};
  bool stalled = false;
  while (true) {
    bool progressed = false;
    for (Link* link : links) {
      if (link == nullptr) continue;
      Result<bool> moved = link->Progress();
      if (!moved.ok()) return moved.status();
      progressed = progressed || *moved;
    }
    bool all_done = true;
    bool any_done = false;
    for (Request* request : requests) {
      if (!request->done) {
        all_done = false;
      } else if (!request->status.ok()) {
        return request->status;
      } else {
        any_done = true;
      }
    }
    if (all_done || (any_done && hooks != nullptr && hooks->until_any_done)) return Status::Ok();
    if (hooks != nullptr && hooks->cancelled != nullptr &&
        hooks->cancelled->load(std::memory_order_relaxed)) {
      return hooks->cancelled_status();
    }
    if (progressed) {
      stalled = false;
      continue;
    }

    const Clock::time_point now = Clock::now();
    if (!stalled) {
      stalled = true;
      stalled_since = now;
      last_alive_check = now;
    }
    if (now >= deadline.at()) {
      return DeadlineExceededError("timed out waiting for transfers: " + DescribeBusy(links, requests));
    }
    if (now - last_alive_check >= kAliveEvery) {
      last_alive_check = now;
      for (Link* link : links) {
        if (link != nullptr) COHORT_RETURN_IF_ERROR(link->CheckPeerAlive());
      }
      if (hooks != nullptr && hooks->on_stall) COHORT_RETURN_IF_ERROR(hooks->on_stall());
    }
    const auto idle = now - stalled_since;
    if (idle < kSpinFor) {
      for (int i = 0; i < 16; ++i) CpuRelax();
      continue;
    }

    // Gather what can be polled; a busy link without an fd (shm) means we must keep looking.
    fds.clear();
    bool fdless_busy = false;
    for (Link* link : links) {
      if (link == nullptr) continue;
      if (link->AppendPollFds(&fds)) fdless_busy = fdless_busy || link->busy();
    }
    if (fdless_busy) {
      if (idle < (hooks != nullptr ? hooks->yield_for : backoff::kYieldFor)) {
        sched_yield();
        continue;
      }
      // Sleep briefly, waking early if a socket becomes ready.
      timespec nap{0, std::chrono::duration_cast<std::chrono::nanoseconds>(kShmSleep).count()};
      ::ppoll(fds.data(), fds.size(), &nap, nullptr);
      continue;
    }
    // Only sockets: block in poll until one is ready, waking for the deadline and alive checks.
    int timeout_ms = std::min<int>(deadline.remaining_ms(), static_cast<int>(kAliveEvery.count()));
    int n = ::poll(fds.data(), fds.size(), std::max(timeout_ms, 1));
    if (n < 0 && errno != EINTR) return ErrnoStatus("poll() while waiting for transfers", errno);
  }
}

Status WaitForRequests(const std::vector<std::unique_ptr<Link>>& links,
                       std::span<Request* const> requests, Deadline deadline) {
  std::vector<Link*> raw;
  raw.reserve(links.size());
  for (const auto& link : links) raw.push_back(link.get());
  return WaitForRequests(std::span<Link* const>(raw), requests, deadline);
}

}  // namespace cohort
