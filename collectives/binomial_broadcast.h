// Binomial-tree broadcast: the root's data reaches everyone in ceil(log2 n) rounds. Large buffers
// are cut into chunks (ws.chunk_bytes) and pipelined down the tree: a rank receives chunk k from
// its parent while it forwards chunk k-1 to its children.
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status BinomialBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
