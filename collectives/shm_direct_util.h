// Arithmetic and set-up shared by the direct shared-memory collectives (shm_direct.h): how many
// elements a slot holds, how a chunk is sliced among ranks on cache-line boundaries, the array
// of source pointers a reduction folds, and the arena check.
#pragma once

#include <cstddef>

#include "collectives/collective_args.h"
#include "collectives/partition.h"
#include "collectives/peer_io.h"

namespace cohort::detail {

// Elements in `bytes`, rounded down to whole 64-byte lines (at least one line's worth), so that
// chunk and slice boundaries fall on cache lines for every dtype.
size_t SlotElements(size_t bytes, size_t element_bytes);

// Slice `index` of a chunk of `count` elements cut among `parts` ranks: contiguous, nearly equal
// runs whose boundaries fall on 64-byte lines (the last slice takes the ragged end). Slices may
// be empty when the chunk is small.
Range AlignedSlice(size_t count, int parts, int index, size_t element_bytes);

// An array of `n` pointers from the workspace (allocated once, reused by later calls).
Status GetSourceArray(Workspace& ws, int n, const void*** out);

// The start every direct algorithm shares: validates args for a collective of `kind`, finishes
// the calls with nothing to exchange (one rank: the local copy; count 0 except barrier), and
// otherwise returns the arena (UnimplementedError naming `algorithm` when the world has none).
// A null result with Ok status means the call is complete.
Result<SharedArena*> BeginShmCall(PeerIo& io, const CollectiveArgs& args, CollectiveKind kind,
                                  const char* algorithm);

}  // namespace cohort::detail
