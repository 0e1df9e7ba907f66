// Binomial-tree reduce: the mirror of binomial broadcast. Each rank reduces its children's data
// into its own and sends the result to its parent; the root ends with the reduction (scaled once
// for avg). Chunked (ws.chunk_bytes): chunk k arrives from the children while chunk k-1 is reduced
// and sent up. Non-root ranks never write their receive buffer (NCCL ignores it there).
#pragma once

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status BinomialReduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

}  // namespace cohort
