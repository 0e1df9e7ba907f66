// Recursive halving reduce-scatter; see recursive_halving_reduce_scatter.h.
//
// Partial sums live in an accumulator covering the first kept window (n/2 blocks); later windows
// nest inside it. Only the last step writes the receive buffer (block r).
#include "collectives/recursive_halving_reduce_scatter.h"

#include <string>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"
#include "collectives/reduce_pipeline.h"

namespace cohort {

bool RecursiveHalvingReduceScatterSupports(const CollectiveArgs& args, const World& world) {
  return args.kind == CollectiveKind::kReduceScatter && detail::IsPowerOfTwo(world.size);
}

Status RecursiveHalvingReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  using namespace detail;
  COHORT_RETURN_IF_ERROR(ValidateArgs(io, args, CollectiveKind::kReduceScatter,
                                      "recursive halving reduce_scatter"));
  const int rank = io.rank();
  const int size = io.size();
  if (!RecursiveHalvingReduceScatterSupports(args, World{size, nullptr})) {
    return UnimplementedError("recursive halving reduce_scatter needs a power-of-two world, not " +
                              std::to_string(size));
  }
  if (size == 1) return RunAlone(args);
  if (args.count == 0) return Status::Ok();
  const size_t block_bytes = args.count * args.element_bytes();
  const std::byte* in = static_cast<const std::byte*>(args.send);
  const size_t first_window = static_cast<size_t>(WindowAt(rank, size / 2).first);
  std::byte* accumulator = nullptr;
  if (size > 2) {
    COHORT_RETURN_IF_ERROR(GetScratch(ws, kStagingSlot, (size / 2) * block_bytes, &accumulator));
  }
  // Address of block b in the accumulator (only for blocks of the first kept window).
  auto acc_block = [&](int b) { return accumulator + (b - first_window) * block_bytes; };

  ReducePipeline pipeline(io, args, ws.chunk_bytes, args.count * static_cast<size_t>(size));
  COHORT_RETURN_IF_ERROR(pipeline.Init(ws));
  for (int distance = size / 2; distance >= 1; distance /= 2) {
    const bool first = distance == size / 2;
    const bool last = distance == 1;
    const BlockWindow keep = WindowAt(rank, distance);
    const BlockWindow give = WindowAt(rank ^ distance, distance);
    const size_t span_count = static_cast<size_t>(distance) * args.count;
    ReduceStep step;
    step.send_peer = rank ^ distance;
    step.send = first ? in + give.first * block_bytes : acc_block(give.first);
    step.send_count = span_count;
    step.recv_peer = step.send_peer;
    step.src = first ? in + keep.first * block_bytes : acc_block(keep.first);
    step.dst = last ? static_cast<std::byte*>(args.recv) : acc_block(keep.first);
    step.recv_count = span_count;
    COHORT_RETURN_IF_ERROR(pipeline.Run(step));
  }
  pipeline.Finish();
  ApplyAverage(args, size, args.recv, args.count);
  return Status::Ok();
}

}  // namespace cohort
