// NodeArena: segment layout, attaching, and the bounded Sync wait (node_arena.h).
#include "runtime/transport/node_arena.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

#include "runtime/base/backoff.h"
#include "runtime/transport/shm_stream.h"

namespace cohort {

namespace {

constexpr uint64_t kArenaMagic = 0x414E4552414F4843ull;  // "CHOARENA"
constexpr uint32_t kArenaVersion = 1;
constexpr size_t kPage = kShmPageBytes;

// Page 0 of a rank's arena segment. The counter sits on its own cache line: the owner stores
// it once per step while every other local rank spins on it.
struct ArenaHeader {
  // Stored last by the creator (release), loaded first by attachers (acquire): an attacher that
  // sees the magic sees the whole header. An atomic store rather than a fence and a plain store:
  // a fence orders nothing before a non-atomic store, and GCC refuses fences under TSan.
  std::atomic<uint64_t> magic;
  uint32_t version;
  int32_t owner_rank;
  int64_t owner_pid;
  uint64_t slot_bytes;
  alignas(64) std::atomic<uint64_t> arrived;  // last step the owner finished; owner stores only
  unsigned char calls[2][NodeArena::kCallRecordBytes];  // by parity of the call's first step
  // Ranks asleep on `arrived` (a futex on its low half): the owner wakes them after storing it.
  std::atomic<uint32_t> sleepers;
};
static_assert(offsetof(ArenaHeader, sleepers) + sizeof(ArenaHeader::sleepers) <=
                  offsetof(ArenaHeader, arrived) + 64,
              "the call records and sleepers share the counter's cache line");
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// The futex word of a counter: its low 32 bits (x86-64 and AArch64 are little-endian), which
// change at every step.
uint32_t* FutexWord(const std::atomic<uint64_t>* counter) {
  return reinterpret_cast<uint32_t*>(const_cast<std::atomic<uint64_t>*>(counter));
}

// Sleeps while *word == expected, at most `timeout`; shared (not private): across processes.
void FutexWait(const std::atomic<uint64_t>* counter, uint32_t expected,
               std::chrono::microseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000000),
              static_cast<long>(timeout.count() % 1000000) * 1000};
  syscall(SYS_futex, FutexWord(counter), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void FutexWakeAll(const std::atomic<uint64_t>* counter) {
  syscall(SYS_futex, FutexWord(counter), FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}
static_assert(sizeof(ArenaHeader) <= kPage);
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the counter lives in shared memory");

// Payload bytes in an express exchange's first line (after the call record) and in each later one.
constexpr size_t kFirstLinePayload = 64 - 8 - NodeArena::kCallRecordBytes;
constexpr size_t kLinePayload = 64 - 8;

size_t ExpressLinesFor(size_t bytes) {
  return bytes <= kFirstLinePayload ? 1 : 1 + (bytes - kFirstLinePayload + kLinePayload - 1) / kLinePayload;
}
constexpr size_t kExpressLines = 1 + (NodeArena::kExpressBytes - kFirstLinePayload + kLinePayload - 1) / kLinePayload;
// The control area: the header page, then both parities' express lines.
const size_t kControlBytes = kPage + RoundUpToShmPage(2 * kExpressLines * 64);

}  // namespace

// One express line: payload, then the step it belongs to (stored last, release).
struct NodeArena::ExpressLine {
  unsigned char payload[kLinePayload];
  std::atomic<uint64_t> step;
};
static_assert(sizeof(NodeArena::ExpressLine) == 64);

size_t ArenaSegmentBytes(size_t slot_bytes) {
  return kControlBytes + SharedArena::kSlots * RoundUpToShmPage(slot_bytes);
}

Result<std::shared_ptr<ShmSegment>> CreateArenaSegment(const std::string& name, int owner_rank,
                                                       size_t slot_bytes) {
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<ShmSegment> segment,
                          ShmSegment::Create(name, ArenaSegmentBytes(slot_bytes)));
  auto* header = new (segment->data()) ArenaHeader{};
  header->version = kArenaVersion;
  header->owner_rank = owner_rank;
  header->owner_pid = ::getpid();
  header->slot_bytes = slot_bytes;
  header->arrived.store(0, std::memory_order_relaxed);
  header->sleepers.store(0, std::memory_order_relaxed);
  auto* lines = new (segment->data() + kPage) NodeArena::ExpressLine[2 * kExpressLines];
  for (size_t i = 0; i < 2 * kExpressLines; ++i) lines[i].step.store(0, std::memory_order_relaxed);
  // Magic last: a reader that sees it sees a complete header (the store server orders the
  // segment's name after this anyway, so this is belt and braces).
  header->magic.store(kArenaMagic, std::memory_order_release);
  return segment;
}

Result<std::unique_ptr<NodeArena>> NodeArena::Attach(
    int rank, std::vector<std::shared_ptr<ShmSegment>> segments,
    std::vector<std::string> rank_names, size_t slot_bytes) {
  if (rank < 0 || static_cast<size_t>(rank) >= segments.size() ||
      rank_names.size() != segments.size()) {
    return InvalidArgumentError("NodeArena: rank " + std::to_string(rank) + " of " +
                                std::to_string(segments.size()) + " segments");
  }
  std::unique_ptr<NodeArena> arena(new NodeArena());
  arena->rank_ = rank;
  arena->slot_bytes_ = slot_bytes;
  arena->slot_stride_ = RoundUpToShmPage(slot_bytes);
  arena->oversubscribed_ = static_cast<int>(segments.size()) > backoff::UsableCpus();
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::shared_ptr<ShmSegment>& segment = segments[i];
    if (segment == nullptr || segment->size() < ArenaSegmentBytes(slot_bytes)) {
      return InternalError("the shared-memory arena segment of " + rank_names[i] +
                           " is missing or too small (" +
                           std::to_string(segment ? segment->size() : 0) + " bytes, " +
                           std::to_string(ArenaSegmentBytes(slot_bytes)) + " expected)");
    }
    auto* header = reinterpret_cast<ArenaHeader*>(segment->data());
    if (header->magic.load(std::memory_order_acquire) != kArenaMagic ||
        header->version != kArenaVersion ||
        header->owner_rank != static_cast<int32_t>(i) || header->slot_bytes != slot_bytes) {
      return InternalError("the shared-memory arena segment " + segment->name() + " of " +
                           rank_names[i] + " does not hold that rank's arena (stale segment from "
                           "another job, or ranks with different COHORT_SHM_SLOT_BYTES)");
    }
    Member member;
    member.segment = segment;
    member.arrived = &header->arrived;
    member.sleepers = &header->sleepers;
    member.calls = header->calls;
    member.express = reinterpret_cast<ExpressLine*>(segment->data() + kPage);
    member.slots = reinterpret_cast<std::byte*>(segment->data()) + kControlBytes;
    member.pid = static_cast<pid_t>(header->owner_pid);
    member.name = rank_names[i];
    if (static_cast<int>(i) == rank) {
      arena->own_arrived_ = &header->arrived;
      arena->own_sleepers_ = &header->sleepers;
    }
    arena->members_.push_back(std::move(member));
  }
  return arena;
}

std::byte* NodeArena::slot(int r, uint64_t step) const {
  return members_[static_cast<size_t>(r)].slots +
         (step % SharedArena::kSlots) * slot_stride_;
}

size_t NodeArena::own_segment_bytes() const {
  return members_[static_cast<size_t>(rank_)].segment->size();
}

Status NodeArena::UnlinkOwnSegment() { return members_[static_cast<size_t>(rank_)].segment->Unlink(); }

void NodeArena::Announce(const void* record) {
  // Published by the release store of the counter in the next Sync.
  std::memcpy(members_[static_cast<size_t>(rank_)].calls[next_step_ % 2], record, kCallRecordBytes);
}

const void* NodeArena::Announced(int r, uint64_t step) const {
  return members_[static_cast<size_t>(r)].calls[step % 2];
}

void NodeArena::Arrive(uint64_t step) {
  // Release: this rank's writes for the step are visible to whoever sees the new count. Sequential
  // consistency orders the store before the load of `sleepers` (as a sleeper's increment is
  // ordered before its re-check of the counter), so no sleeper misses its wake-up.
  own_arrived_->store(step, std::memory_order_seq_cst);
  if (own_sleepers_->load(std::memory_order_seq_cst) != 0) FutexWakeAll(own_arrived_);
}

NodeArena::ExpressLine* NodeArena::ExpressLines(int r, uint64_t step) const {
  return members_[static_cast<size_t>(r)].express + (step % 2) * kExpressLines;
}

Status NodeArena::Sync(std::chrono::milliseconds timeout, const WaitHooks* hooks) {
  const uint64_t step = next_step_++;
  Arrive(step);
  for (int r = 0; r < size(); ++r) {
    if (r == rank_) continue;
    // Acquire pairs with rank r's release store: its writes for the step are visible now.
    const std::atomic<uint64_t>* arrived = members_[static_cast<size_t>(r)].arrived;
    COHORT_RETURN_IF_ERROR(WaitUntil(
        r, step, [&] { return arrived->load(std::memory_order_acquire) >= step; }, timeout, hooks));
  }
  return Status::Ok();
}

Status NodeArena::Express(const void* record, const void* payload, size_t bytes, std::byte* out,
                          unsigned char* records, std::chrono::milliseconds timeout,
                          const WaitHooks* hooks) {
  if (bytes > kExpressBytes) {
    return InternalError("express exchange of " + std::to_string(bytes) + " bytes; at most " +
                         std::to_string(kExpressBytes) + " fit");
  }
  const uint64_t step = next_step_++;
  const auto* in = static_cast<const unsigned char*>(payload);
  const size_t num_lines = ExpressLinesFor(bytes);
  // Payload bytes [0, kFirstLinePayload) sit in line 0 after the record, then kLinePayload a line.
  auto span_of = [&](size_t line, size_t* offset) {
    *offset = line == 0 ? 0 : kFirstLinePayload + (line - 1) * kLinePayload;
    const size_t cap = line == 0 ? kFirstLinePayload : kLinePayload;
    return std::min(cap, bytes - std::min(bytes, *offset));
  };
  ExpressLine* mine = ExpressLines(rank_, step);
  for (size_t i = 0; i < num_lines; ++i) {
    size_t offset = 0;
    const size_t n = span_of(i, &offset);
    unsigned char* dst = mine[i].payload;
    if (i == 0) {
      std::memcpy(dst, record, kCallRecordBytes);
      dst += kCallRecordBytes;
    }
    if (n > 0) std::memcpy(dst, in + offset, n);  // a barrier carries no payload (in is null)
    mine[i].step.store(step, std::memory_order_release);
  }
  // Arrival too, after the lines: a rank waiting in a plain Sync at this step (a mismatch) sees
  // it, and one that sees it can tell from the lines whether this rank is in an express step.
  // Sleepers wait on the counter, so it also wakes them.
  Arrive(step);
  std::byte* own = out == nullptr ? nullptr : out + static_cast<size_t>(rank_) * bytes;
  if (bytes > 0 && own != nullptr && own != payload) std::memcpy(own, payload, bytes);  // in place: already there
  std::memcpy(records + static_cast<size_t>(rank_) * kCallRecordBytes, record, kCallRecordBytes);

  for (int r = 0; r < size(); ++r) {
    if (r == rank_) continue;
    const ExpressLine* theirs = ExpressLines(r, step);
    const std::atomic<uint64_t>* arrived = members_[static_cast<size_t>(r)].arrived;
    COHORT_RETURN_IF_ERROR(WaitUntil(
        r, step,
        [&] {
          return theirs[0].step.load(std::memory_order_acquire) == step ||
                 arrived->load(std::memory_order_acquire) >= step;
        },
        timeout, hooks));
    unsigned char* record_out = records + static_cast<size_t>(r) * kCallRecordBytes;
    if (theirs[0].step.load(std::memory_order_acquire) != step) {
      // Arrived without express lines (they are stored before the count): another call.
      std::memcpy(record_out, Announced(r, step), kCallRecordBytes);
      return InvalidArgumentError(members_[static_cast<size_t>(r)].name +
                                  " reached this step through a different algorithm; do all "
                                  "ranks run with the same COHORT_ALGO and COHORT_SHM_SLOT_BYTES?");
    }
    std::memcpy(record_out, theirs[0].payload, kCallRecordBytes);
    std::byte* dst = out == nullptr ? nullptr : out + static_cast<size_t>(r) * bytes;
    for (size_t i = 0; i < num_lines; ++i) {
      if (i > 0) {
        COHORT_RETURN_IF_ERROR(WaitUntil(
            r, step, [&] { return theirs[i].step.load(std::memory_order_acquire) == step; },
            timeout, hooks));
      }
      size_t offset = 0;
      const size_t n = span_of(i, &offset);
      if (dst != nullptr && n > 0) {
        std::memcpy(dst + offset, theirs[i].payload + (i == 0 ? kCallRecordBytes : 0), n);
      }
    }
  }
  return Status::Ok();
}

template <typename Ready>
Status NodeArena::WaitUntil(int r, uint64_t step, Ready ready, std::chrono::milliseconds timeout,
                            const WaitHooks* hooks) {
  // Most waits end within a few polls: only then start reading the clock.
  for (int i = 0; i < 32; ++i) {
    if (ready()) return Status::Ok();
    backoff::CpuRelax();
  }
  const Member& peer = members_[static_cast<size_t>(r)];
  const auto spin_for = oversubscribed_ ? std::chrono::microseconds(0) : backoff::kSpinFor;
  const auto yield_for = hooks != nullptr ? hooks->yield_for : backoff::kYieldFor;
  const Clock::time_point start = Clock::now();
  const Deadline deadline(start + timeout);
  Clock::time_point last_alive_check = start;
  Clock::time_point now = start;
  for (uint32_t round = 1;; ++round) {
    if (ready()) return Status::Ok();
    if (hooks != nullptr && hooks->cancelled != nullptr &&
        hooks->cancelled->load(std::memory_order_relaxed)) {
      return hooks->cancelled_status();
    }
    // Read the clock only every 64 rounds while spinning: the spin is what makes latency.
    if (round % 64 != 0 && now - start < spin_for) {
      backoff::CpuRelax();
      continue;
    }
    now = Clock::now();
    if (now - start < spin_for) {
      backoff::CpuRelax();
      continue;
    }
    if (now >= deadline.at()) {
      const uint64_t at = peer.arrived->load(std::memory_order_acquire);
      // Worded as what was awaited: the communicator prefixes the timeout and the operation.
      return DeadlineExceededError(peer.name + " (pid " + std::to_string(peer.pid) +
                                   ") in shared memory, which is " +
                                   std::to_string(step - std::min(at, step)) +
                                   " step(s) behind this rank");
    }
    if (now - last_alive_check >= backoff::kAliveEvery) {
      last_alive_check = now;
      if (ProcessIsGone(peer.pid)) {
        return UnavailableError(peer.name + " (pid " + std::to_string(peer.pid) +
                                ") on this host is no longer running (did it exit or crash?)");
      }
      if (hooks != nullptr && hooks->on_stall) COHORT_RETURN_IF_ERROR(hooks->on_stall());
    }
    if (now - start < spin_for + yield_for) {
      sched_yield();  // short waits: let a rank that shares this CPU run, come back at once
      continue;
    }
    // Long waits: sleep until rank r arrives somewhere (its counter moves), or kSleepSlice
    // passes so that the abort flag, the deadline and rank r's liveness are looked at again.
    const uint32_t seen = static_cast<uint32_t>(peer.arrived->load(std::memory_order_seq_cst));
    peer.sleepers->fetch_add(1, std::memory_order_seq_cst);
    if (!ready() && static_cast<uint32_t>(peer.arrived->load(std::memory_order_seq_cst)) == seen) {
      FutexWait(peer.arrived, seen, kSleepSlice);
    }
    peer.sleepers->fetch_sub(1, std::memory_order_seq_cst);
  }
}

}  // namespace cohort
