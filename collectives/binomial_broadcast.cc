// Binomial-tree broadcast; see binomial_broadcast.h.
#include "collectives/binomial_broadcast.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"

namespace cohort {

Status BinomialBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(
      ValidateArgs(io, args, CollectiveKind::kBroadcast, "binomial broadcast"));
  const int size = io.size();
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t elem = args.element_bytes();
  const int vrank = ToVirtualRank(io.rank(), args.root, size);
  const bool is_root = vrank == 0;
  std::byte* out = static_cast<std::byte*>(args.recv);
  // The root forwards straight from its send buffer; everyone else from what it received.
  const std::byte* source = is_root ? static_cast<const std::byte*>(args.send) : out;
  if (is_root) CopyIfDistinct(out, args.send, args.count * elem);

  const size_t chunk_elems = ChunkElements(ws.chunk_bytes, elem);
  const size_t chunks = ChunkCount(args.count, chunk_elems);
  const int parent = is_root ? -1 : FromVirtualRank(BinomialParent(vrank), args.root, size);
  const int first_mask = BinomialFirstChildMask(vrank, size);
  // Round k receives chunk k (non-root) and forwards chunk k - 1 (chunk k at the root, which has
  // nothing to wait for); at most 1 + log2(n) requests are in flight.
  const size_t rounds = is_root ? chunks : chunks + 1;
  for (size_t k = 0; k < rounds; ++k) {
    if (!is_root && k < chunks) {
      const Range in = ChunkRange(args.count, chunk_elems, k);
      COHORT_RETURN_IF_ERROR(io.Recv(parent, out + in.offset * elem, in.count * elem));
    }
    const size_t forward = is_root ? k : k - 1;
    if (is_root || k >= 1) {
      const Range fw = ChunkRange(args.count, chunk_elems, forward);
      for (int mask = first_mask; mask > 0; mask /= 2) {
        if (vrank + mask >= size) continue;
        const int child = FromVirtualRank(vrank + mask, args.root, size);
        COHORT_RETURN_IF_ERROR(io.Send(child, source + fw.offset * elem, fw.count * elem));
      }
    }
    COHORT_RETURN_IF_ERROR(io.WaitAll());
  }
  return Status::Ok();
}

}  // namespace cohort
