// CommPeerIo: the PeerIo that algorithms run on inside a communicator. It tags every message with
// the current operation (so ranks that call different collectives or counts fail with a mismatch
// instead of exchanging wrong bytes), waits through WaitForRequests, and bounds every wait: a
// peer that died, an abort (local, or from another rank / the launcher), or the deadline ends it
// with an error that names the operation, this rank and the peers still awaited.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "collectives/peer_io.h"
#include "runtime/base/deadline.h"
#include "runtime/transport/link.h"
#include "runtime/transport/link_waiter.h"

namespace cohort {

class CommPeerIo final : public PeerIo {
 public:
  CommPeerIo(int rank, int size, const std::vector<std::unique_ptr<Link>>* links,
             const std::vector<std::string>* host_of_rank, WaitHooks hooks);

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Starts an operation: messages carry `tag`; waits fail after `timeout`; errors begin with
  // `description` ("allreduce #12 (4194304 bytes f32 sum)").
  void BeginOp(uint64_t tag, std::string description, std::chrono::milliseconds timeout);

  Status Send(int peer, const void* data, size_t bytes) override;
  Status Recv(int peer, void* data, size_t bytes) override;
  Status WaitAll() override;

 private:
  struct Pending {
    int peer;
    bool is_send;
    size_t bytes;
    Request request;
  };
  Status Post(int peer, bool is_send, void* data, size_t bytes);
  std::string DescribePeer(int peer) const;
  std::string DescribePending() const;
  Status Fail(const Status& cause) const;

  int rank_;
  int size_;
  std::vector<Link*> links_;  // index = peer rank; null for this rank
  const std::vector<std::string>* host_of_rank_;
  WaitHooks hooks_;

  uint64_t tag_ = 0;
  std::string description_;
  Deadline deadline_ = Deadline::Never();
  std::chrono::milliseconds timeout_{0};
  // deque: Request objects must not move while links hold pointers to them.
  std::deque<Pending> pending_;
  std::vector<Request*> waiting_;
};

}  // namespace cohort
