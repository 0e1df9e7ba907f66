// StripedLink: one Link over N StreamLinks to the same peer (striped_link.h).
#include "runtime/transport/striped_link.h"

#include <algorithm>
#include <string>

#include "runtime/base/logging.h"
#include "runtime/base/tag.h"
#include "runtime/transport/stripe_plan.h"

namespace cohort {

StripedLink::StripedLink(int peer, std::vector<std::unique_ptr<StreamLink>> streams,
                         size_t split_bytes)
    : peer_(peer),
      split_bytes_(std::max(split_bytes, streams.size())),
      streams_(std::move(streams)) {}

StripedLink::~StripedLink() {
  // The streams go first: until then they may hold pointers into the slots' piece requests.
  streams_.clear();
}

Status StripedLink::PostSend(uint64_t tag, const void* data, size_t bytes, Request* request) {
  // The send side only reads through this pointer.
  return Post(Direction::kSend, tag, const_cast<char*>(static_cast<const char*>(data)), bytes,
              request);
}

Status StripedLink::PostRecv(uint64_t tag, void* data, size_t bytes, Request* request) {
  return Post(Direction::kRecv, tag, static_cast<char*>(data), bytes, request);
}

Status StripedLink::Post(Direction direction, uint64_t tag, char* data, size_t bytes,
                         Request* request) {
  const bool send = direction == Direction::kSend;
  if (request == nullptr || (data == nullptr && bytes > 0)) {
    return InvalidArgumentError(std::string(send ? "PostSend to" : "PostRecv from") + " rank " +
                                std::to_string(peer_) + ": null " +
                                (request == nullptr ? "request" : "buffer") + " for " +
                                std::to_string(bytes) + " bytes, " + DescribeTag(tag));
  }
  if (broken_) {
    *request = Request{true, error_};
    return error_;
  }
  // Both sides count the same messages in the same order, so they pick the same stream.
  const uint64_t index = send ? sends_posted_++ : recvs_posted_++;
  const int n = static_cast<int>(streams_.size());
  auto post = [&](StreamLink& stream, char* at, size_t length, uint32_t flags, Request* r) {
    return send ? stream.PostSendFrame(tag, at, length, flags, r)
                : stream.PostRecvFrame(tag, at, length, flags, r);
  };
  if (bytes < split_bytes_) {
    Status posted = post(*streams_[index % static_cast<uint64_t>(n)], data, bytes, 0, request);
    return posted.ok() ? posted : Break(posted);
  }
  if (free_slots_.empty()) {
    slot_pool_.push_back(std::make_unique<Slot>());
    slot_pool_.back()->pieces.resize(streams_.size());
    free_slots_.push_back(slot_pool_.back().get());
  }
  Slot* slot = free_slots_.back();
  free_slots_.pop_back();
  slot->request = request;
  *request = Request{};
  active_slots_.push_back(slot);
  for (int i = 0; i < n; ++i) {
    const detail::StripePiece piece = detail::PieceOf(bytes, n, i);
    Status posted = post(*streams_[static_cast<size_t>(i)], data + piece.offset, piece.bytes,
                         detail::PieceFlags(bytes, n, i), &slot->pieces[static_cast<size_t>(i)]);
    // A stream refuses a post only once broken, and a broken stream breaks this link at once.
    if (!posted.ok()) return Break(posted);
  }
  return Status::Ok();
}

Result<bool> StripedLink::Progress() {
  if (broken_) return error_;
  bool progressed = false;
  for (auto& stream : streams_) {
    Result<bool> moved = stream->Progress();
    if (!moved.ok()) return Break(moved.status());
    progressed = progressed || *moved;
  }
  return ReapSlots() || progressed;
}

bool StripedLink::ReapSlots() {
  bool completed = false;
  for (size_t s = 0; s < active_slots_.size();) {
    Slot* slot = active_slots_[s];
    const bool all_done = std::all_of(slot->pieces.begin(), slot->pieces.end(),
                                      [](const Request& piece) { return piece.done; });
    if (!all_done) {
      ++s;
      continue;
    }
    Status status;
    for (const Request& piece : slot->pieces) {
      if (!piece.status.ok()) {
        status = piece.status;
        break;
      }
    }
    *slot->request = Request{true, status};
    active_slots_[s] = active_slots_.back();
    active_slots_.pop_back();
    free_slots_.push_back(slot);
    completed = true;
  }
  return completed;
}

bool StripedLink::busy() const {
  if (!active_slots_.empty()) return true;
  return std::any_of(streams_.begin(), streams_.end(),
                     [](const auto& stream) { return stream->busy(); });
}

bool StripedLink::AppendPollFds(std::vector<pollfd>* fds) const {
  bool unpollable = false;
  for (const auto& stream : streams_) unpollable = stream->AppendPollFds(fds) || unpollable;
  return unpollable;
}

Status StripedLink::CheckPeerAlive() {
  if (broken_) return error_;
  for (auto& stream : streams_) {
    Status alive = stream->CheckPeerAlive();
    if (!alive.ok()) return Break(alive);
  }
  return Status::Ok();
}

Status StripedLink::Break(Status status) {
  if (broken_) return error_;
  broken_ = true;
  error_ = std::move(status);
  COHORT_LOG(kInfo) << "striped link to rank " << peer_ << " (" << streams_.size()
                    << " streams) broken: " << error_.ToString();
  // Completes every piece and small request still queued on a stream, with this error.
  for (auto& stream : streams_) stream->Fail(error_);
  for (Slot* slot : active_slots_) {
    *slot->request = Request{true, error_};
    free_slots_.push_back(slot);
  }
  active_slots_.clear();
  return error_;
}

}  // namespace cohort
