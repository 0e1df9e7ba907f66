// Authenticated tcp link set-up: acceptor threads and the connecting side (tcp_connect.h).
#include "runtime/transport/tcp_connect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "runtime/base/logging.h"
#include "runtime/store/auth.h"

namespace cohort {

namespace {

constexpr char kPurpose[] = "tcp-link";
constexpr uint8_t kAccepted = 1;
// Refused because the connector uses another stream count; 4 bytes follow, the first holding the
// acceptor's count (at most 64).
constexpr uint8_t kOtherStreamCount = 2;

std::string StreamCountMismatch(const std::string& who, int theirs, int mine) {
  return who + " uses COHORT_SOCKET_NSTREAMS=" + std::to_string(theirs) + " but this rank uses " +
         std::to_string(mine) + "; every rank must use the same number of tcp sockets per peer: "
         "set COHORT_SOCKET_NSTREAMS to one value for the whole job";
}

}  // namespace

namespace detail {

TcpHello MakeTcpHello(int rank, int size, int stream, int nstreams) {
  return TcpHello{kTcpHelloMagic, rank, size,
                  (static_cast<uint32_t>(nstreams - 1) << 16) | static_cast<uint32_t>(stream)};
}

TcpHelloVerdict DecodeTcpHello(const uint8_t* bytes, size_t count, const std::string& address,
                               int size, int nstreams,
                               const std::vector<std::vector<bool>>& expected) {
  TcpHelloVerdict verdict;
  TcpHello hello{};
  if (count != sizeof(hello)) {
    verdict.status = InvalidArgumentError("bad hello from " + address);
    return verdict;
  }
  std::memcpy(&hello, bytes, sizeof(hello));
  verdict.rank = static_cast<size_t>(hello.rank);
  verdict.stream = hello.streams & 0xffff;
  verdict.nstreams = static_cast<int>(hello.streams >> 16) + 1;
  if (hello.magic != kTcpHelloMagic) {
    verdict.status = InvalidArgumentError("bad hello from " + address);
  } else if (hello.size != size) {
    verdict.status = InvalidArgumentError(address + " says the world has " +
                                          std::to_string(hello.size) + " ranks, this rank has " +
                                          std::to_string(size));
  } else if (hello.rank < 0 || hello.rank >= size || verdict.rank >= expected.size() ||
             expected[verdict.rank].empty()) {
    verdict.status = InvalidArgumentError(address + " claims to be rank " +
                                          std::to_string(hello.rank) +
                                          ", which is not expected to connect here");
  } else if (verdict.nstreams != nstreams) {
    // An authenticated rank of this job that can never connect: fail set-up now rather than
    // at the connect timeout, on both sides.
    verdict.other_stream_count = true;
    verdict.status = InvalidArgumentError(StreamCountMismatch(
        "rank " + std::to_string(hello.rank) + " (" + address + ")", verdict.nstreams, nstreams));
  } else if (verdict.stream >= expected[verdict.rank].size() ||
             !expected[verdict.rank][verdict.stream]) {
    verdict.status = InvalidArgumentError(
        address + " claims to be tcp stream " + std::to_string(verdict.stream) + " of rank " +
        std::to_string(hello.rank) + ", which is not expected (or already connected)");
  }
  return verdict;
}

}  // namespace detail

std::string SocketPeerAddress(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sin_family != AF_INET) {
    return "unknown address";
  }
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(ntohs(addr.sin_port));
}

TcpAcceptor::TcpAcceptor(UniqueFd listen_fd, int rank, int size, std::vector<bool> expected,
                         int nstreams, std::string secret, Deadline deadline)
    : listen_fd_(std::move(listen_fd)),
      rank_(rank),
      size_(size),
      nstreams_(nstreams),
      secret_(std::move(secret)),
      deadline_(deadline),
      expected_(static_cast<size_t>(size)),
      sockets_(static_cast<size_t>(size)),
      addresses_(static_cast<size_t>(size)) {
  for (size_t r = 0; r < expected.size() && r < expected_.size(); ++r) {
    if (!expected[r]) continue;
    expected_[r].assign(static_cast<size_t>(nstreams), true);
    sockets_[r].resize(static_cast<size_t>(nstreams));
    addresses_[r].resize(static_cast<size_t>(nstreams));
    missing_ += nstreams;
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TcpAcceptor::~TcpAcceptor() {
  stop_.store(true);
  // Wakes the accept thread's poll() at once (Linux reports a shut-down listener as ready).
  ::shutdown(listen_fd_.get(), SHUT_RDWR);
  accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int fd : handshaking_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& thread : handshakes_) thread.join();
}

void TcpAcceptor::AcceptLoop() {
  while (!stop_.load() && !deadline_.expired()) {
    // Short slices so that stop_ is noticed quickly.
    Result<UniqueFd> fd = Accept(listen_fd_.get(),
                                 Deadline::After(std::chrono::milliseconds(50)).Earlier(deadline_));
    if (!fd.ok()) {
      if (stop_.load()) break;  // the destructor shut the listener down
      if (fd.status().code() != StatusCode::kDeadlineExceeded) {
        COHORT_LOG(kWarn) << "rank " << rank_ << ": accepting tcp links: " << fd.status().ToString();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // e.g. EMFILE: do not spin
      }
      continue;
    }
    std::string address = SocketPeerAddress(fd->get());
    std::lock_guard<std::mutex> lock(mutex_);
    handshaking_fds_.insert(fd->get());
    handshakes_.emplace_back(
        [this, f = std::move(*fd), address]() mutable { Handshake(std::move(f), address); });
  }
}

void TcpAcceptor::Handshake(UniqueFd fd, std::string address) {
  const std::string what = "incoming connection from " + address;
  Status status = AuthenticateAsServer(fd.get(), secret_, kPurpose, deadline_, what);
  uint8_t hello[sizeof(detail::TcpHello)] = {};
  if (status.ok()) status = ReadFull(fd.get(), hello, sizeof(hello), deadline_, what);
  detail::TcpHelloVerdict verdict;
  if (status.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    verdict = detail::DecodeTcpHello(hello, sizeof(hello), address, size_, nstreams_, expected_);
    status = verdict.status;
    // Reserve the slot before acking.
    if (status.ok()) expected_[verdict.rank][verdict.stream] = false;
  }
  const bool other_count = verdict.other_stream_count;
  const size_t rank = verdict.rank;
  const size_t stream = verdict.stream;
  if (other_count) {
    // The reason goes out before WaitAll learns of it: once it has, the acceptor may be torn down,
    // shutting this socket, and the peer would see a bare close instead of why.
    const uint8_t reply[5] = {kOtherStreamCount, static_cast<uint8_t>(nstreams_), 0, 0, 0};
    (void)WriteFull(fd.get(), reply, sizeof(reply), deadline_, what);
    std::lock_guard<std::mutex> lock(mutex_);
    if (fatal_.ok()) fatal_ = status;
    arrived_.notify_all();
  }
  if (status.ok()) {
    status = WriteFull(fd.get(), &kAccepted, 1, deadline_, what);
    std::lock_guard<std::mutex> lock(mutex_);
    handshaking_fds_.erase(fd.get());
    if (status.ok()) {
      sockets_[rank][stream] = std::move(fd);
      addresses_[rank][stream] = address;
      --missing_;
      arrived_.notify_all();
    } else {
      expected_[rank][stream] = true;  // it may try again
    }
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  handshaking_fds_.erase(fd.get());
  if (!stop_.load()) {
    COHORT_LOG(kWarn) << "rank " << rank_ << ": refused a tcp link connection from " << address
                      << ": " << status.ToString();
  }
}

Status TcpAcceptor::WaitAll(const std::vector<std::string>& rank_names,
                            std::vector<std::vector<UniqueFd>>* sockets,
                            std::vector<std::vector<std::string>>* addresses) {
  std::unique_lock<std::mutex> lock(mutex_);
  arrived_.wait_until(lock, deadline_.at(), [this] { return missing_ == 0 || !fatal_.ok(); });
  if (!fatal_.ok()) return fatal_;
  if (missing_ > 0) {
    std::string who;
    for (size_t r = 0; r < expected_.size(); ++r) {
      const auto& streams = expected_[r];
      const auto left = std::count(streams.begin(), streams.end(), true);
      if (left == 0) continue;
      who += (who.empty() ? "" : ", ") + rank_names[r];
      if (nstreams_ > 1) {
        who += " (" + std::to_string(left) + " of " + std::to_string(nstreams_) + " streams)";
      }
    }
    return DeadlineExceededError("no tcp link from " + who +
                                 " within the connect timeout (COHORT_CONNECT_TIMEOUT); is it "
                                 "running, can it reach this host, and does it use the same "
                                 "job secret?");
  }
  for (size_t r = 0; r < sockets_.size(); ++r) {
    (*sockets)[r] = std::move(sockets_[r]);
    (*addresses)[r] = addresses_[r];
  }
  return Status::Ok();
}

Result<UniqueFd> ConnectTcpPeer(const std::string& address, int rank, int size, int stream,
                                int nstreams, const std::string& secret, Deadline deadline,
                                const std::string& peer_name) {
  const std::string what = peer_name + " at " + address;
  auto context = [&](const Status& s) {
    return s.WithContext("cannot open a tcp link to " + what + ": ");
  };
  Result<HostPort> to = ParseHostPort(address);
  if (!to.ok()) return context(to.status());
  Result<UniqueFd> fd = Connect(*to, deadline);
  if (!fd.ok()) return context(fd.status());
  Status status = AuthenticateAsClient(fd->get(), secret, kPurpose, deadline, what);
  const detail::TcpHello hello = detail::MakeTcpHello(rank, size, stream, nstreams);
  if (status.ok()) status = WriteFull(fd->get(), &hello, sizeof(hello), deadline, what);
  uint8_t ack = 0;
  if (status.ok()) status = ReadFull(fd->get(), &ack, 1, deadline, what);
  if (status.ok() && ack == kOtherStreamCount) {
    uint8_t theirs[4] = {};
    status = ReadFull(fd->get(), theirs, sizeof(theirs), deadline, what);
    if (status.ok()) return InvalidArgumentError(StreamCountMismatch(peer_name, theirs[0], nstreams));
  }
  if (status.ok() && ack != kAccepted) status = UnavailableError("unexpected reply");
  if (!status.ok()) {
    if (status.code() == StatusCode::kUnavailable) {
      status = UnavailableError(status.message() + " (the peer refused this rank; see its log)");
    }
    return context(status);
  }
  return std::move(*fd);
}

}  // namespace cohort
