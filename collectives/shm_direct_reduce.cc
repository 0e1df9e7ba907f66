// The reducing direct shared-memory collectives: allreduce (pipelined and one-shot) and reduce;
// see shm_direct.h.
//
// The pipeline of allreduce and reduce, K = number of slot-sized chunks, step s0 + k = chunk k:
//
//   copy_in(0); Sync                      (everyone's chunk 0 is in its slot)
//   for k in 0 .. K-1:
//     reduce(k)      rank r folds slice r of chunk k from every other rank's slot and its own
//                    input, writes the result into slice r of its own slot (and of its output)
//     copy_in(k + 1)
//     Sync           (slice results of chunk k and inputs of chunk k + 1 are published)
//     copy_out(k)    every other slice of chunk k, from its owner's slot, into the output
//
// Reads of chunk k's slots happen after Sync k and before Sync k + 2, as the arena's reuse rule
// requires; reduce(k) writes only slice r of its own slot, which nobody else reads before Sync
// k + 1. So K + 1 Syncs move K chunks, and a chunk stays in cache from copy_in to copy_out.
// copy_in skips slice r: this rank folds it straight from its input (1/n of a copy saved).
// Outputs are written with ordinary stores: non-temporal ones measured 20-40% slower here.
#include <algorithm>
#include <cstring>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/partition.h"
#include "collectives/shm_direct.h"
#include "collectives/shm_direct_util.h"
#include "kernels/cpu/reduce.h"

namespace cohort {

using detail::Range;

namespace {

// The pipeline above; `root` < 0: every rank copies out (allreduce), else only the root (reduce).
Status DirectReducePipeline(SharedArena& arena, const CollectiveArgs& args, Workspace& ws,
                            int root) {
  const size_t elem = args.element_bytes();
  const size_t count = args.count;
  const int n = arena.size();
  const int r = arena.rank();
  const auto* in = static_cast<const std::byte*>(args.send);
  auto* out = static_cast<std::byte*>(args.recv);
  const bool writes_output = root < 0 || r == root;
  const size_t chunk = detail::SlotElements(arena.slot_bytes(), elem);
  const size_t chunks = detail::ChunkCount(count, chunk);
  const void** sources = nullptr;
  COHORT_RETURN_IF_ERROR(detail::GetSourceArray(ws, n, &sources));
  const uint64_t s0 = arena.next_step();

  // Only the slices other ranks fold go through the slot; this rank folds its own slice straight
  // from its input (saves a copy of 1/n of every chunk).
  auto copy_in = [&](size_t k) {
    const Range c = detail::ChunkRange(count, chunk, k);
    const Range mine = detail::AlignedSlice(c.count, n, r, elem);
    std::byte* slot = arena.slot(r, s0 + k);
    std::memcpy(slot, in + c.offset * elem, mine.offset * elem);
    std::memcpy(slot + mine.end() * elem, in + (c.offset + mine.end()) * elem,
                (c.count - mine.end()) * elem);
  };
  auto reduce = [&](size_t k) {
    const Range c = detail::ChunkRange(count, chunk, k);
    const Range slice = detail::AlignedSlice(c.count, n, r, elem);
    if (slice.count == 0) return;
    for (int p = 0; p < n; ++p) sources[p] = arena.slot(p, s0 + k) + slice.offset * elem;
    sources[r] = in + (c.offset + slice.offset) * elem;
    std::byte* published = arena.slot(r, s0 + k) + slice.offset * elem;
    // Folding into the output (in place it is this slice's input: a source the kernel may
    // overwrite) writes it straight through; the published copy then comes from cache.
    std::byte* result = writes_output ? out + (c.offset + slice.offset) * elem : published;
    kernels::ReduceMany(result, sources, static_cast<size_t>(n), slice.count, args.dtype, args.op);
    detail::ApplyAverage(args, n, result, slice.count);
    if (result != published) std::memcpy(published, result, slice.count * elem);
  };
  auto copy_out = [&](size_t k) {
    if (!writes_output) return;
    const Range c = detail::ChunkRange(count, chunk, k);
    for (int p = 0; p < n; ++p) {
      if (p == r) continue;
      const Range slice = detail::AlignedSlice(c.count, n, p, elem);
      std::memcpy(out + (c.offset + slice.offset) * elem, arena.slot(p, s0 + k) + slice.offset * elem,
                  slice.count * elem);
    }
  };

  copy_in(0);
  COHORT_RETURN_IF_ERROR(arena.Sync());
  for (size_t k = 0; k < chunks; ++k) {
    reduce(k);
    if (k + 1 < chunks) copy_in(k + 1);
    COHORT_RETURN_IF_ERROR(arena.Sync());
    copy_out(k);
  }
  return Status::Ok();
}

}  // namespace

bool ShmOneShotSupports(const CollectiveArgs& args, const World& world) {
  return world.arena != nullptr && args.count * args.element_bytes() <= world.arena->slot_bytes();
}

Status ShmDirectAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kAllreduce,
                                                                    "shm_direct allreduce"));
  return arena == nullptr ? Status::Ok() : DirectReducePipeline(*arena, args, ws, /*root=*/-1);
}

Status ShmDirectReduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kReduce,
                                                                    "shm_direct reduce"));
  return arena == nullptr ? Status::Ok() : DirectReducePipeline(*arena, args, ws, args.root);
}

Status ShmOneShotAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kAllreduce,
                                                                    "shm_oneshot allreduce"));
  if (arena == nullptr) return Status::Ok();
  const size_t bytes = args.count * args.element_bytes();
  if (bytes > arena->slot_bytes()) {
    return UnimplementedError("shm_oneshot allreduce takes at most " +
                              std::to_string(arena->slot_bytes()) + " bytes (one arena slot), not " +
                              std::to_string(bytes));
  }
  const int n = arena->size();
  const void** sources = nullptr;
  COHORT_RETURN_IF_ERROR(detail::GetSourceArray(ws, n, &sources));
  const uint64_t step = arena->next_step();
  std::memcpy(arena->slot(arena->rank(), step), args.send, bytes);
  COHORT_RETURN_IF_ERROR(arena->Sync());
  // Every rank folds every slot in rank order, so all results are bit-identical.
  for (int p = 0; p < n; ++p) sources[p] = arena->slot(p, step);
  kernels::ReduceMany(args.recv, sources, static_cast<size_t>(n), args.count, args.dtype, args.op);
  detail::ApplyAverage(args, n, args.recv, args.count);
  return Status::Ok();
}

}  // namespace cohort
