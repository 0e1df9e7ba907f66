// Small helpers every algorithm uses: byte addressing of element offsets, scratch from the
// Workspace with a failure Status, posting that skips empty messages, the world-of-one local copy
// and the final avg scaling.
//
// Skipping empty messages is safe because every algorithm computes a message's size from values
// both ends agree on (the same block or window), so both ends skip it together.
#pragma once

#include <cstddef>

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort::detail {

// Workspace slots, one role each, so that algorithms built from others never collide.
inline constexpr int kPipelineSlot = 0;  // ReducePipeline's receive chunks
inline constexpr int kStagingSlot = 1;   // accumulators and staged copies of whole buffers
inline constexpr int kPointerSlot = 2;   // the source pointer arrays of the direct shm algorithms

inline std::byte* ElementPtr(void* base, size_t index, size_t element_bytes) {
  return static_cast<std::byte*>(base) + index * element_bytes;
}
inline const std::byte* ElementPtr(const void* base, size_t index, size_t element_bytes) {
  return static_cast<const std::byte*>(base) + index * element_bytes;
}

// Scratch area `slot` of at least `bytes`, or InternalError when memory is exhausted.
Status GetScratch(Workspace& ws, int slot, size_t bytes, std::byte** out);

// Post a send / receive of `bytes`, or nothing when bytes == 0 (see the file comment).
Status SendNonEmpty(PeerIo& io, int peer, const void* data, size_t bytes);
Status RecvNonEmpty(PeerIo& io, int peer, void* data, size_t bytes);

// memcpy unless the pointers are equal or bytes == 0.
void CopyIfDistinct(void* dst, const void* src, size_t bytes);

// The whole collective when the world has one rank: a local copy, or nothing in place.
Status RunAlone(const CollectiveArgs& args);

// For op avg: multiplies `count` elements at `data` by 1 / size (once, on a final result).
void ApplyAverage(const CollectiveArgs& args, int size, void* data, size_t count);

}  // namespace cohort::detail
