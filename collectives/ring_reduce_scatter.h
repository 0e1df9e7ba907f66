// Ring reduce-scatter: n-1 steps around the ring, each rank reducing one block per step into an
// accumulator (workspace) and forwarding it; chunked so one chunk's transfer overlaps the previous
// chunk's reduction. Rank r ends with block r reduced over all ranks.
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status RingReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
