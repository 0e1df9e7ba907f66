// CommunicatorImpl's point-to-point side: posted sends and receives stay in flight while later
// calls run (like MPI's isend/irecv), and complete as the progress thread drives the links.
#include <span>

#include "runtime/comm/communicator_impl.h"
#include "runtime/transport/link_waiter.h"

namespace cohort {

void CommunicatorImpl::ReapPointToPoint() {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (!it->request.done) {
      ++it;
      continue;
    }
    Status status = it->request.status;
    if (status.ok() && it->device_destination != nullptr) {
      // A staged CUDA receive: the message is in pinned memory; move it to the device.
      status = cuda_->CopyIn(it->device, it->device_destination, it->staging.data(),
                             it->staging.bytes(), it->deadline);
    }
    if (!status.ok()) {
      status = Status(status.code(), it->summary.Describe() + " failed on rank " +
                                         std::to_string(rank_) + ": " + status.message());
    }
    Finish(it->work, it->history, std::move(status));
    it = in_flight_.erase(it);
  }
}

void CommunicatorImpl::FailInFlight(const Status& status) {
  for (InFlight& entry : in_flight_) {
    Finish(entry.work, entry.history,
           Status(status.code(), entry.summary.Describe() + " failed on rank " +
                                     std::to_string(rank_) + ": " + status.message()));
    abandoned_.push_back(std::move(entry));
  }
  in_flight_.clear();
}

void CommunicatorImpl::PumpPointToPoint() {
  in_flight_requests_.clear();
  Deadline earliest = Deadline::Never();
  for (InFlight& entry : in_flight_) {
    in_flight_requests_.push_back(&entry.request);
    earliest = earliest.Earlier(entry.deadline);
  }
  WaitHooks hooks;
  hooks.cancelled = &wake_;
  hooks.cancelled_status = [] { return Status::Ok(); };
  hooks.until_any_done = true;
  hooks.on_stall = [this] { return ThrottledRemoteAbortStatus(); };
  // Slices of 250 ms let the waiter's stalled checks (peer alive, remote abort) run.
  Deadline slice = earliest.Earlier(Deadline::After(std::chrono::milliseconds(250)));
  Status status = WaitForRequests(std::span<Link* const>(raw_links_),
                                  std::span<Request* const>(in_flight_requests_), slice, &hooks);
  if (status.code() == StatusCode::kDeadlineExceeded) {
    if (!earliest.expired()) return;
    for (InFlight& entry : in_flight_) {
      if (entry.request.done || !entry.deadline.expired()) continue;
      status = DeadlineExceededError("timed out after " +
                                     std::to_string(config_.timeout.count() / 1000) +
                                     " s (COHORT_TIMEOUT); the peer never matched it");
      break;
    }
  }
  if (!status.ok()) {
    PublishFailure(status);
    FailInFlight(status);
  }
}

}  // namespace cohort
