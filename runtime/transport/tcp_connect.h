// Authenticated tcp link set-up, used by ConnectLinks (connect.h). The higher rank of a pair
// connects to the lower one's listener; the first bytes on the socket are the job-secret handshake
// (auth.h, purpose "tcp-link"), then a hello carrying the connector's rank, the world size, and
// which of how many sockets per pair this is (COHORT_SOCKET_NSTREAMS), then a one-byte
// acknowledgement. The acceptor takes only ranks it expects, each stream once; anyone else (wrong
// secret, unexpected rank or stream, garbage) is refused and logged without disturbing set-up. A
// peer that uses another stream count is told this rank's count, and both sides fail at once
// with an error naming both values: the job cannot work until every rank uses the same one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/base/status.h"
#include "runtime/net/socket.h"

namespace cohort {

// Accepts connections on a listening socket in a background thread, one handshake thread per
// connection (a silent stranger cannot hold up real peers). Destruction stops and joins them all.
class TcpAcceptor {
 public:
  // `expected[r]`: whether rank r should connect to this rank, with `nstreams` sockets.
  TcpAcceptor(UniqueFd listen_fd, int rank, int size, std::vector<bool> expected, int nstreams,
              std::string secret, Deadline deadline);
  ~TcpAcceptor();
  TcpAcceptor(const TcpAcceptor&) = delete;
  TcpAcceptor& operator=(const TcpAcceptor&) = delete;

  // Waits until every stream of every expected rank has connected; returns their sockets and
  // addresses, indexed [rank][stream]. On timeout, the error lists the ranks that never arrived;
  // a peer with another stream count fails it at once.
  Status WaitAll(const std::vector<std::string>& rank_names,
                 std::vector<std::vector<UniqueFd>>* sockets,
                 std::vector<std::vector<std::string>>* addresses);

 private:
  void AcceptLoop();
  void Handshake(UniqueFd fd, std::string address);

  UniqueFd listen_fd_;
  const int rank_;
  const int size_;
  const int nstreams_;
  const std::string secret_;
  const Deadline deadline_;

  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::vector<bool>> expected_;          // [rank][stream], cleared as streams arrive
  std::vector<std::vector<UniqueFd>> sockets_;       // [rank][stream]
  std::vector<std::vector<std::string>> addresses_;  // [rank][stream]
  int missing_ = 0;
  Status fatal_;  // a peer that can never connect (another COHORT_SOCKET_NSTREAMS)
  std::set<int> handshaking_fds_;       // shut down on stop so their threads return at once
  std::vector<std::thread> handshakes_;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
};

// Connects to the peer listening at `address`, authenticates and introduces this rank as the
// `stream`-th of `nstreams` sockets. `peer_name` ("rank 3 (host node7)") is used in errors.
Result<UniqueFd> ConnectTcpPeer(const std::string& address, int rank, int size, int stream,
                                int nstreams, const std::string& secret, Deadline deadline,
                                const std::string& peer_name);

// "10.0.0.2:41234" of a connected socket's other end.
std::string SocketPeerAddress(int fd);

namespace detail {

// The hello a connecting rank sends after the handshake, as it crosses the wire (native byte
// order: every rank of a job runs the same build).
struct TcpHello {
  uint32_t magic;
  int32_t rank;
  int32_t size;
  // (stream count - 1) << 16 | stream index: 0 for the only socket of a pair, as before streams.
  uint32_t streams;
};
static_assert(sizeof(TcpHello) == 16);
inline constexpr uint32_t kTcpHelloMagic = 0x4F4C4548;  // "HELO"

TcpHello MakeTcpHello(int rank, int size, int stream, int nstreams);

// What an acceptor makes of the hello bytes a connection sent: the [rank][stream] slot it takes,
// or why it is refused (`other_stream_count`: the connector uses another stream count, which
// fails set-up on both sides at once).
struct TcpHelloVerdict {
  Status status;
  bool other_stream_count = false;
  size_t rank = 0;
  size_t stream = 0;
  int nstreams = 0;  // the connector's stream count
};

// Decodes `count` bytes of hello from `address` (anything but sizeof(TcpHello) bytes is refused)
// and checks them against an acceptor of a `size`-rank world with `nstreams` sockets per pair that
// still waits for the slots set in `expected[rank][stream]`. Pure: the caller reserves the slot.
TcpHelloVerdict DecodeTcpHello(const uint8_t* bytes, size_t count, const std::string& address,
                               int size, int nstreams,
                               const std::vector<std::vector<bool>>& expected);

}  // namespace detail

}  // namespace cohort
