// Recursive halving reduce-scatter: log2(n) steps; at distance n/2, n/4, ..., 1 each rank keeps
// half of its current window of blocks and sends the other half to the rank at that distance,
// reducing what it receives. Fewer steps than ring for small sizes. Power-of-two worlds only
// (RecursiveHalvingReduceScatterSupports; the selector then picks ring).
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

bool RecursiveHalvingReduceScatterSupports(const CollectiveArgs& args, const World& world);
Status RecursiveHalvingReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
