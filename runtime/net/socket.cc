#include "runtime/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "runtime/net/interface_select.h"

namespace cohort {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("bad address '" + text + "': " + why +
                           "; expected host:port or [ipv6]:port");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return bad("no port");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return bad("no host");
  unsigned long port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return bad("port is not a number");
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return bad("port above 65535");
  }
  return HostPort{host, static_cast<uint16_t>(port)};
}

Result<std::pair<UniqueFd, uint16_t>> Listen(const std::string& bind_host, uint16_t port,
                                             int backlog) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket()", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  std::string host = bind_host.empty() ? "0.0.0.0" : bind_host;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgumentError("cannot listen on '" + host + "': not an IPv4 address");
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus("bind(" + host + ":" + std::to_string(port) + ")", errno);
  }
  if (::listen(fd.get(), backlog) != 0) return ErrnoStatus("listen()", errno);
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoStatus("getsockname()", errno);
  }
  return std::make_pair(std::move(fd), ntohs(addr.sin_port));
}

namespace {

Result<sockaddr_in> Resolve(const HostPort& to) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(to.port);
  if (::inet_pton(AF_INET, to.host.c_str(), &addr.sin_addr) == 1) return addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(to.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return UnavailableError("cannot resolve host '" + to.host + "': " + ::gai_strerror(rc));
  }
  addr.sin_addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  return addr;
}

}  // namespace

Result<UniqueFd> Connect(const HostPort& to, Deadline deadline) {
  COHORT_ASSIGN_OR_RETURN(sockaddr_in addr, Resolve(to));
  auto backoff = std::chrono::milliseconds(1);
  while (true) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return ErrnoStatus("socket()", errno);
    int rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      pollfd p{fd.get(), POLLOUT, 0};
      int n = ::poll(&p, 1, deadline.remaining_ms());
      if (n == 0) break;
      socklen_t len = sizeof(err);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) {
      COHORT_RETURN_IF_ERROR(SetNonBlocking(fd.get(), false));
      return fd;
    }
    // Refused or unreachable now may be fine a moment later: the peer may still be starting.
    if (err != ECONNREFUSED && err != ETIMEDOUT && err != EHOSTUNREACH && err != ENETUNREACH &&
        err != ECONNRESET) {
      return ErrnoStatus("connect to " + to.ToString(), err);
    }
    if (deadline.expired()) return ErrnoStatus("connect to " + to.ToString(), err);
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
  }
  return DeadlineExceededError("connect to " + to.ToString() + " timed out; is the peer running and "
                          "reachable (firewall, COHORT_SOCKET_IFNAME)?");
}

Result<UniqueFd> Accept(int listen_fd, Deadline deadline) {
  pollfd p{listen_fd, POLLIN, 0};
  while (true) {
    int n = ::poll(&p, 1, deadline.remaining_ms());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("poll(accept)", errno);
    if (n == 0) return DeadlineExceededError("no incoming connection before the deadline");
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
      return ErrnoStatus("accept()", errno);
    }
  }
}

Status SetNonBlocking(int fd, bool nonblocking) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0) return ErrnoStatus("fcntl(F_GETFL)", errno);
  flags = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) != 0) return ErrnoStatus("fcntl(F_SETFL)", errno);
  return Status::Ok();
}

Status SetNoDelay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return ErrnoStatus("setsockopt(TCP_NODELAY)", errno);
  }
  return Status::Ok();
}

void SetBufferSizes(int fd, int bytes) {
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

namespace {
Status WaitFor(int fd, short events, Deadline deadline, const std::string& what) {
  pollfd p{fd, events, 0};
  while (true) {
    int n = ::poll(&p, 1, deadline.remaining_ms());
    if (n > 0) return Status::Ok();
    if (n == 0) return DeadlineExceededError("timed out waiting for " + what);
    if (errno != EINTR) return ErrnoStatus("poll on connection to " + what, errno);
  }
}
}  // namespace

Status WaitReadable(int fd, Deadline deadline, const std::string& what) {
  return WaitFor(fd, POLLIN, deadline, what);
}

Status WriteFull(int fd, const void* data, size_t bytes, Deadline deadline, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::send(fd, p, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      COHORT_RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline, what));
      continue;
    }
    return ErrnoStatus("send to " + what, errno);
  }
  return Status::Ok();
}

Status ReadFull(int fd, void* data, size_t bytes, Deadline deadline, const std::string& what) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    ssize_t n = ::recv(fd, p, bytes, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return UnavailableError("connection closed by " + what);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      COHORT_RETURN_IF_ERROR(WaitFor(fd, POLLIN, deadline, what));
      continue;
    }
    return ErrnoStatus("recv from " + what, errno);
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> ListInterfaces() {
  std::vector<std::pair<std::string, std::string>> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    if (!(it->ifa_flags & IFF_UP)) continue;
    char text[INET_ADDRSTRLEN] = {};
    auto* sin = reinterpret_cast<sockaddr_in*>(it->ifa_addr);
    ::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    out.emplace_back(it->ifa_name, text);
  }
  ::freeifaddrs(list);
  return out;
}

Result<std::string> ChooseLocalAddress(const std::string& ifname) {
  return SelectInterfaceAddress(ifname, ListInterfaces());
}

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace cohort
