// Dissemination barrier; see dissemination_barrier.h.
#include "collectives/dissemination_barrier.h"

#include "collectives/args_check.h"
#include "collectives/partition.h"

namespace cohort {

Status DisseminationBarrier(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  (void)ws;
  COHORT_RETURN_IF_ERROR(
      detail::ValidateArgs(io, args, CollectiveKind::kBarrier, "dissemination barrier"));
  const int rank = io.rank();
  const int size = io.size();
  for (int distance = 1; distance < size; distance *= 2) {
    // Zero-byte messages carry no data; matching them in order is the synchronisation.
    COHORT_RETURN_IF_ERROR(io.Recv(detail::PositiveMod(0LL + rank - distance, size), nullptr, 0));
    COHORT_RETURN_IF_ERROR(io.Send(detail::PositiveMod(0LL + rank + distance, size), nullptr, 0));
    COHORT_RETURN_IF_ERROR(io.WaitAll());
  }
  return Status::Ok();
}

}  // namespace cohort
