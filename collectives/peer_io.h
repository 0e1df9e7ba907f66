// PeerIo: all an algorithm knows of the world. Posts non-blocking sends and receives to ranks of
// the communicator and waits for them; whether bytes cross shared memory or TCP is invisible here.
// Messages between two ranks match in posting order per direction (see runtime/transport/link.h).
// When every rank of the communicator shares one host, it also offers a SharedArena through
// which the direct algorithms (shm_*.cc) read each other's data without messages.
#pragma once

#include <cstddef>
#include <span>

#include "collectives/shared_arena.h"
#include "runtime/base/status.h"

namespace cohort {

class PeerIo {
 public:
  virtual ~PeerIo() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Post a send / receive of `bytes` to / from `peer`. The buffer must stay valid and untouched
  // until a WaitAll that follows returns. Zero-byte messages are legal and still matched.
  virtual Status Send(int peer, const void* data, size_t bytes) = 0;
  virtual Status Recv(int peer, void* data, size_t bytes) = 0;

  // Waits for every request posted since the last WaitAll. Fails (naming the peer) if a peer
  // died, sent something that does not match, or the communicator's timeout passed.
  virtual Status WaitAll() = 0;

  // The arena of all ranks of this world (arena rank == rank), or null when some rank is on
  // another host or shared memory is off.
  virtual SharedArena* arena() { return nullptr; }

  // Which host ("node") each rank is on, indexed by rank (equal values: same host); empty when
  // unknown. The hierarchical algorithms split the world by it.
  virtual std::span<const int> node_of_rank() const { return {}; }
  // The arena of this rank's host alone: its ranks in rank order (arena rank i is the i-th
  // lowest rank on this host), or null. Equal to arena() when the world is one host.
  virtual SharedArena* node_arena() { return arena(); }
};

}  // namespace cohort
