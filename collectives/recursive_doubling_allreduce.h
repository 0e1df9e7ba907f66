// Recursive doubling allreduce: log2(p2) steps, each exchanging the whole buffer with the rank at
// distance 1, 2, 4, ... and reducing; lowest latency, so the choice for small messages. Worlds
// that are not a power of two fold first (partition.h): the even rank of each of the first
// 2 * (n - p2) pairs hands its buffer to its odd partner and gets the result back at the end.
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status RecursiveDoublingAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

namespace detail {
// Folds this rank's contribution in: a sitting-out rank sends its buffer to its partner; the
// partner reduces it into recv. Returns through *current where this rank's running result lives
// (args.send, or args.recv once something was reduced into it).
class ReducePipeline;
Status FoldIn(PeerIo& io, const CollectiveArgs& args, ReducePipeline& pipeline,
              const std::byte** current);
// Sends the final result back to a sitting-out rank, which receives it into args.recv.
Status FoldOut(PeerIo& io, const CollectiveArgs& args);
}  // namespace detail

}  // namespace cohort
