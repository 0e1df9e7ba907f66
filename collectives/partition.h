// Partition: the pure rank and element arithmetic of every collective pattern, apart from any
// transport, so it can be unit-tested on its own (counts beyond 2^32 included, nothing allocated).
//
//   - blocks: `count` elements split into `parts` nearly equal, contiguous blocks (the first
//     count % parts blocks hold one element more; blocks may be empty when count < parts);
//   - chunks: a block cut into pipelining units of at most `chunk_elems` elements;
//   - ring neighbours and ring block indices;
//   - recursive doubling / halving over a world folded to a power of two (MPICH / UCC style: the
//     first 2 * (size - p2) ranks pair up; the even one of each pair hands its data to the odd one
//     and sits out the power-of-two phase);
//   - binomial trees rooted at any rank.
// All element arithmetic is size_t; ranks are int.
#pragma once

#include <cstddef>

namespace cohort::detail {

// A run of elements [offset, offset + count).
struct Range {
  size_t offset = 0;
  size_t count = 0;
  size_t end() const { return offset + count; }
};

// Start of block `index` (0 <= index <= parts; index == parts gives `count`).
size_t BlockOffset(size_t count, size_t parts, size_t index);
// Block `index` of `count` elements split into `parts` blocks.
Range BlockRange(size_t count, size_t parts, size_t index);
// Blocks [first, first + num) together, as one contiguous range.
Range BlocksRange(size_t count, size_t parts, size_t first, size_t num);

// Elements per pipelining chunk for `chunk_bytes` (0 means "do not chunk"); always >= 1.
size_t ChunkElements(size_t chunk_bytes, size_t element_bytes);
// Number of chunks of a run of `count` elements (0 for an empty run).
size_t ChunkCount(size_t count, size_t chunk_elems);
// Chunk `chunk` of a run of `count` elements, relative to the run's start.
Range ChunkRange(size_t count, size_t chunk_elems, size_t chunk);

// (value mod n) for any sign of value, n > 0.
int PositiveMod(long long value, int n);
inline int RingNext(int rank, int size) { return PositiveMod(rank + 1LL, size); }
inline int RingPrev(int rank, int size) { return PositiveMod(rank - 1LL, size); }

bool IsPowerOfTwo(int n);
// Largest power of two <= n (n >= 1).
int PowerOfTwoFloor(int n);
// Smallest power of two >= n (n >= 1).
int PowerOfTwoCeil(int n);

// Where a rank stands when `size` ranks are folded to p2 = PowerOfTwoFloor(size).
struct Fold {
  int p2 = 1;        // ranks taking part in the power-of-two phase
  int extra = 0;     // size - p2: pairs folded before and restored after
  int vrank = -1;    // rank among the p2 participants; -1 for a rank that sits out
  int partner = -1;  // the rank this one folds with (its data goes to / comes from), or -1
  bool participates() const { return vrank >= 0; }
};
Fold FoldRanks(int rank, int size);
// Real rank of participant `vrank` in a folded world of `size`.
int UnfoldRank(int vrank, int size);

// Blocks [first, first + span) that virtual rank `vrank` holds when windows have `span` blocks
// (span a power of two): recursive halving shrinks windows, recursive doubling grows them.
struct BlockWindow {
  int first = 0;
  int span = 0;
};
BlockWindow WindowAt(int vrank, int span);

// Binomial tree over virtual ranks v = (rank - root) mod size, rooted at v = 0.
inline int ToVirtualRank(int rank, int root, int size) {
  return PositiveMod(static_cast<long long>(rank) - root, size);
}
inline int FromVirtualRank(int vrank, int root, int size) {
  return PositiveMod(static_cast<long long>(vrank) + root, size);
}
// Parent of virtual rank v (v minus its lowest set bit); -1 for the root.
int BinomialParent(int vrank);
// Children of v are v + m for the masks m = FirstChildMask(v, size), m/2, ..., 1 with v + m < size.
// Returns 0 when v has no children (a leaf).
int BinomialFirstChildMask(int vrank, int size);
// Number of children of v.
int BinomialChildCount(int vrank, int size);

}  // namespace cohort::detail
