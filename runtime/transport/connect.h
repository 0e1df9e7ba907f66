// Link set-up: every rank of a communicator connects to every other rank through the store.
// Same host -> shm, otherwise tcp (or ucx between hosts with RDMA devices: ucx_plugin.h), unless
// config.transport forces one. shm set-up checks free space in /dev/shm and falls back to tcp
// with a warning when there is not enough. Ranks on one host that all reach each other over shm
// also get a NodeArena for the direct collectives.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/config/config.h"
#include "runtime/store/store.h"
#include "runtime/transport/link.h"
#include "runtime/transport/node_arena.h"

namespace cohort {

struct LinkSetup {
  int rank = 0;
  int size = 1;
  // Node index of every rank (same index: same host, so shm is possible).
  std::vector<int> node_of_rank;
  // Host name of every rank, for error messages ("rank 3 on node7").
  std::vector<std::string> host_of_rank;
  // A store namespace private to this communicator (a PrefixStore); keys written under it.
  std::shared_ptr<Store> store;
  // Unique per communicator in the job, part of shm segment names ("world", "world.split1.c0").
  std::string comm_name;
  Config config;
};

// What link set-up made for one rank.
struct Connections {
  // One Link per rank (nullptr at index `rank`).
  std::vector<std::unique_ptr<Link>> links;
  // The shared-memory arena of the ranks on this host, when every one of them is reached over
  // shm and config.shm_slot_bytes > 0; else null. Its ranks are this host's ranks in
  // communicator order: arena_ranks[i] is the communicator rank of arena rank i.
  std::unique_ptr<NodeArena> arena;
  std::vector<int> arena_ranks;
  // Shared memory this rank created (its ring segment and arena segment), in bytes.
  size_t shm_bytes = 0;
};

// Fails with an error naming the peer rank and host that could not be reached, within
// config.connect_timeout.
Result<Connections> ConnectLinks(const LinkSetup& setup);

// Removes shared-memory segments this job left in /dev/shm (names start with the job id);
// the launcher calls it at exit in case a rank crashed during set-up. Returns how many.
int RemoveJobSegments(const std::string& job_id);

}  // namespace cohort
