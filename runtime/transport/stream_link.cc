// StreamLink: framing, in-order matching and error handling over a ByteStream (stream_link.h).
#include "runtime/transport/stream_link.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "runtime/base/logging.h"
#include "runtime/base/tag.h"
#include "runtime/transport/stripe_plan.h"

namespace cohort {

namespace {
constexpr size_t kHeaderBytes = sizeof(detail::FrameHeader);

void Complete(Request* request, const Status& status) {
  request->status = status;
  request->done = true;
}

std::string Hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}
}  // namespace

StreamLink::StreamLink(int peer, std::string peer_host, std::unique_ptr<ByteStream> stream)
    : peer_(peer), peer_host_(std::move(peer_host)), stream_(std::move(stream)) {}

StreamLink::~StreamLink() { stream_->Close(); }

std::string StreamLink::peer_name() const {
  return "rank " + std::to_string(peer_) + " (host " + peer_host_ + ")";
}

Status StreamLink::Post(detail::RingQueue<Op>& queue, const char* what, uint64_t tag, char* data,
                        size_t bytes, uint32_t flags, Request* request) {
  if (request == nullptr || (data == nullptr && bytes > 0)) {
    return InvalidArgumentError(std::string(what) + " " + peer_name() + ": null " +
                                (request == nullptr ? "request" : "buffer") + " for " +
                                std::to_string(bytes) + " bytes, " + DescribeTag(tag));
  }
  if (broken_) {
    Complete(request, error_);
    return error_;
  }
  request->done = false;
  request->status = Status::Ok();
  queue.push_back(Op{tag, data, bytes, flags, request});
  return Status::Ok();
}

Status StreamLink::PostSend(uint64_t tag, const void* data, size_t bytes, Request* request) {
  return PostSendFrame(tag, data, bytes, 0, request);
}

Status StreamLink::PostRecv(uint64_t tag, void* data, size_t bytes, Request* request) {
  return PostRecvFrame(tag, data, bytes, 0, request);
}

Status StreamLink::PostSendFrame(uint64_t tag, const void* data, size_t bytes, uint32_t flags,
                                 Request* request) {
  // The send side only reads through this pointer.
  return Post(sends_, "PostSend to", tag, const_cast<char*>(static_cast<const char*>(data)), bytes,
              flags, request);
}

Status StreamLink::PostRecvFrame(uint64_t tag, void* data, size_t bytes, uint32_t flags,
                                 Request* request) {
  return Post(recvs_, "PostRecv from", tag, static_cast<char*>(data), bytes, flags, request);
}

Result<bool> StreamLink::Progress() {
  if (broken_) return error_;
  COHORT_ASSIGN_OR_RETURN(bool sent, ProgressSends());
  COHORT_ASSIGN_OR_RETURN(bool received, ProgressRecvs());
  return sent || received;
}

bool StreamLink::AppendPollFds(std::vector<pollfd>* fds) const {
  const int fd = broken_ ? -1 : stream_->poll_fd();
  if (fd < 0) return true;
  const short events = static_cast<short>((wants_read() ? POLLIN : 0) | (wants_write() ? POLLOUT : 0));
  fds->push_back(pollfd{fd, events, 0});
  return false;
}

bool StreamLink::wants_read() const {
  return !broken_ && peer_closed_.ok() && !(in_header_got_ == kHeaderBytes && in_header_.magic == detail::kFrameMagic &&
                       recvs_.empty());
}

Status StreamLink::CheckPeerAlive() {
  if (broken_) return error_;
  Status alive = stream_->CheckPeerAlive();
  if (!alive.ok()) return Break(alive);
  return Status::Ok();
}

Result<bool> StreamLink::ProgressSends() {
  bool progressed = false;
  while (!sends_.empty()) {
    Op& op = sends_.front();
    if (out_done_ == 0) out_header_ = {detail::kFrameMagic, op.flags, op.tag, op.bytes};
    // Header and payload leave in one write (one syscall for tcp); the payload comes straight
    // from the caller's buffer.
    iovec iov[2];
    int count = 0;
    if (out_done_ < kHeaderBytes) {
      iov[count++] = {reinterpret_cast<char*>(&out_header_) + out_done_, kHeaderBytes - out_done_};
    }
    size_t payload_done = out_done_ > kHeaderBytes ? out_done_ - kHeaderBytes : 0;
    if (op.bytes > payload_done) iov[count++] = {op.data + payload_done, op.bytes - payload_done};
    Result<size_t> wrote = stream_->TryWritev(iov, count);
    if (!wrote.ok()) return Break(StreamError(wrote.status()));
    if (*wrote == 0) {
      send_blocked_ = true;
      break;
    }
    send_blocked_ = false;
    progressed = true;
    out_done_ += *wrote;
    if (out_done_ == kHeaderBytes + op.bytes) {
      Request* request = op.request;
      sends_.pop_front();
      out_done_ = 0;
      Complete(request, Status::Ok());
    }
  }
  return progressed;
}

Result<bool> StreamLink::ProgressRecvs() {
  bool progressed = false;
  while (true) {
    if (in_header_got_ < kHeaderBytes) {
      // Read the header and, speculatively, the payload straight into the first posted receive:
      // one syscall per small message. If the header then does not match, the link breaks
      // anyway, so bytes that landed in the wrong buffer do no further harm.
      iovec iov[2];
      int count = 0;
      iov[count++] = {reinterpret_cast<char*>(&in_header_) + in_header_got_,
                      kHeaderBytes - in_header_got_};
      if (!recvs_.empty() && recvs_.front().bytes > 0) {
        iov[count++] = {recvs_.front().data, recvs_.front().bytes};
      }
      if (!peer_closed_.ok()) {
        if (recvs_.empty()) return progressed;
        return Break(peer_closed_);
      }
      Result<size_t> got = stream_->TryReadv(iov, count);
      if (!got.ok()) {
        if (got.status().code() == StatusCode::kUnavailable && in_header_got_ == 0 &&
            recvs_.empty()) {
          peer_closed_ = StreamError(got.status());
          return progressed;
        }
        return Break(StreamError(got.status()));
      }
      if (*got == 0) return progressed;
      progressed = true;
      size_t to_header = std::min(*got, kHeaderBytes - in_header_got_);
      in_header_got_ += to_header;
      in_payload_got_ = *got - to_header;
      if (in_header_got_ < kHeaderBytes) continue;
      if (in_header_.magic == detail::kAbortMagic) {
        if (in_header_.bytes > detail::kMaxAbortText) {
          return Break(UnavailableError("received garbage from " + peer_name() +
                                        ": an abort frame of " + std::to_string(in_header_.bytes) +
                                        " bytes"));
        }
        abort_got_ = std::min<size_t>(in_payload_got_, in_header_.bytes);
        if (abort_got_ > 0) std::memcpy(abort_text_, recvs_.front().data, abort_got_);
      } else if (in_header_.magic != detail::kFrameMagic) {
        return Break(InternalError(
            "received garbage from " + peer_name() + ": bad frame header (magic " +
            Hex(in_header_.magic) + ", expected " + Hex(detail::kFrameMagic) +
            "); is something other than a cohort rank writing to this connection, or is the "
            "peer running a different cohort version?"));
      }
    }
    if (in_header_.magic == detail::kAbortMagic) {
      if (abort_got_ < in_header_.bytes) {
        Result<size_t> got = stream_->TryRead(abort_text_ + abort_got_, in_header_.bytes - abort_got_);
        if (!got.ok()) return Break(StreamError(got.status()));
        if (*got == 0) return progressed;
        abort_got_ += *got;
        if (abort_got_ < in_header_.bytes) continue;
      }
      return Break(AbortedError(peer_name() + " closed its link to this rank after an error: " +
                                std::string(abort_text_, abort_got_)));
    }
    // A header with no posted receive waits here; its payload stays in the stream.
    if (recvs_.empty()) return progressed;
    Op& op = recvs_.front();
    if (!in_matched_) {
      COHORT_RETURN_IF_ERROR(CheckHeader());
      in_matched_ = true;
    }
    if (in_payload_got_ < op.bytes) {
      Result<size_t> got = stream_->TryRead(op.data + in_payload_got_, op.bytes - in_payload_got_);
      if (!got.ok()) return Break(StreamError(got.status()));
      if (*got == 0) return progressed;
      progressed = true;
      in_payload_got_ += *got;
    }
    if (in_payload_got_ == op.bytes) {
      Request* request = op.request;
      recvs_.pop_front();
      in_header_got_ = 0;
      in_payload_got_ = 0;
      in_matched_ = false;
      Complete(request, Status::Ok());
    }
  }
}

Status StreamLink::CheckHeader() {
  const Op& op = recvs_.front();
  if (in_header_.tag == op.tag && in_header_.bytes == op.bytes && in_header_.flags == op.flags) {
    return Status::Ok();
  }
  // Sizes of whole messages: a piece of a striped message names the message it belongs to.
  std::string text = "message mismatch with " + peer_name() + ": this rank expected " +
                     DescribeTag(op.tag) + " of " +
                     std::to_string(detail::WholeMessageBytes(op.flags, op.bytes)) +
                     " bytes, the peer sent " + DescribeTag(in_header_.tag) + " of " +
                     std::to_string(detail::WholeMessageBytes(in_header_.flags, in_header_.bytes)) +
                     " bytes; ranks are calling different collectives or passing different counts";
  if (in_header_.tag == op.tag &&
      detail::WholeMessageBytes(op.flags, op.bytes) ==
          detail::WholeMessageBytes(in_header_.flags, in_header_.bytes)) {
    text += " (the same message, cut differently over the tcp streams: do all ranks run the same "
            "cohort version with the same COHORT_SOCKET_NSTREAMS?)";
  }
  TrySendAbort(text);
  return Break(InvalidArgumentError(text));
}

void StreamLink::TrySendAbort(const std::string& text) {
  // Only at a message boundary: in the middle of a payload the peer would read the abort frame
  // as payload. Best effort: if it does not fit now, the peer sees the connection close instead.
  if (out_done_ != 0 || broken_) return;
  size_t bytes = std::min(text.size(), detail::kMaxAbortText);
  detail::FrameHeader header{detail::kAbortMagic, 0, 0, bytes};
  iovec iov[2] = {{&header, sizeof(header)}, {const_cast<char*>(text.data()), bytes}};
  (void)stream_->TryWritev(iov, 2);
}

void StreamLink::Fail(const Status& status) {
  if (broken_) return;
  TrySendAbort(status.message());
  (void)Break(status);
}

Status StreamLink::Break(Status status) {
  if (broken_) return error_;
  broken_ = true;
  error_ = status;
  COHORT_LOG(kInfo) << "link to " << peer_name() << " (" << stream_->kind()
                    << ") broken: " << status.ToString();
  stream_->Close();
  while (!sends_.empty()) {
    Request* request = sends_.front().request;
    sends_.pop_front();
    Complete(request, error_);
  }
  while (!recvs_.empty()) {
    Request* request = recvs_.front().request;
    recvs_.pop_front();
    Complete(request, error_);
  }
  return error_;
}

Status StreamLink::StreamError(const Status& status) const {
  if (status.code() == StatusCode::kUnavailable) {
    return UnavailableError("connection to " + peer_name() + " lost: " + status.message() +
                            " (did that rank exit or crash?)");
  }
  return Status(status.code(), "link to " + peer_name() + " (" + stream_->describe_peer() +
                                   ") failed: " + status.message());
}

}  // namespace cohort
