// Partition arithmetic; see partition.h.
#include "collectives/partition.h"

#include <algorithm>
#include <bit>

namespace cohort::detail {

size_t BlockOffset(size_t count, size_t parts, size_t index) {
  const size_t base = count / parts;
  const size_t rem = count % parts;
  // index * base <= count, so nothing here overflows even for counts near SIZE_MAX.
  return index * base + std::min(index, rem);
}

Range BlockRange(size_t count, size_t parts, size_t index) {
  const size_t begin = BlockOffset(count, parts, index);
  return {begin, BlockOffset(count, parts, index + 1) - begin};
}

Range BlocksRange(size_t count, size_t parts, size_t first, size_t num) {
  const size_t begin = BlockOffset(count, parts, first);
  return {begin, BlockOffset(count, parts, first + num) - begin};
}

size_t ChunkElements(size_t chunk_bytes, size_t element_bytes) {
  if (chunk_bytes == 0) return static_cast<size_t>(-1);
  return std::max<size_t>(1, chunk_bytes / element_bytes);
}

size_t ChunkCount(size_t count, size_t chunk_elems) {
  return count / chunk_elems + (count % chunk_elems != 0 ? 1 : 0);
}

Range ChunkRange(size_t count, size_t chunk_elems, size_t chunk) {
  const size_t begin = std::min(count, chunk * chunk_elems);
  return {begin, std::min(chunk_elems, count - begin)};
}

int PositiveMod(long long value, int n) {
  long long m = value % n;
  return static_cast<int>(m < 0 ? m + n : m);
}

bool IsPowerOfTwo(int n) { return n > 0 && std::has_single_bit(static_cast<unsigned>(n)); }

int PowerOfTwoFloor(int n) { return static_cast<int>(std::bit_floor(static_cast<unsigned>(n))); }

int PowerOfTwoCeil(int n) { return static_cast<int>(std::bit_ceil(static_cast<unsigned>(n))); }

Fold FoldRanks(int rank, int size) {
  Fold fold;
  fold.p2 = PowerOfTwoFloor(size);
  fold.extra = size - fold.p2;
  if (rank < 2 * fold.extra) {
    if (rank % 2 == 0) {
      fold.partner = rank + 1;  // hands its data to the odd rank and sits out
    } else {
      fold.partner = rank - 1;
      fold.vrank = rank / 2;
    }
  } else {
    fold.vrank = rank - fold.extra;
  }
  return fold;
}

int UnfoldRank(int vrank, int size) {
  const int extra = size - PowerOfTwoFloor(size);
  return vrank < extra ? 2 * vrank + 1 : vrank + extra;
}

BlockWindow WindowAt(int vrank, int span) { return {(vrank / span) * span, span}; }

int BinomialParent(int vrank) {
  if (vrank == 0) return -1;
  return vrank & (vrank - 1);  // clear the lowest set bit
}

int BinomialFirstChildMask(int vrank, int size) {
  int mask = vrank == 0 ? PowerOfTwoCeil(size) / 2 : (vrank & -vrank) / 2;
  while (mask > 0 && vrank + mask >= size) mask /= 2;
  return mask;
}

int BinomialChildCount(int vrank, int size) {
  int children = 0;
  for (int m = BinomialFirstChildMask(vrank, size); m > 0; m /= 2) {
    if (vrank + m < size) ++children;
  }
  return children;
}

}  // namespace cohort::detail
