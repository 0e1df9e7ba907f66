// TcpStream: non-blocking sendmsg/recvmsg on a connected socket (tcp_stream.h).
#include "runtime/transport/tcp_stream.h"

#include <sys/socket.h>

#include <cerrno>

namespace cohort {

namespace {

// Socket buffers large enough to keep a fast link busy between two Progress() calls; the kernel
// caps them at net.core.{w,r}mem_max.
constexpr int kSocketBufferBytes = 4 << 20;

class TcpStream final : public ByteStream {
 public:
  TcpStream(UniqueFd fd, std::string peer_address)
      : fd_(std::move(fd)), peer_address_(std::move(peer_address)) {}
  ~TcpStream() override = default;

  Result<size_t> TryWritev(const iovec* iov, int count) override {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<size_t>(count);
    while (true) {
      // MSG_NOSIGNAL: a closed peer is an EPIPE error here, not a SIGPIPE that kills the process.
      ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
      return ErrnoStatus("send to " + peer_address_, errno);
    }
  }

  Result<size_t> TryReadv(const iovec* iov, int count) override {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<size_t>(count);
    while (true) {
      ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) return UnavailableError("the peer closed the connection (" + peer_address_ + ")");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
      return ErrnoStatus("recv from " + peer_address_, errno);
    }
  }

  int poll_fd() const override { return closed_ ? -1 : fd_.get(); }
  void Close() override {
    if (closed_) return;
    closed_ = true;
    // shutdown (not close) so the fd number is not reused while someone may still poll it;
    // the peer sees end of stream at once.
    ::shutdown(fd_.get(), SHUT_RDWR);
  }
  std::string_view kind() const override { return "tcp"; }
  std::string describe_peer() const override { return "tcp " + peer_address_; }

 private:
  UniqueFd fd_;
  std::string peer_address_;
  bool closed_ = false;
};

}  // namespace

Result<std::unique_ptr<ByteStream>> MakeTcpStream(UniqueFd fd, std::string peer_address) {
  COHORT_RETURN_IF_ERROR(SetNonBlocking(fd.get(), true));
  COHORT_RETURN_IF_ERROR(SetNoDelay(fd.get()));
  SetBufferSizes(fd.get(), kSocketBufferBytes);
  return std::unique_ptr<ByteStream>(new TcpStream(std::move(fd), std::move(peer_address)));
}

}  // namespace cohort
