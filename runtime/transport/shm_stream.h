// ShmStream: the ByteStream of a same-host link, over two single-producer single-consumer rings in
// POSIX shared memory. Each rank owns ONE segment holding its inbound rings (one per local shm
// peer) and a header with its pid; a rank writes into the peer's segment and reads from its own.
//
// Segment layout (all offsets page-aligned):
//   [ShmSegmentHeader + int32 peer rank per ring][ring 0 control page][ring 0 data] ...
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/transport/shm_segment.h"
#include "runtime/transport/stream_link.h"

namespace cohort {

// The cross-process words of one ring. The atomics live in shared memory, so they must be
// lock-free (address-free); head and tail sit on separate cache lines so that the producer's
// and consumer's stores do not bounce one line between cores.
struct ShmRingControl {
  alignas(64) std::atomic<uint64_t> head;  // bytes ever written; stored only by the producer
  alignas(64) std::atomic<uint64_t> tail;  // bytes ever consumed; stored only by the consumer
  alignas(64) std::atomic<uint32_t> producer_closed;
  std::atomic<uint32_t> consumer_closed;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct ShmRing {
  ShmRingControl* control = nullptr;
  char* data = nullptr;
  size_t bytes = 0;
};

// Bytes of a segment with `num_rings` rings of `ring_bytes` (rounded up to pages).
size_t ShmSegmentBytes(size_t num_rings, size_t ring_bytes);
// Ring size actually used for a requested one (a positive multiple of the page size).
size_t ShmRingBytes(size_t requested);

// Writes the header (owner rank, pid, the peer rank of each inbound ring) into a new segment.
void InitShmSegment(ShmSegment& segment, int owner_rank, pid_t owner_pid,
                    const std::vector<int>& ring_peers, size_t ring_bytes);
// Validates `segment`'s header (it belongs to `owner_rank`) and finds the ring whose producer is
// `peer_rank`. Also returns the owner's pid.
Result<ShmRing> FindShmRing(const ShmSegment& segment, int owner_rank, int peer_rank,
                            pid_t* owner_pid = nullptr);

namespace detail {

// Where a ring lies in a segment's bytes, as offsets from the segment's start.
struct ShmRingPlace {
  size_t control_offset = 0;  // the ring's ShmRingControl page
  size_t data_offset = 0;     // its data, `bytes` long
  size_t bytes = 0;
  pid_t owner_pid = 0;
};

// FindShmRing over the `size` bytes of a segment named `name` (for errors): validates the header,
// which another process wrote, and finds the ring whose producer is `peer_rank`. Pure, so that
// a hostile header can be fuzzed without shared memory.
Result<ShmRingPlace> LocateShmRing(const char* data, size_t size, const std::string& name,
                                   int owner_rank, int peer_rank);

}  // namespace detail

// A stream to `peer_rank` (process `peer_pid`): reads `inbound` (in this rank's segment), writes
// `outbound` (in the peer's segment). The segments are kept mapped while the stream lives.
std::unique_ptr<ByteStream> MakeShmStream(int peer_rank, pid_t peer_pid,
                                          std::shared_ptr<ShmSegment> inbound_segment,
                                          ShmRing inbound,
                                          std::shared_ptr<ShmSegment> outbound_segment,
                                          ShmRing outbound);

// Whether process `pid` on this host is gone (no such process, or a zombie).
bool ProcessIsGone(pid_t pid);

}  // namespace cohort
