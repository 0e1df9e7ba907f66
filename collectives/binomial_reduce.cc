// Binomial-tree reduce; see binomial_reduce.h.
//
// Scratch: slot 0 holds two sets of one chunk per child (alternating rounds); slot 1 holds the
// accumulator of an inner non-root rank (the root accumulates in its receive buffer, a leaf sends
// its send buffer as is).
#include "collectives/binomial_reduce.h"

#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"
#include "kernels/cpu/reduce.h"

namespace cohort {

Status BinomialReduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(ValidateArgs(io, args, CollectiveKind::kReduce, "binomial reduce"));
  const int size = io.size();
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t elem = args.element_bytes();
  const int vrank = ToVirtualRank(io.rank(), args.root, size);
  const bool is_root = vrank == 0;
  const int children = BinomialChildCount(vrank, size);
  const int first_mask = BinomialFirstChildMask(vrank, size);
  const int parent = is_root ? -1 : FromVirtualRank(BinomialParent(vrank), args.root, size);
  const std::byte* in = static_cast<const std::byte*>(args.send);

  const size_t chunk_elems = std::min(ChunkElements(ws.chunk_bytes, elem), args.count);
  const size_t chunk_bytes = chunk_elems * elem;
  const size_t chunks = ChunkCount(args.count, chunk_elems);
  std::byte* landing = nullptr;
  std::byte* accumulator = nullptr;
  if (children > 0) {
    COHORT_RETURN_IF_ERROR(GetScratch(ws, kPipelineSlot, 2 * children * chunk_bytes, &landing));
    if (is_root) {
      accumulator = static_cast<std::byte*>(args.recv);
    } else {
      COHORT_RETURN_IF_ERROR(GetScratch(ws, kStagingSlot, args.count * elem, &accumulator));
    }
  }
  // What this rank sends up: its reduced data, or its own input when it is a leaf.
  const std::byte* upward = children > 0 ? accumulator : in;

  for (size_t k = 0; k <= chunks; ++k) {
    if (k < chunks) {
      const Range r = ChunkRange(args.count, chunk_elems, k);
      std::byte* set = landing + (k % 2) * children * chunk_bytes;
      int child_index = 0;
      for (int mask = 1; mask <= first_mask; mask *= 2) {
        if (vrank + mask >= size) continue;
        const int child = FromVirtualRank(vrank + mask, args.root, size);
        COHORT_RETURN_IF_ERROR(io.Recv(child, set + child_index * chunk_bytes, r.count * elem));
        ++child_index;
      }
    }
    if (k >= 1) {
      // Chunk k-1 arrived in the previous round: reduce it while chunk k is in flight.
      const Range r = ChunkRange(args.count, chunk_elems, k - 1);
      const std::byte* set = landing + ((k - 1) % 2) * children * chunk_bytes;
      std::byte* acc = accumulator + r.offset * elem;
      for (int c = 0; c < children; ++c) {
        const std::byte* a = c == 0 ? in + r.offset * elem : acc;
        kernels::ReduceCopy(acc, a, set + c * chunk_bytes, r.count, args.dtype, args.op);
      }
      if (!is_root) {
        COHORT_RETURN_IF_ERROR(io.Send(parent, upward + r.offset * elem, r.count * elem));
      }
    }
    COHORT_RETURN_IF_ERROR(io.WaitAll());
  }
  if (is_root) ApplyAverage(args, size, args.recv, args.count);
  return Status::Ok();
}

}  // namespace cohort
