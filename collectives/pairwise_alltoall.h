// Pairwise-exchange alltoall: n-1 steps; at step k rank r sends its block for rank (r+k) mod n and
// receives the block from rank (r-k) mod n, so every rank sends and receives exactly one message
// per step and no link is oversubscribed. In place, the input is first staged in the workspace
// (blocks still to be sent would otherwise be overwritten by blocks received).
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status PairwiseAlltoall(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
