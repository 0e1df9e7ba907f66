// Pairwise-exchange alltoall; see pairwise_alltoall.h.
#include "collectives/pairwise_alltoall.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"

namespace cohort {

Status PairwiseAlltoall(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(ValidateArgs(io, args, CollectiveKind::kAlltoall, "pairwise alltoall"));
  const int rank = io.rank();
  const int size = io.size();
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t block_bytes = args.count * args.element_bytes();
  const size_t total_bytes = block_bytes * static_cast<size_t>(size);
  std::byte* out = static_cast<std::byte*>(args.recv);
  const std::byte* in = static_cast<const std::byte*>(args.send);
  if (IsInPlace(args, rank, size)) {
    std::byte* staged = nullptr;
    COHORT_RETURN_IF_ERROR(GetScratch(ws, kStagingSlot, total_bytes, &staged));
    CopyIfDistinct(staged, in, total_bytes);
    in = staged;
  } else {
    CopyIfDistinct(out + rank * block_bytes, in + rank * block_bytes, block_bytes);
  }
  for (int k = 1; k < size; ++k) {
    const int to = PositiveMod(0LL + rank + k, size);
    const int from = PositiveMod(0LL + rank - k, size);
    COHORT_RETURN_IF_ERROR(io.Recv(from, out + from * block_bytes, block_bytes));
    COHORT_RETURN_IF_ERROR(io.Send(to, in + to * block_bytes, block_bytes));
    COHORT_RETURN_IF_ERROR(io.WaitAll());
  }
  return Status::Ok();
}

}  // namespace cohort
