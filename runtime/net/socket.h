// Thin, failure-reporting wrappers over POSIX TCP sockets, shared by the store and the tcp
// transport: an owning fd, listen on port 0, connect with a deadline, full reads and writes
// with a deadline, and interface address lookup for COHORT_SOCKET_IFNAME.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/base/status.h"

namespace cohort {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // "host:port" ("[v6]:port" for IPv6 literals)
};
// Parses "host:port" or "[v6addr]:port"; errors name the text and the expected form.
Result<HostPort> ParseHostPort(const std::string& text);

// A listening socket bound to `bind_host` (an address; "" or "0.0.0.0" for all) on `port`
// (0: the kernel picks a free one). Returns the fd and the bound port.
Result<std::pair<UniqueFd, uint16_t>> Listen(const std::string& bind_host, uint16_t port,
                                             int backlog = 128);

// Connects to `to`, retrying refused connections until `deadline` (peers may not listen yet).
Result<UniqueFd> Connect(const HostPort& to, Deadline deadline);

// Accepts one connection, waiting until `deadline`; the new fd is blocking.
Result<UniqueFd> Accept(int listen_fd, Deadline deadline);

Status SetNonBlocking(int fd, bool nonblocking);
Status SetNoDelay(int fd);
// Sets SO_SNDBUF/SO_RCVBUF (best effort; the kernel may cap them).
void SetBufferSizes(int fd, int bytes);

// Writes/reads exactly `bytes`, polling until `deadline`. A closed peer is kUnavailable;
// `what` names the other side in errors ("store at 10.0.0.1:29500").
Status WriteFull(int fd, const void* data, size_t bytes, Deadline deadline, const std::string& what);
Status ReadFull(int fd, void* data, size_t bytes, Deadline deadline, const std::string& what);

// Waits until fd is readable (or writable); kDeadlineExceeded on timeout.
Status WaitReadable(int fd, Deadline deadline, const std::string& what);

// Names and IPv4 addresses of the interfaces that are up.
std::vector<std::pair<std::string, std::string>> ListInterfaces();
// The address this host is reached at by peers, chosen among ListInterfaces() by `ifname`, the
// value of COHORT_SOCKET_IFNAME: a name, prefixes, exclusions or a subnet (interface_select.h);
// empty: the first non-loopback interface that is up, else 127.0.0.1.
Result<std::string> ChooseLocalAddress(const std::string& ifname);
std::string Hostname();

}  // namespace cohort
