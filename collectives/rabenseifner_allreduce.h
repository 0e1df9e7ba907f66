// Rabenseifner allreduce: recursive halving reduce-scatter (log2 p2 steps, exchanging half of the
// current window each time) then recursive doubling allgather. Latency of recursive doubling with
// about the bandwidth of ring: the choice for middle sizes. Non-power-of-two worlds fold as in
// recursive doubling (the data of the first 2 * (n - p2) even ranks goes to their odd partners).
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status RabenseifnerAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
