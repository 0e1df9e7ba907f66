// Ring allgather; see ring_allgather.h.
#include "collectives/ring_allgather.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"

namespace cohort {
namespace detail {

Status RingAllgatherBlocks(PeerIo& io, std::byte* data, size_t count, size_t element_bytes,
                           int owned_shift, const std::byte* own_source) {
  const int rank = io.rank();
  const int size = io.size();
  const int right = RingNext(rank, size);
  const int left = RingPrev(rank, size);
  for (int s = 0; s < size - 1; ++s) {
    const Range out = BlockRange(count, size, PositiveMod(0LL + rank + owned_shift - s, size));
    const Range in = BlockRange(count, size, PositiveMod(0LL + rank + owned_shift - s - 1, size));
    std::byte* out_data = data + out.offset * element_bytes;
    const bool from_source = s == 0 && own_source != nullptr;
    COHORT_RETURN_IF_ERROR(
        RecvNonEmpty(io, left, data + in.offset * element_bytes, in.count * element_bytes));
    COHORT_RETURN_IF_ERROR(SendNonEmpty(io, right, from_source ? own_source : out_data,
                                        out.count * element_bytes));
    // The owned block and the block being received are distinct, so the copy can run while
    // the network moves the first blocks.
    if (from_source) CopyIfDistinct(out_data, own_source, out.count * element_bytes);
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
  // Out of place, the own block goes out straight from `send` and is copied into `recv` while
  // the first step's transfer runs (in place it is already where it belongs).
  return detail::RingAllgatherBlocks(io, out, args.count * static_cast<size_t>(io.size()), elem,
                                     0, static_cast<const std::byte*>(args.send));
}

}  // namespace cohort
