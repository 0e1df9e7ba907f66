// Direct shared-memory collectives: for a world whose ranks all share one host (PeerIo::arena()
// is not null). Instead of messages, each rank copies its piece of a step into its own arena
// slot, all ranks Sync, and each reads what it needs straight from the others' slots: a reduction
// reads one slice from every rank at once (kernels::ReduceMany). Messages larger than a slot are
// pipelined a slot at a time; a slot is small enough (COHORT_SHM_SLOT_BYTES) to stay in cache
// between the copy in and the reads, so memory traffic is close to reading the input and writing
// the output once.
//
//   allreduce  "shm_direct":  per slot-sized chunk, rank r reduces slice r from every rank and
//                             publishes it; after the next Sync everyone copies the other slices
//                             (reduce-scatter + allgather with one Sync per chunk).
//              "shm_oneshot": the whole message in one slot; every rank reduces all of it itself
//                             (one Sync; all ranks fold in the same order, so results agree).
//   reduce     "shm_direct":  as allreduce, only the root copies the slices out.
//   reduce_scatter, alltoall, allgather, broadcast "shm_direct".
//   every collective "shm_express" (shm_express.cc): messages small enough for one express
//                             exchange; barrier "shm": an empty one.
//
// Every rank runs the same steps for the same arguments, which keeps the arena's step numbers
// in agreement (shared_arena.h). All functions validate args like the other algorithms.
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status ShmDirectAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmOneShotAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmDirectReduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmDirectReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmDirectAlltoall(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmDirectAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmDirectBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmExpressAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmExpressReduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmExpressReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmExpressAlltoall(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmExpressAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmExpressBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
Status ShmBarrier(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

// Whether the world has an arena (and, for the one-shot allreduce, whether the message fits in
// one slot).
bool ShmDirectSupports(const CollectiveArgs& args, const World& world);
bool ShmOneShotSupports(const CollectiveArgs& args, const World& world);
// Whether each rank's contribution fits one express exchange.
bool ShmExpressSupports(const CollectiveArgs& args, const World& world);

}  // namespace cohort
