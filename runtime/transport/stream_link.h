// StreamLink: the one Link implementation, written over an abstract non-blocking ByteStream
// (tcp_stream.h, shm_stream.h). It frames each message with a fixed 24-byte header
// {magic, flags, tag, bytes} (64-bit sizes: messages above 2^31 bytes work), keeps FIFO queues of
// posted sends and receives, writes payload straight from the caller's buffer and reads payload
// straight into the posted receive buffer. Payload is never buffered inside the link: a header
// that arrives before its receive is posted is kept (24 bytes) and the stream is left unread.
//
// Errors: the first failure (peer gone, mismatch, garbage) breaks the link for good; every pending
// and future request completes with that error. A link broken by a protocol error (mismatch,
// garbage) tells the peer why with a short "abort" frame when its send side is at a message
// boundary, so both ranks print the same explanation.
//
// Threading: one thread at a time drives a StreamLink (link.h).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/link.h"

namespace cohort {

// A reliable, ordered, non-blocking byte stream to one peer.
class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Writes as many bytes of `iov` as fit now, in order; 0 when nothing fits. A failed Result
  // means the stream is broken (kUnavailable when the peer closed or vanished).
  virtual Result<size_t> TryWritev(const iovec* iov, int count) = 0;
  // Reads what is available now, up to the total size of `iov`; 0 when nothing is there yet.
  // End of stream (the peer closed) is a kUnavailable error, never 0.
  virtual Result<size_t> TryReadv(const iovec* iov, int count) = 0;

  Result<size_t> TryWrite(const void* data, size_t bytes) {
    iovec v{const_cast<void*>(data), bytes};
    return TryWritev(&v, 1);
  }
  Result<size_t> TryRead(void* data, size_t bytes) {
    iovec v{data, bytes};
    return TryReadv(&v, 1);
  }

  // A descriptor to poll() while waiting, or -1 (shm: nothing to poll).
  virtual int poll_fd() const { return -1; }
  // Checks, without blocking, that the peer still exists (shm: its pid).
  virtual Status CheckPeerAlive() { return Status::Ok(); }
  // Tells the peer that this side is gone (tcp: shutdown; shm: closed flags). Idempotent.
  virtual void Close() = 0;
  virtual std::string_view kind() const = 0;
  // "rank 3 (host node7)" style text is built by the link; this adds transport detail.
  virtual std::string describe_peer() const = 0;
};

namespace detail {

// A FIFO of trivially copyable items in a power-of-two ring that only ever grows: after warm-up,
// posting and completing requests allocates nothing (std::deque frees and reallocates blocks).
template <typename T>
class RingQueue {
 public:
  explicit RingQueue(size_t capacity = 64) : items_(RoundUp(capacity)) {}
  bool empty() const { return head_ == tail_; }
  size_t size() const { return tail_ - head_; }
  T& front() { return items_[head_ & (items_.size() - 1)]; }
  void push_back(const T& item) {
    if (size() == items_.size()) Grow();
    items_[tail_++ & (items_.size() - 1)] = item;
  }
  void pop_front() { ++head_; }

 private:
  static size_t RoundUp(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
  }
  void Grow() {
    std::vector<T> bigger(items_.size() * 2);
    for (size_t i = 0; i < size(); ++i) bigger[i] = items_[(head_ + i) & (items_.size() - 1)];
    tail_ = size();
    head_ = 0;
    items_.swap(bigger);
  }
  std::vector<T> items_;
  size_t head_ = 0;  // monotonically increasing positions; index = position & (capacity - 1)
  size_t tail_ = 0;
};

// The frame header, as it crosses the stream (native byte order; the magic catches a mismatch).
struct FrameHeader {
  uint32_t magic;
  uint32_t flags;  // 0 for a whole message; a piece of a striped one: stripe_plan.h
  uint64_t tag;
  uint64_t bytes;
};
static_assert(sizeof(FrameHeader) == 24);
inline constexpr uint32_t kFrameMagic = 0x4B4E4C43;  // "CLNK": a data message
inline constexpr uint32_t kAbortMagic = 0x54524241;  // "ABRT": the peer broke the link; text follows
inline constexpr size_t kMaxAbortText = 2048;

}  // namespace detail

class StreamLink final : public Link {
 public:
  // `peer_host` is used in error messages only.
  StreamLink(int peer, std::string peer_host, std::unique_ptr<ByteStream> stream);
  ~StreamLink() override;

  std::string_view kind() const override { return stream_->kind(); }
  int peer() const override { return peer_; }

  // Both return the link's error (and complete `request` with it) when the link is broken.
  Status PostSend(uint64_t tag, const void* data, size_t bytes, Request* request) override;
  Status PostRecv(uint64_t tag, void* data, size_t bytes, Request* request) override;
  // The same with frame flags (stripe_plan.h); a receive matches only a frame with equal flags.
  Status PostSendFrame(uint64_t tag, const void* data, size_t bytes, uint32_t flags,
                       Request* request);
  Status PostRecvFrame(uint64_t tag, void* data, size_t bytes, uint32_t flags, Request* request);
  Result<bool> Progress() override;
  bool busy() const override { return !sends_.empty() || !recvs_.empty(); }
  bool AppendPollFds(std::vector<pollfd>* fds) const override;
  Status CheckPeerAlive() override;
  void Close(const Status& why) override { Fail(why); }

  // Breaks the link from outside (a sibling stream of a StripedLink failed): tells the peer why
  // with an abort frame if the send side is at a message boundary, completes every pending
  // request with `status` and closes the stream. No-op once broken.
  void Fail(const Status& status);

  // "rank 3 (host node7)".
  std::string peer_name() const;
  const Status& error() const { return error_; }

 private:
  struct Op {
    uint64_t tag;
    char* data;
    size_t bytes;
    uint32_t flags;
    Request* request;
  };

  // Whether incoming bytes could make progress now (false while a received header waits for its
  // receive to be posted), and whether a send is blocked on a full stream.
  bool wants_read() const;
  bool wants_write() const { return send_blocked_ && !sends_.empty(); }

  Result<bool> ProgressSends();
  Result<bool> ProgressRecvs();
  // Matches the complete header in `in_header_` against the first posted receive.
  Status CheckHeader();
  // Breaks the link with `status`: completes every request, closes the stream.
  Status Break(Status status);
  // Turns a stream failure into the user-facing error naming the peer.
  Status StreamError(const Status& status) const;
  void TrySendAbort(const std::string& text);

  const int peer_;
  const std::string peer_host_;
  std::unique_ptr<ByteStream> stream_;

  // Queues a send or a receive (PostSend and PostRecv differ only in the queue).
  Status Post(detail::RingQueue<Op>& queue, const char* what, uint64_t tag, char* data,
              size_t bytes, uint32_t flags, Request* request);
  detail::RingQueue<Op> sends_;
  detail::RingQueue<Op> recvs_;

  detail::FrameHeader out_header_{};  // header of sends_.front(), built when it starts
  size_t out_done_ = 0;               // bytes of header + payload of sends_.front() written
  bool send_blocked_ = false;         // the last write found the stream full

  detail::FrameHeader in_header_{};
  size_t in_header_got_ = 0;  // bytes of in_header_ read so far
  bool in_matched_ = false;   // in_header_ was checked against recvs_.front()
  size_t in_payload_got_ = 0;  // payload bytes already in recvs_.front().data
  char abort_text_[detail::kMaxAbortText];  // text of an abort frame from the peer
  size_t abort_got_ = 0;

  bool broken_ = false;
  Status error_;
  // The peer closed its end while nothing was expected from it: normal at teardown. It becomes
  // an error only if this side then waits for something from that peer.
  Status peer_closed_;
};

}  // namespace cohort
