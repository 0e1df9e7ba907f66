// Recursive doubling allgather; see recursive_doubling_allgather.h.
#include "collectives/recursive_doubling_allgather.h"

#include <string>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"

namespace cohort {
namespace detail {

Status DoublingAllgatherBlocks(PeerIo& io, const Fold& fold, std::byte* data, size_t count,
                               size_t element_bytes) {
  for (int span = 1; span < fold.p2; span *= 2) {
    const int vpeer = fold.vrank ^ span;
    const int peer = UnfoldRank(vpeer, io.size());
    const BlockWindow mine = WindowAt(fold.vrank, span);
    const BlockWindow theirs = WindowAt(vpeer, span);
    const Range out = BlocksRange(count, fold.p2, mine.first, mine.span);
    const Range in = BlocksRange(count, fold.p2, theirs.first, theirs.span);
    COHORT_RETURN_IF_ERROR(
        RecvNonEmpty(io, peer, data + in.offset * element_bytes, in.count * element_bytes));
    COHORT_RETURN_IF_ERROR(
        SendNonEmpty(io, peer, data + out.offset * element_bytes, out.count * element_bytes));
    COHORT_RETURN_IF_ERROR(io.WaitAll());
  }
  return Status::Ok();
}

}  // namespace detail

bool RecursiveDoublingAllgatherSupports(const CollectiveArgs& args, const World& world) {
  return args.kind == CollectiveKind::kAllgather && detail::IsPowerOfTwo(world.size);
}

Status RecursiveDoublingAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  (void)ws;
  COHORT_RETURN_IF_ERROR(detail::ValidateArgs(io, args, CollectiveKind::kAllgather,
                                              "recursive doubling allgather"));
  if (!RecursiveDoublingAllgatherSupports(args, World{io.size(), nullptr})) {
    return UnimplementedError("recursive doubling allgather needs a power-of-two world, not " +
                              std::to_string(io.size()));
  }
  if (io.size() == 1) return detail::RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t elem = args.element_bytes();
  std::byte* out = static_cast<std::byte*>(args.recv);
  detail::CopyIfDistinct(out + static_cast<size_t>(io.rank()) * args.count * elem, args.send,
                         args.count * elem);
  const detail::Fold fold = detail::FoldRanks(io.rank(), io.size());
  return detail::DoublingAllgatherBlocks(io, fold, out,
                                         args.count * static_cast<size_t>(io.size()), elem);
}

}  // namespace cohort
