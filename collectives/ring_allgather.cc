// Ring allgather; see ring_allgather.h.
#include "collectives/ring_allgather.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"

namespace cohort {
namespace detail {

Status RingAllgatherBlocks(PeerIo& io, std::byte* data, size_t count, size_t element_bytes,
                           int owned_shift) {
  const int rank = io.rank();
  const int size = io.size();
  const int right = RingNext(rank, size);
  const int left = RingPrev(rank, size);
  for (int s = 0; s < size - 1; ++s) {
    const Range out = BlockRange(count, size, PositiveMod(0LL + rank + owned_shift - s, size));
    const Range in = BlockRange(count, size, PositiveMod(0LL + rank + owned_shift - s - 1, size));
    COHORT_RETURN_IF_ERROR(
        RecvNonEmpty(io, left, data + in.offset * element_bytes, in.count * element_bytes));
    COHORT_RETURN_IF_ERROR(
        SendNonEmpty(io, right, data + out.offset * element_bytes, out.count * element_bytes));
    COHORT_RETURN_IF_ERROR(io.WaitAll());
  }
  return Status::Ok();
}

}  // namespace detail

Status RingAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  (void)ws;
  COHORT_RETURN_IF_ERROR(
      detail::ValidateArgs(io, args, CollectiveKind::kAllgather, "ring allgather"));
  if (io.size() == 1) return detail::RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t elem = args.element_bytes();
  std::byte* out = static_cast<std::byte*>(args.recv);
  // In place, the own block is already where it belongs; otherwise copy it in first.
  detail::CopyIfDistinct(out + static_cast<size_t>(io.rank()) * args.count * elem, args.send,
                         args.count * elem);
  return detail::RingAllgatherBlocks(io, out, args.count * static_cast<size_t>(io.size()), elem,
                                     0);
}

}  // namespace cohort
