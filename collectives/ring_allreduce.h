// Ring allreduce: a ring reduce-scatter (n-1 steps, each rank reducing one block per step,
// chunked so that one chunk's transfer overlaps the previous chunk's reduction) followed by a
// ring allgather. Each link carries 2(n-1)/n of the buffer: the choice for large messages.
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status RingAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
