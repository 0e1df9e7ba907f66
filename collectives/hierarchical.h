// Hierarchical collectives for worlds that span hosts (PeerIo::node_of_rank): the ranks of each
// host work together through shared memory (the host's arena when there is one, else its shm
// links), and only one rank per host (its "leader") crosses the network:
//   allreduce  reduce to the host's lowest rank, allreduce among those leaders, broadcast back
//              inside each host (op avg: sums, and the leaders scale once by 1 / world size)
//   broadcast  the root and the lowest rank of every other host broadcast across hosts, then
//              each broadcasts inside its host
//   allgather  allgather inside each host, allgather of whole host blocks among the leaders,
//              broadcast of the result inside each host; needs every host to hold the same number
//              of consecutive ranks (as cohortrun -H places them)
// Each phase is an ordinary collective on a subgroup (SubgroupIo), chosen by the selector, so a
// host's phase runs the direct shared-memory algorithms and the leaders' phase the best network
// algorithm for their number.
#pragma once

#include <span>

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

// A PeerIo over some ranks of another: subgroup rank i is parent rank members[i]. Messages go
// through the parent (same links, same operation tag); `arena` (may be null) must hold exactly
// these ranks in this order.
class SubgroupIo final : public PeerIo {
 public:
  SubgroupIo(PeerIo& parent, std::span<const int> members, SharedArena* arena);
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(members_.size()); }
  Status Send(int peer, const void* data, size_t bytes) override;
  Status Recv(int peer, void* data, size_t bytes) override;
  Status WaitAll() override { return parent_.WaitAll(); }
  SharedArena* arena() override { return arena_; }

 private:
  PeerIo& parent_;
  std::span<const int> members_;
  SharedArena* arena_;
  int rank_ = -1;  // -1: the parent's rank is not a member (a bug of the caller)
};

// The world as the selector sees it, node layout included (collective_args.h).
World WorldOf(PeerIo& io);

bool HierarchicalSupports(const CollectiveArgs& args, const World& world);
bool HierarchicalAllgatherSupports(const CollectiveArgs& args, const World& world);

Status HierarchicalAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status HierarchicalBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status HierarchicalAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
