// How the staged CUDA path cuts a collective into chunks (pure arithmetic, tested without a GPU).
//
// Every collective's send and recv buffers are `rows` blocks of `count` elements each (1 row, or
// one per rank: reduce_scatter's input, allgather's output, both sides of alltoall). A chunk is
// the element range [begin, end) of every row, so one 2-D copy moves it between the device buffer
// (rows `count` elements apart) and a packed host area (rows `end - begin` apart), and the CPU
// algorithm runs on the packed chunk as a collective of `end - begin` elements.
#pragma once

#include <cstddef>

#include "collectives/collective_args.h"

namespace cohort {

struct StagedLayout {
  size_t send_rows = 1;
  size_t recv_rows = 1;
  size_t chunk_count = 0;  // elements per row per chunk (the last chunk may be shorter)
  size_t num_chunks = 0;
  bool copies_in = true;   // this rank's send buffer holds input (not a non-root broadcast)
  bool copies_out = true;  // this rank's recv buffer gets output (not a non-root reduce)

  // Bytes of host staging for one chunk's send or recv side.
  size_t send_chunk_bytes(size_t element_bytes) const {
    return send_rows * chunk_count * element_bytes;
  }
  size_t recv_chunk_bytes(size_t element_bytes) const {
    return recv_rows * chunk_count * element_bytes;
  }
};

// The chunking of `args` on `rank` of `size` ranks so that one chunk's host area on either side
// is at most about `chunk_bytes` (never below one element per row).
StagedLayout PlanStagedChunks(const CollectiveArgs& args, int rank, int size, size_t chunk_bytes);

}  // namespace cohort
