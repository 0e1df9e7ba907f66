// Dissemination barrier: ceil(log2 n) rounds of zero-byte messages; in round k rank r signals
// (r + 2^k) mod n and waits for (r - 2^k) mod n. No rank leaves before every rank has entered.
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status DisseminationBarrier(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
