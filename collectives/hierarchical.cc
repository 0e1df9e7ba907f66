// Hierarchical allreduce, broadcast and allgather (hierarchical.h).
#include "collectives/hierarchical.h"

#include <algorithm>
#include <vector>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/selector.h"

namespace cohort {

SubgroupIo::SubgroupIo(PeerIo& parent, std::span<const int> members, SharedArena* arena)
    : parent_(parent), members_(members),
      arena_(arena != nullptr && arena->size() == static_cast<int>(members.size()) ? arena : nullptr) {
  auto it = std::find(members_.begin(), members_.end(), parent.rank());
  if (it != members_.end()) rank_ = static_cast<int>(it - members_.begin());
}

Status SubgroupIo::Send(int peer, const void* data, size_t bytes) {
  if (peer < 0 || peer >= size()) return InternalError("subgroup send to invalid peer " + std::to_string(peer));
  return parent_.Send(members_[static_cast<size_t>(peer)], data, bytes);
}

Status SubgroupIo::Recv(int peer, void* data, size_t bytes) {
  if (peer < 0 || peer >= size()) return InternalError("subgroup receive from invalid peer " + std::to_string(peer));
  return parent_.Recv(members_[static_cast<size_t>(peer)], data, bytes);
}

World WorldOf(PeerIo& io) {
  World world{io.size(), io.arena()};
  std::span<const int> node = io.node_of_rank();
  if (node.size() != static_cast<size_t>(io.size()) || io.size() < 2) return world;
  const int nodes = *std::max_element(node.begin(), node.end()) + 1;
  world.num_nodes = nodes;
  // Ranks per node: dense node indices 0..nodes-1 (topology.h numbers them so).
  thread_local std::vector<int> per_node;
  per_node.assign(static_cast<size_t>(nodes), 0);
  for (int n : node) {
    if (n < 0) return World{io.size(), io.arena()};
    ++per_node[static_cast<size_t>(n)];
  }
  world.some_node_shared = std::any_of(per_node.begin(), per_node.end(), [](int c) { return c > 1; });
  if (io.size() % nodes == 0) {
    const int per = io.size() / nodes;
    bool blocks = true;
    for (int r = 0; r < io.size() && blocks; ++r) blocks = node[static_cast<size_t>(r)] == r / per;
    world.nodes_uniform_blocks = blocks;
  }
  return world;
}

bool HierarchicalSupports(const CollectiveArgs&, const World& world) {
  return world.num_nodes > 1 && world.some_node_shared;
}

bool HierarchicalAllgatherSupports(const CollectiveArgs& args, const World& world) {
  return HierarchicalSupports(args, world) && world.nodes_uniform_blocks;
}

namespace {

// This call's groups: the ranks on this rank's host (ascending) and one leader per host (by node
// index). Grow-only thread-local storage: nothing is allocated once warm.
struct Groups {
  std::vector<int> local;
  std::vector<int> leaders;
  bool leader = false;     // this rank is in `leaders`
  int local_leader = 0;    // index in `local` of this host's leader
  int root_leader = 0;     // index in `leaders` of the root's host (broadcast)
};

// `root` >= 0: the root leads its own host (broadcast); otherwise each host's lowest rank does.
Groups& GroupsOf(PeerIo& io, int root) {
  thread_local Groups g;
  std::span<const int> node = io.node_of_rank();
  const int me = io.rank();
  const int nodes = *std::max_element(node.begin(), node.end()) + 1;
  g.local.clear();
  g.leaders.assign(static_cast<size_t>(nodes), -1);
  for (int r = 0; r < io.size(); ++r) {
    const int n = node[static_cast<size_t>(r)];
    if (n == node[static_cast<size_t>(me)]) g.local.push_back(r);
    if (g.leaders[static_cast<size_t>(n)] < 0) g.leaders[static_cast<size_t>(n)] = r;
  }
  if (root >= 0) {
    g.root_leader = node[static_cast<size_t>(root)];
    g.leaders[static_cast<size_t>(g.root_leader)] = root;
  }
  const int my_leader = g.leaders[static_cast<size_t>(node[static_cast<size_t>(me)])];
  g.leader = my_leader == me;
  g.local_leader = static_cast<int>(std::find(g.local.begin(), g.local.end(), my_leader) - g.local.begin());
  return g;
}

// One phase: `args` as an ordinary collective on the subgroup, algorithm chosen automatically.
Status Phase(PeerIo& io, std::span<const int> members, SharedArena* arena,
             const CollectiveArgs& args, Workspace& ws) {
  SubgroupIo sub(io, members, arena);
  if (sub.rank() < 0) return InternalError("hierarchical collective: this rank is not in its own group");
  return RunCollective(sub, args, ws, "auto", nullptr);
}

CollectiveArgs InPlaceBroadcast(const CollectiveArgs& args, void* data, size_t count, int root) {
  CollectiveArgs out = args;
  out.kind = CollectiveKind::kBroadcast;
  out.send = data;
  out.recv = data;
  out.count = count;
  out.root = root;
  return out;
}

}  // namespace

Status HierarchicalAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  Groups& g = GroupsOf(io, -1);
  // Sums throughout; avg is one scaling by the leaders at the end (hosts may differ in size).
  const ReduceOp op = args.op == ReduceOp::kAvg ? ReduceOp::kSum : args.op;
  CollectiveArgs reduce = args;
  reduce.kind = CollectiveKind::kReduce;
  reduce.op = op;
  reduce.root = g.local_leader;
  COHORT_RETURN_IF_ERROR(Phase(io, g.local, io.node_arena(), reduce, ws));
  if (g.leader) {
    CollectiveArgs across = args;
    across.send = args.recv;
    across.op = op;
    COHORT_RETURN_IF_ERROR(Phase(io, g.leaders, nullptr, across, ws));
    detail::ApplyAverage(args, io.size(), args.recv, args.count);
  }
  return Phase(io, g.local, io.node_arena(), InPlaceBroadcast(args, args.recv, args.count, g.local_leader), ws);
}

Status HierarchicalBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  Groups& g = GroupsOf(io, args.root);
  if (g.leader) {
    CollectiveArgs across = args;
    across.root = g.root_leader;
    COHORT_RETURN_IF_ERROR(Phase(io, g.leaders, nullptr, across, ws));
    // The root's own receive buffer may still be empty (out of place): the host phase sends it.
    if (io.rank() == args.root) {
      detail::CopyIfDistinct(args.recv, args.send, args.count * args.element_bytes());
    }
  }
  return Phase(io, g.local, io.node_arena(), InPlaceBroadcast(args, args.recv, args.count, g.local_leader), ws);
}

Status HierarchicalAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  Groups& g = GroupsOf(io, -1);
  const size_t per_node = g.local.size();
  const size_t node = static_cast<size_t>(io.rank()) / per_node;
  const size_t block_bytes = per_node * args.count * args.element_bytes();
  std::byte* host_block = detail::ElementPtr(args.recv, node * per_node * args.count, args.element_bytes());
  CollectiveArgs inside = args;
  inside.recv = host_block;
  COHORT_RETURN_IF_ERROR(Phase(io, g.local, io.node_arena(), inside, ws));
  if (g.leader) {
    CollectiveArgs across = args;
    across.send = host_block;  // in place: this host's block sits at its index
    across.count = block_bytes / args.element_bytes();
    COHORT_RETURN_IF_ERROR(Phase(io, g.leaders, nullptr, across, ws));
  }
  return Phase(io, g.local, io.node_arena(),
               InPlaceBroadcast(args, args.recv, args.count * static_cast<size_t>(io.size()), 0), ws);
}

}  // namespace cohort
