#include "runtime/comm/comm_peer_io.h"

#include <cstdio>
#include <cstring>

#include "runtime/comm/wait_chain.h"

namespace cohort {

CommPeerIo::CommPeerIo(int rank, int size, const std::vector<std::unique_ptr<Link>>* links,
                       const std::vector<std::string>* host_of_rank,
                       const std::vector<int>* node_of_rank, WaitHooks hooks, NodeArena* arena)
    : rank_(rank), size_(size), host_of_rank_(host_of_rank), node_of_rank_(node_of_rank),
      arena_(arena), arena_spans_world_(arena != nullptr && arena->size() == size) {
  for (const auto& link : *links) links_.push_back(link.get());
  hooks_ = std::move(hooks);
  if (arena_ != nullptr) calls_.resize(static_cast<size_t>(arena_->size()));
}

void CommPeerIo::BeginOp(uint64_t tag, const OpSummary& what, std::chrono::milliseconds timeout,
                         std::chrono::microseconds yield_for) {
  tag_ = tag;
  hooks_.yield_for = yield_for;
  what_ = what;
  timeout_ = timeout;
  deadline_.reset();  // set by the first link wait: arena waits time themselves
  awaited_.clear();
  if (arena_ != nullptr) {
    static_assert(sizeof(Fingerprint) == NodeArena::kCallRecordBytes);
    call_ = FingerprintOf(what);
    arena_->Announce(&call_);
    first_step_ = arena_->next_step();
    check_calls_ = true;
  }
}

std::string CommPeerIo::DescribePeer(int peer) const {
  std::string out = "rank " + std::to_string(peer);
  if (host_of_rank_ != nullptr && peer >= 0 && static_cast<size_t>(peer) < host_of_rank_->size()) {
    out += " (" + (*host_of_rank_)[static_cast<size_t>(peer)] + ")";
  }
  return out;
}

Status CommPeerIo::Post(int peer, bool is_send, void* data, size_t bytes) {
  if (peer < 0 || peer >= size_ || peer == rank_) {
    return Fail(InternalError("the algorithm addressed invalid peer " + std::to_string(peer)));
  }
  Link* link = links_[static_cast<size_t>(peer)];
  pending_.push_back(Pending{peer, is_send, bytes, Request{}});
  Request* request = &pending_.back().request;
  waiting_.push_back(request);
  Status posted = is_send ? link->PostSend(tag_, data, bytes, request)
                          : link->PostRecv(tag_, data, bytes, request);
  return posted.ok() ? posted : Fail(posted);
}

Status CommPeerIo::Send(int peer, const void* data, size_t bytes) {
  // The link only reads from a send buffer.
  return Post(peer, true, const_cast<void*>(data), bytes);
}

Status CommPeerIo::Recv(int peer, void* data, size_t bytes) {
  return Post(peer, false, data, bytes);
}

std::string CommPeerIo::DescribePending() const {
  std::string out;
  for (const Pending& p : pending_) {
    if (p.request.done) continue;
    if (!out.empty()) out += ", ";
    out += DescribePeer(p.peer) + (p.is_send ? " [send of " : " [recv of ") +
           std::to_string(p.bytes) + " bytes]";
  }
  return out.empty() ? "nothing" : out;
}

Status CommPeerIo::Fail(const Status& cause) const {
  return Status(cause.code(), what_.Describe() + " failed on rank " + std::to_string(rank_) +
                                  ": " + cause.message());
}

Status CommPeerIo::TimedOut(const std::string& awaited) {
  awaited_ = RanksNamedIn(awaited);
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.1f", static_cast<double>(timeout_.count()) / 1000);
  return DeadlineExceededError(std::string("timed out after ") + seconds +
                               " s (COHORT_TIMEOUT) still waiting for " + awaited +
                               "; check that every rank calls the same collectives in the same "
                               "order and that those ranks are alive");
}

Status CommPeerIo::ArenaView::Sync() {
  Status status = io_->arena_->Sync(io_->timeout_, &io_->hooks_);
  if (status.ok() && io_->check_calls_) {
    for (size_t r = 0; r < io_->calls_.size(); ++r) {
      std::memcpy(&io_->calls_[r], io_->arena_->Announced(static_cast<int>(r), io_->first_step_),
                  sizeof(Fingerprint));
    }
  }
  return io_->FinishArenaStep(std::move(status));
}

Status CommPeerIo::ArenaView::Express(const void* mine, size_t bytes, std::byte* all) {
  // Express fills calls_ with every rank's record of this step, also when it fails.
  for (Fingerprint& call : io_->calls_) call = io_->call_;
  Status status = io_->arena_->Express(&io_->call_, mine, bytes, all,
                                       reinterpret_cast<unsigned char*>(io_->calls_.data()),
                                       io_->timeout_, &io_->hooks_);
  io_->check_calls_ = true;
  return io_->FinishArenaStep(std::move(status));
}

Status CommPeerIo::FinishArenaStep(Status status) {
  if (check_calls_ && status.code() != StatusCode::kDeadlineExceeded &&
      status.code() != StatusCode::kAborted && status.code() != StatusCode::kUnavailable) {
    check_calls_ = false;
    Status agreed = CompareFingerprints(calls_, "the shared-memory call check");
    if (!agreed.ok()) status = agreed;
  }
  if (status.ok()) return status;
  if (status.code() == StatusCode::kDeadlineExceeded) status = TimedOut(status.message());
  return Fail(status);
}

Deadline CommPeerIo::LinkDeadline() {
  if (!deadline_) deadline_ = Deadline::After(timeout_);
  return *deadline_;
}

Status CommPeerIo::WaitAll() {
  Status status = WaitForRequests(std::span<Link* const>(links_),
                                  std::span<Request* const>(waiting_), LinkDeadline(), &hooks_);
  if (status.code() == StatusCode::kDeadlineExceeded) status = TimedOut(DescribePending());
  if (!status.ok()) {
    // pending_ is kept: links may still point at its Requests. The communicator treats any
    // failure as fatal and never progresses its links again, so nothing completes into freed
    // memory.
    return Fail(status);
  }
  pending_.clear();
  waiting_.clear();
  return Status::Ok();
}

}  // namespace cohort
