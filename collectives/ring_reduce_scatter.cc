// Ring reduce-scatter; see ring_reduce_scatter.h.
//
// At step s rank r sends block r - s - 1 and receives block r - s - 2 (mod n), so the last step
// delivers block r. Partial sums live in one block-sized accumulator: the chunk a step sends was
// written by the previous step, and the pipeline finishes that write before sending it. Only the
// final step writes the receive buffer, so in place the other blocks of the input stay untouched.
#include "collectives/ring_reduce_scatter.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"
#include "collectives/reduce_pipeline.h"

namespace cohort {

Status RingReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(
      ValidateArgs(io, args, CollectiveKind::kReduceScatter, "ring reduce_scatter"));
  const int rank = io.rank();
  const int size = io.size();
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t elem = args.element_bytes();
  const size_t block_bytes = args.count * elem;
  const std::byte* in = static_cast<const std::byte*>(args.send);
  std::byte* accumulator = nullptr;
  if (size > 2) COHORT_RETURN_IF_ERROR(GetScratch(ws, kStagingSlot, block_bytes, &accumulator));

  ReducePipeline pipeline(io, args, ws.chunk_bytes, args.count);
  COHORT_RETURN_IF_ERROR(pipeline.Init(ws));
  for (int s = 0; s < size - 1; ++s) {
    const size_t sent = static_cast<size_t>(PositiveMod(0LL + rank - s - 1, size));
    const size_t got = static_cast<size_t>(PositiveMod(0LL + rank - s - 2, size));
    const bool last = s == size - 2;
    ReduceStep step;
    step.send_peer = RingNext(rank, size);
    step.send = s == 0 ? in + sent * block_bytes : accumulator;
    step.send_count = args.count;
    step.recv_peer = RingPrev(rank, size);
    step.dst = last ? static_cast<std::byte*>(args.recv) : accumulator;
    step.src = in + got * block_bytes;
    step.recv_count = args.count;
    COHORT_RETURN_IF_ERROR(pipeline.Run(step));
  }
  pipeline.Finish();
  ApplyAverage(args, size, args.recv, args.count);
  return Status::Ok();
}

}  // namespace cohort
