// CommPeerIo: the PeerIo that algorithms run on inside a communicator. It tags every message with
// the current operation (so ranks that call different collectives or counts fail with a mismatch
// instead of exchanging wrong bytes), waits through WaitForRequests, and bounds every wait: a
// peer that died, an abort (local, or from another rank / the launcher), or the deadline ends it
// with an error that names the operation, this rank and the peers still awaited. It hands
// algorithms this host's NodeArena (as a SharedArena whose waits follow the same rules): as
// arena() when the communicator's ranks all share this host, and as node_arena() (for the host
// phases of the hierarchical collectives) when they span hosts.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectives/peer_io.h"
#include "runtime/base/deadline.h"
#include "runtime/comm/fingerprint.h"
#include "runtime/comm/op_summary.h"
#include "runtime/transport/link.h"
#include "runtime/transport/link_waiter.h"
#include "runtime/transport/node_arena.h"

namespace cohort {

class CommPeerIo final : public PeerIo {
 public:
  // `arena` (may be null, not owned) spans this host's ranks in rank order; `node_of_rank`
  // (not owned) gives every rank's host index.
  CommPeerIo(int rank, int size, const std::vector<std::unique_ptr<Link>>* links,
             const std::vector<std::string>* host_of_rank, const std::vector<int>* node_of_rank,
             WaitHooks hooks, NodeArena* arena);

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Starts an operation: messages carry `tag`; waits fail after `timeout`; errors begin with
  // what.Describe() ("allreduce #12 (1048576 x f32 = 4194304 bytes, sum)").
  // `yield_for`: how long this operation's waits keep the CPU before sleeping (WaitHooks).
  void BeginOp(uint64_t tag, const OpSummary& what, std::chrono::milliseconds timeout,
               std::chrono::microseconds yield_for);

  Status Send(int peer, const void* data, size_t bytes) override;
  Status Recv(int peer, void* data, size_t bytes) override;
  Status WaitAll() override;
  SharedArena* arena() override { return arena_spans_world_ ? &arena_view_ : nullptr; }
  // The ranks the last operation still waited for when it timed out (empty otherwise).
  const std::vector<int>& awaited() const { return awaited_; }
  SharedArena* node_arena() override { return arena_ != nullptr ? &arena_view_ : nullptr; }
  std::span<const int> node_of_rank() const override { return *node_of_rank_; }

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
  // A wait that ran out: the timeout, what was still awaited, and what to check.
  Status TimedOut(const std::string& awaited);

  // The arena as algorithms see it: Sync bounded by this operation's deadline and hooks.
  class ArenaView final : public SharedArena {
   public:
    explicit ArenaView(CommPeerIo* io) : io_(io) {}
    int rank() const override { return io_->arena_->rank(); }
    int size() const override { return io_->arena_->size(); }
    size_t slot_bytes() const override { return io_->arena_->slot_bytes(); }
    uint64_t next_step() const override { return io_->arena_->next_step(); }
    std::byte* slot(int r, uint64_t step) const override { return io_->arena_->slot(r, step); }
    Status Sync() override;
    size_t express_bytes() const override { return NodeArena::kExpressBytes; }
    Status Express(const void* mine, size_t bytes, std::byte* all) override;

   private:
    CommPeerIo* io_;
  };

  int rank_;
  int size_;
  std::vector<Link*> links_;  // index = peer rank; null for this rank
  const std::vector<std::string>* host_of_rank_;
  const std::vector<int>* node_of_rank_;
  WaitHooks hooks_;

  NodeArena* arena_ = nullptr;
  bool arena_spans_world_ = false;
  ArenaView arena_view_{this};
  // The arena's call check (node_arena.h): this operation's first Sync compares every rank's
  // announced call; `calls_` holds them (sized once, so the check allocates nothing).
  std::vector<int> awaited_;
  bool check_calls_ = false;
  uint64_t first_step_ = 0;
  Fingerprint call_;
  std::vector<Fingerprint> calls_;
  // After an arena step: compares everyone's records in calls_ (a mismatch wins over `status`),
  // and adds the operation and timeout context to a failure.
  Status FinishArenaStep(Status status);

  uint64_t tag_ = 0;
  OpSummary what_;
  std::optional<Deadline> deadline_;  // of this operation's link waits, from the first one
  // The operation's deadline for link waits, fixed at the first.
  Deadline LinkDeadline();
  std::chrono::milliseconds timeout_{0};
  // deque: Request objects must not move while links hold pointers to them.
  std::deque<Pending> pending_;
  std::vector<Request*> waiting_;
};

}  // namespace cohort
