// SharedArena: memory that every rank of a communicator on one host can read, and step counters
// that order access to it. The shm transport provides one when all ranks of a communicator share
// a host (runtime/transport/node_arena.h); the direct algorithms in collectives/shm_*.cc are
// written against this interface only, never against a transport.
//
// Slots: every rank owns kSlots slots of slot_bytes() bytes. A rank writes only its own slots;
// any rank may read any slot. Step s uses slot s % kSlots of every rank.
//
// Steps: a rank finishes a step with Sync(), which publishes that it arrived at the step and
// waits until every rank has. All ranks run the same steps in the same order (an algorithm's
// steps follow from the call's arguments alone), so step numbers agree across ranks.
//
// The reuse rule that makes three slots enough: what a rank wrote into its slot for step s may
// be read by others from the moment they pass Sync() of step s until they call Sync() of step
// s + 2. A rank writes its slot for step s only after its Sync() of step s - 1 returned, i.e.
// after everyone arrived at s - 1 and so finished reading step s - 3, which used the same slot.
//
// Threading: one thread at a time (the communicator's progress thread or the calling thread of a
// blocking collective). Waits are bounded by the operation's deadline and end early when the
// communicator is aborted or a rank on this host dies; errors name the ranks still awaited.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/base/status.h"

namespace cohort {

class SharedArena {
 public:
  static constexpr int kSlots = 3;

  virtual ~SharedArena() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Bytes of one slot (the largest piece of a message one step can hold).
  virtual size_t slot_bytes() const = 0;

  // The step the next Sync() will complete.
  virtual uint64_t next_step() const = 0;
  // Rank `r`'s slot for step `step`.
  virtual std::byte* slot(int r, uint64_t step) const = 0;

  // Publishes that this rank finished its writes for next_step() and waits until every rank
  // has done the same. Release/acquire: everything written before Sync() on any rank is visible
  // to every rank after its own Sync() returns.
  virtual Status Sync() = 0;

  // The express exchange, for small payloads: every rank contributes `bytes` (the same on every
  // rank, at most express_bytes()) from `mine`; on return `all` holds rank r's bytes at
  // all + r * bytes (this rank's included). It is the step next_step() and stands for its Sync,
  // but uses no slot: payloads travel in lines that carry their own step number, so a reader
  // needs one cache-line transfer per 56 bytes instead of a flag and then the data.
  virtual size_t express_bytes() const = 0;
  virtual Status Express(const void* mine, size_t bytes, std::byte* all) = 0;
};

}  // namespace cohort
