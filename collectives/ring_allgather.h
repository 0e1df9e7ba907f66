// Ring allgather: in n-1 steps every rank passes the block it received last to its right
// neighbour, so each link carries (n-1)/n of the output once; bandwidth-optimal for large sizes.
// Also the building block for the second half of ring allreduce.
#pragma once

#include <cstddef>

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

Status RingAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws);

namespace detail {
// `data` holds `count` elements split into io.size() blocks (BlockRange); this rank starts with
// block (rank + owned_shift) mod size and ends with all of them. Step s sends block
// (rank + owned_shift - s) to the right and receives block (rank + owned_shift - s - 1) from the
// left, so every pair posts in the same order. With `own_source` set, the owned block is not in
// `data` yet: step 0 sends it from there and copies it into place while the transfer runs.
// Needs io.size() > 1 (callers handle a world of one with RunAlone).
Status RingAllgatherBlocks(PeerIo& io, std::byte* data, size_t count, size_t element_bytes,
                           int owned_shift, const std::byte* own_source = nullptr);
}  // namespace detail

}  // namespace cohort
