// Recursive doubling allgather: log2(n) steps, each exchanging everything gathered so far with
// the rank at distance 1, 2, 4, ...; latency-optimal for small sizes. Power-of-two worlds only
// (RecursiveDoublingAllgatherSupports says so, and the selector then picks another algorithm).
// Also the building block for the allgather half of Rabenseifner allreduce.
#pragma once

#include <cstddef>

#include "collectives/collective_args.h"
#include "collectives/partition.h"
#include "collectives/peer_io.h"

namespace cohort {

bool RecursiveDoublingAllgatherSupports(const CollectiveArgs& args, const World& world);
Status RecursiveDoublingAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

namespace detail {
// `data` holds `count` elements split into fold.p2 blocks; participant fold.vrank starts with its
// own block and ends with all of them. Peers are real ranks of the folded world of io.size().
Status DoublingAllgatherBlocks(PeerIo& io, const Fold& fold, std::byte* data, size_t count,
                               size_t element_bytes);
}  // namespace detail

}  // namespace cohort
