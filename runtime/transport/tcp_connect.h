// Authenticated tcp link set-up, used by ConnectLinks (connect.h). The higher rank of a pair
// connects to the lower one's listener; the first bytes on the socket are the job-secret handshake
// (auth.h, purpose "tcp-link"), then a hello carrying the connector's rank and the world size,
// then a one-byte acknowledgement. The acceptor takes only ranks it expects, once each; anyone
// else (wrong secret, unexpected rank, garbage) is refused and logged without disturbing set-up.
#pragma once

#include <atomic>
#include <condition_variable>
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
  // `expected[r]`: whether rank r should connect to this rank. `names[r]` names rank r in logs.
  TcpAcceptor(UniqueFd listen_fd, int rank, int size, std::vector<bool> expected,
              std::string secret, Deadline deadline);
  ~TcpAcceptor();
  TcpAcceptor(const TcpAcceptor&) = delete;
  TcpAcceptor& operator=(const TcpAcceptor&) = delete;

  // Waits until every expected rank has connected; returns their sockets (indexed by rank) and
  // their addresses. On timeout, the error lists the ranks that never arrived.
  Status WaitAll(const std::vector<std::string>& rank_names, std::vector<UniqueFd>* sockets,
                 std::vector<std::string>* addresses);

 private:
  void AcceptLoop();
  void Handshake(UniqueFd fd, std::string address);

  UniqueFd listen_fd_;
  const int rank_;
  const int size_;
  const std::string secret_;
  const Deadline deadline_;

  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<bool> expected_;          // cleared as ranks arrive
  std::vector<UniqueFd> sockets_;       // by rank
  std::vector<std::string> addresses_;  // by rank
  int missing_ = 0;
  std::set<int> handshaking_fds_;       // shut down on stop so their threads return at once
  std::vector<std::thread> handshakes_;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
};

// Connects to rank `peer` listening at `address`, authenticates and introduces this rank.
// `peer_name` ("rank 3 (host node7)") is used in errors.
Result<UniqueFd> ConnectTcpPeer(const std::string& address, int rank, int size,
                                const std::string& secret, Deadline deadline,
                                const std::string& peer_name);

// "10.0.0.2:41234" of a connected socket's other end.
std::string SocketPeerAddress(int fd);

}  // namespace cohort
