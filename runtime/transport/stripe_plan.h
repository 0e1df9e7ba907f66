// How a StripedLink (striped_link.h) cuts a large message over N streams, as pure functions:
// piece i of a message of B bytes is the i-th of N nearly equal contiguous ranges (the first
// B mod N pieces one byte longer). Each piece travels as its own frame on stream i; the frame's
// `flags` (stream_link.h) say "piece i of N, remainder B mod N", so that the receiving stream
// link can check that a piece meets a piece of the same cut (not a whole message of the same
// size) and name the whole message's size in a mismatch error. Whole messages carry flags 0.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace cohort::detail {

inline constexpr int kMaxStripes = 64;  // COHORT_SOCKET_NSTREAMS's upper bound

struct StripePiece {
  size_t offset;
  size_t bytes;
};

// Piece `i` of `n` of a message of `bytes`.
inline StripePiece PieceOf(size_t bytes, int n, int i) {
  const size_t base = bytes / static_cast<size_t>(n);
  const size_t extra = bytes % static_cast<size_t>(n);
  const size_t index = static_cast<size_t>(i);
  return {index * base + std::min(index, extra), base + (index < extra ? 1 : 0)};
}

// Frame flags: bit 31 marks a piece; bits 0-7 hold n, bits 8-15 the index, bits 16-23 the
// remainder bytes mod n (all below 2^8 since n <= 64).
inline constexpr uint32_t kPieceFlag = 1u << 31;

inline uint32_t PieceFlags(size_t bytes, int n, int i) {
  return kPieceFlag | static_cast<uint32_t>(n) | (static_cast<uint32_t>(i) << 8) |
         (static_cast<uint32_t>(bytes % static_cast<size_t>(n)) << 16);
}

// The whole message's size, from one frame's flags and byte count: the frame's own size for a
// whole message (or flags that do not decode, which only garbage has).
inline uint64_t WholeMessageBytes(uint32_t flags, uint64_t frame_bytes) {
  if ((flags & kPieceFlag) == 0) return frame_bytes;
  const uint64_t n = flags & 0xff;
  const uint64_t i = (flags >> 8) & 0xff;
  const uint64_t extra = (flags >> 16) & 0xff;
  if (n == 0 || n > kMaxStripes || i >= n || extra >= n || (i < extra && frame_bytes == 0)) {
    return frame_bytes;
  }
  const uint64_t base = frame_bytes - (i < extra ? 1 : 0);
  return base * n + extra;
}

}  // namespace cohort::detail
