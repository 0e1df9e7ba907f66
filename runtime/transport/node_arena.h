// NodeArena: shared memory of the ranks of one communicator that sit on one host, for the
// direct shm collectives (collectives/shared_arena.h describes the protocol). Every local rank
// owns one segment: a control page (magic, owner rank and pid, slot size, and on a cache line of
// their own the owner's arrived-step counter and its last two call records) followed by
// express lines (below) and SharedArena::kSlots slots. A rank writes only its own segment and
// maps every other local rank's.
//
// Express lines carry small payloads (up to kExpressBytes) without a separate flag: each 64-byte
// line holds 56 payload bytes and the step it belongs to (the first line: the call record and 32
// payload bytes), written last with release order. A reader that sees the step in a line has its
// data in the same cache-line transfer, so an 8-byte allreduce costs one line written and one
// read per peer. Lines alternate by step parity; the reuse argument of shared_arena.h holds
// because an express exchange completes only when every rank's lines for the step are there.
//
// Call records: ranks that read each other's memory exchange no message headers, so nothing
// would notice ranks calling different collectives (or counts, dtypes). Before an operation each
// rank announces a record of its call; after the operation's first Sync each compares everyone's
// records (the communicator does, with Fingerprint), so a mismatch fails on every rank before
// any data is read. Records sit in the counter's cache line: the spin that sees a peer arrive
// has already brought its record in.
//
// Waiting never blocks forever and never livelocks an oversubscribed host: it spins briefly (not
// at all when there are more local ranks than CPUs, where the awaited rank may need this CPU),
// yields the CPU for a while (a rank sharing it runs, and this one is back at once), then
// sleeps on a futex on the awaited rank's counter, which that rank wakes when it arrives (only
// if someone sleeps: the check is a load from its own cache line). Sleeps last at most
// kSleepSlice, so the abort flag, the deadline and the awaited rank's liveness are checked
// again; a deadline error names the ranks still awaited. (Going to sleep at once was measured:
// a futex wake-up costs tens of microseconds here, four times an oversubscribed step.)
//
// Threading: one thread at a time drives Sync (the communicator serializes its operations).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collectives/shared_arena.h"
#include "runtime/base/deadline.h"
#include "runtime/transport/link_waiter.h"
#include "runtime/transport/shm_segment.h"

namespace cohort {

// Bytes of one rank's arena segment with slots of `slot_bytes` (rounded up to pages).
size_t ArenaSegmentBytes(size_t slot_bytes);

// Creates and initializes this rank's arena segment (prefaulted), named `name`.
Result<std::shared_ptr<ShmSegment>> CreateArenaSegment(const std::string& name, int owner_rank,
                                                       size_t slot_bytes);

class NodeArena {
 public:
  // `segments[i]` belongs to local rank i (ranks in the arena's own numbering); `rank` is this
  // process's index. `rank_names[i]` says who i is in errors ("rank 5"). Checks every header.
  static Result<std::unique_ptr<NodeArena>> Attach(int rank,
                                                   std::vector<std::shared_ptr<ShmSegment>> segments,
                                                   std::vector<std::string> rank_names,
                                                   size_t slot_bytes);

  int rank() const { return rank_; }
  int size() const { return static_cast<int>(members_.size()); }
  size_t slot_bytes() const { return slot_bytes_; }
  uint64_t next_step() const { return next_step_; }
  std::byte* slot(int r, uint64_t step) const;
  // Bytes this rank's own segment takes (for the memory report).
  size_t own_segment_bytes() const;
  bool oversubscribed() const { return oversubscribed_; }

  // SharedArena::Sync; a wait that lasts `timeout` fails. `hooks` (optional) add the abort flag
  // and the stall check (another rank failed). Errors do not name the operation (the caller
  // does). The clock is read only once a wait outlasts a few polls (latency).
  Status Sync(std::chrono::milliseconds timeout, const WaitHooks* hooks);

  // Unlinks this rank's segment name (mappings stay valid): once every local rank has mapped it.
  Status UnlinkOwnSegment();

  static constexpr std::chrono::milliseconds kSleepSlice{10};
  static constexpr size_t kCallRecordBytes = 24;
  static constexpr size_t kExpressBytes = 16384;
  struct ExpressLine;  // layout in node_arena.cc
  // Records this rank's call whose first Sync will be next_step(). Two records are kept (by the
  // parity of that step): a peer reads the record for step s after its Sync s and before its
  // Sync s + 1, and this rank writes the next record of the same parity only after Sync s + 1.
  void Announce(const void* record);
  // Rank r's record of the call whose first Sync was `step`.
  const void* Announced(int r, uint64_t step) const;

  // SharedArena::Express for step next_step(): publishes `record` and `bytes` (<= kExpressBytes)
  // of `payload`, waits for every rank's, and copies rank r's payload to out + r * bytes and its
  // record to records + r * kCallRecordBytes. A rank that arrived at the step without express
  // lines (it called something else) ends the wait with its Announced() record in `records` and
  // an InvalidArgumentError; the caller compares the records first to name the mismatch.
  Status Express(const void* record, const void* payload, size_t bytes, std::byte* out,
                 unsigned char* records, std::chrono::milliseconds timeout,
                 const WaitHooks* hooks);

 private:
  struct Member {
    std::shared_ptr<ShmSegment> segment;
    const std::atomic<uint64_t>* arrived = nullptr;
    std::atomic<uint32_t>* sleepers = nullptr;
    unsigned char (*calls)[kCallRecordBytes] = nullptr;
    ExpressLine* express = nullptr;  // 2 * kExpressLines lines, by step parity
    std::byte* slots = nullptr;
    pid_t pid = 0;
    std::string name;
  };
  NodeArena() = default;
  // Publishes that this rank arrived at `step` and wakes ranks asleep on its counter.
  void Arrive(uint64_t step);
  ExpressLine* ExpressLines(int r, uint64_t step) const;
  // Waits until ready() holds, spinning, yielding and napping as the file comment says; a
  // deadline error names rank r and how far behind `step` it is.
  template <typename Ready>
  Status WaitUntil(int r, uint64_t step, Ready ready, std::chrono::milliseconds timeout,
                   const WaitHooks* hooks);

  int rank_ = 0;
  size_t slot_bytes_ = 0;
  size_t slot_stride_ = 0;
  bool oversubscribed_ = false;
  uint64_t next_step_ = 1;
  std::atomic<uint64_t>* own_arrived_ = nullptr;
  std::atomic<uint32_t>* own_sleepers_ = nullptr;
  std::vector<Member> members_;
};

}  // namespace cohort
