// Rabenseifner allreduce; see rabenseifner_allreduce.h.
//
// The buffer is split into p2 blocks. Before the halving step at distance d, participant v holds
// the window of 2d blocks starting at (v / 2d) * 2d, the same window as its peer v ^ d; it keeps
// the half WindowAt(v, d) and sends the peer's half. After the last step v owns block v.
#include "collectives/rabenseifner_allreduce.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"
#include "collectives/recursive_doubling_allgather.h"
#include "collectives/recursive_doubling_allreduce.h"
#include "collectives/reduce_pipeline.h"

namespace cohort {

Status RabenseifnerAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(
      ValidateArgs(io, args, CollectiveKind::kAllreduce, "rabenseifner allreduce"));
  const int size = io.size();
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t elem = args.element_bytes();
  std::byte* out = static_cast<std::byte*>(args.recv);
  const Fold fold = FoldRanks(io.rank(), size);

  ReducePipeline pipeline(io, args, ws.chunk_bytes, args.count);
  COHORT_RETURN_IF_ERROR(pipeline.Init(ws));
  const std::byte* current = nullptr;
  COHORT_RETURN_IF_ERROR(FoldIn(io, args, pipeline, &current));
  if (fold.participates()) {
    for (int distance = fold.p2 / 2; distance >= 1; distance /= 2) {
      const int vpeer = fold.vrank ^ distance;
      const BlockWindow keep = WindowAt(fold.vrank, distance);
      const BlockWindow give = WindowAt(vpeer, distance);
      const Range kept = BlocksRange(args.count, fold.p2, keep.first, keep.span);
      const Range given = BlocksRange(args.count, fold.p2, give.first, give.span);
      ReduceStep step;
      step.send_peer = UnfoldRank(vpeer, size);
      step.send = current + given.offset * elem;
      step.send_count = given.count;
      step.recv_peer = step.send_peer;
      step.dst = out + kept.offset * elem;
      step.src = current + kept.offset * elem;
      step.recv_count = kept.count;
      COHORT_RETURN_IF_ERROR(pipeline.Run(step));
      current = out;
    }
    pipeline.Finish();
    const Range mine = BlockRange(args.count, fold.p2, fold.vrank);
    ApplyAverage(args, size, out + mine.offset * elem, mine.count);
    COHORT_RETURN_IF_ERROR(DoublingAllgatherBlocks(io, fold, out, args.count, elem));
  }
  pipeline.Finish();
  return FoldOut(io, args);
}

}  // namespace cohort
