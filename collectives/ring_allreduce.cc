// Ring allreduce; see ring_allreduce.h.
//
// Block b of the buffer (BlockRange(count, n, b)) is reduced along the ring starting at rank
// b + 1... ending at rank b - 1... : at step s rank r sends block r - s and receives block
// r - s - 1, reducing it as recv = send op received (so out of place the send buffer is only
// read). After n-1 steps rank r holds the finished block r + 1, which the allgather spreads.
#include "collectives/ring_allreduce.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"
#include "collectives/reduce_pipeline.h"
#include "collectives/ring_allgather.h"

namespace cohort {

Status RingAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(ValidateArgs(io, args, CollectiveKind::kAllreduce, "ring allreduce"));
  const int rank = io.rank();
  const int size = io.size();
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t elem = args.element_bytes();
  const std::byte* in = static_cast<const std::byte*>(args.send);
  std::byte* out = static_cast<std::byte*>(args.recv);

  ReducePipeline pipeline(io, args, ws.chunk_bytes, args.count);
  COHORT_RETURN_IF_ERROR(pipeline.Init(ws));
  for (int s = 0; s < size - 1; ++s) {
    const Range sent = BlockRange(args.count, size, PositiveMod(0LL + rank - s, size));
    const Range got = BlockRange(args.count, size, PositiveMod(0LL + rank - s - 1, size));
    ReduceStep step;
    step.send_peer = RingNext(rank, size);
    // Step 0 sends this rank's own contribution; later steps forward what the last step reduced.
    step.send = (s == 0 ? in : out) + sent.offset * elem;
    step.send_count = sent.count;
    step.recv_peer = RingPrev(rank, size);
    step.dst = out + got.offset * elem;
    step.src = in + got.offset * elem;
    step.recv_count = got.count;
    COHORT_RETURN_IF_ERROR(pipeline.Run(step));
  }
  pipeline.Finish();

  // Scale the finished block once, before it is shared, so all ranks hold identical bits.
  const Range mine = BlockRange(args.count, size, RingNext(rank, size));
  ApplyAverage(args, size, out + mine.offset * elem, mine.count);
  return RingAllgatherBlocks(io, out, args.count, elem, 1);
}

}  // namespace cohort
