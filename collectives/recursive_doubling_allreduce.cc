// Recursive doubling allreduce; see recursive_doubling_allreduce.h.
//
// Both ranks of a pair compute a op b and b op a from the same values, and the ops are
// commutative, so every rank ends with identical bits.
#include "collectives/recursive_doubling_allreduce.h"

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"
#include "collectives/reduce_pipeline.h"

namespace cohort {
namespace detail {

Status FoldIn(PeerIo& io, const CollectiveArgs& args, ReducePipeline& pipeline,
              const std::byte** current) {
  const Fold fold = FoldRanks(io.rank(), io.size());
  *current = static_cast<const std::byte*>(args.send);
  if (fold.partner < 0) return Status::Ok();
  ReduceStep step;
  if (!fold.participates()) {
    step.send_peer = fold.partner;
    step.send = *current;
    step.send_count = args.count;
    return pipeline.Run(step);
  }
  step.recv_peer = fold.partner;
  step.dst = static_cast<std::byte*>(args.recv);
  step.src = *current;
  step.recv_count = args.count;
  COHORT_RETURN_IF_ERROR(pipeline.Run(step));
  *current = static_cast<const std::byte*>(args.recv);
  return Status::Ok();
}

Status FoldOut(PeerIo& io, const CollectiveArgs& args) {
  const Fold fold = FoldRanks(io.rank(), io.size());
  if (fold.partner < 0) return Status::Ok();
  const size_t bytes = args.count * args.element_bytes();
  if (fold.participates()) {
    COHORT_RETURN_IF_ERROR(SendNonEmpty(io, fold.partner, args.recv, bytes));
  } else {
    COHORT_RETURN_IF_ERROR(RecvNonEmpty(io, fold.partner, args.recv, bytes));
  }
  return io.WaitAll();
}

}  // namespace detail

Status RecursiveDoublingAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(
      ValidateArgs(io, args, CollectiveKind::kAllreduce, "recursive doubling allreduce"));
  const int size = io.size();
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  std::byte* out = static_cast<std::byte*>(args.recv);
  const Fold fold = FoldRanks(io.rank(), size);

  ReducePipeline pipeline(io, args, ws.chunk_bytes, args.count);
  COHORT_RETURN_IF_ERROR(pipeline.Init(ws));
  const std::byte* current = nullptr;
  COHORT_RETURN_IF_ERROR(FoldIn(io, args, pipeline, &current));
  if (fold.participates()) {
    for (int distance = 1; distance < fold.p2; distance *= 2) {
      const int peer = UnfoldRank(fold.vrank ^ distance, size);
      ReduceStep step;
      step.send_peer = peer;
      step.send = current;
      step.send_count = args.count;
      step.recv_peer = peer;
      step.dst = out;
      step.src = current;
      step.recv_count = args.count;
      COHORT_RETURN_IF_ERROR(pipeline.Run(step));
      current = out;
    }
    pipeline.Finish();
    ApplyAverage(args, size, out, args.count);
  }
  pipeline.Finish();
  return FoldOut(io, args);
}

}  // namespace cohort
