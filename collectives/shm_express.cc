// Express shared-memory collectives: small messages in one express exchange (SharedArena::
// Express), where every rank's contribution travels in cache lines that carry their own step
// number, so the whole call costs about one line transfer per 56 bytes per peer and no flag.
// Each rank gathers every contribution into workspace scratch and computes its own result; all
// ranks fold in rank order, so reductions agree bit for bit. See shm_direct.h.
#include <cstring>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/shm_direct.h"
#include "collectives/shm_direct_util.h"
#include "kernels/cpu/reduce.h"

namespace cohort {

namespace {

// Bytes one rank contributes to the exchange for args.
size_t Contribution(const CollectiveArgs& args, int size) {
  const size_t bytes = args.count * args.element_bytes();
  const bool blocks = args.kind == CollectiveKind::kReduceScatter ||
                      args.kind == CollectiveKind::kAlltoall;
  return blocks ? bytes * static_cast<size_t>(size) : bytes;
}

// Runs the exchange of `mine` into workspace scratch (or into `direct`, when the output is laid
// out as the gathered contributions); returns where the contributions start via `all`.
Status Gather(SharedArena& arena, const CollectiveArgs& args, const void* mine, Workspace& ws,
              std::byte* direct, std::byte** all) {
  const size_t bytes = Contribution(args, arena.size());
  if (bytes > arena.express_bytes()) {
    return UnimplementedError("shm_express takes at most " + std::to_string(arena.express_bytes()) +
                              " bytes per rank, not " + std::to_string(bytes));
  }
  if (direct != nullptr) {
    *all = direct;
  } else {
    COHORT_RETURN_IF_ERROR(
        detail::GetScratch(ws, detail::kStagingSlot, bytes * static_cast<size_t>(arena.size()), all));
  }
  return arena.Express(mine, bytes, *all);
}

// Folds element range [offset, offset + count) of every rank's contribution into dst.
Status FoldContributions(const CollectiveArgs& args, Workspace& ws, int n, const std::byte* all,
                         size_t stride, size_t offset, void* dst, size_t count) {
  const void** sources = nullptr;
  COHORT_RETURN_IF_ERROR(detail::GetSourceArray(ws, n, &sources));
  const size_t elem = args.element_bytes();
  for (int p = 0; p < n; ++p) sources[p] = all + static_cast<size_t>(p) * stride + offset * elem;
  kernels::ReduceMany(dst, sources, static_cast<size_t>(n), count, args.dtype, args.op);
  detail::ApplyAverage(args, n, dst, count);
  return Status::Ok();
}

}  // namespace

bool ShmExpressSupports(const CollectiveArgs& args, const World& world) {
  return world.arena != nullptr && Contribution(args, world.size) <= world.arena->express_bytes();
}

Status ShmExpressAllreduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kAllreduce,
                                                                    "shm_express allreduce"));
  if (arena == nullptr) return Status::Ok();
  std::byte* all = nullptr;
  COHORT_RETURN_IF_ERROR(Gather(*arena, args, args.send, ws, nullptr, &all));
  return FoldContributions(args, ws, arena->size(), all, args.count * args.element_bytes(), 0,
                           args.recv, args.count);
}

Status ShmExpressReduce(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kReduce,
                                                                    "shm_express reduce"));
  if (arena == nullptr) return Status::Ok();
  std::byte* all = nullptr;
  COHORT_RETURN_IF_ERROR(Gather(*arena, args, args.send, ws, nullptr, &all));
  if (arena->rank() != args.root) return Status::Ok();
  return FoldContributions(args, ws, arena->size(), all, args.count * args.element_bytes(), 0,
                           args.recv, args.count);
}

Status ShmExpressReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kReduceScatter,
                                                                    "shm_express reduce_scatter"));
  if (arena == nullptr) return Status::Ok();
  std::byte* all = nullptr;
  COHORT_RETURN_IF_ERROR(Gather(*arena, args, args.send, ws, nullptr, &all));
  const int n = arena->size();
  return FoldContributions(args, ws, n, all, Contribution(args, n),
                           static_cast<size_t>(arena->rank()) * args.count, args.recv, args.count);
}

Status ShmExpressAlltoall(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kAlltoall,
                                                                    "shm_express alltoall"));
  if (arena == nullptr) return Status::Ok();
  std::byte* all = nullptr;
  COHORT_RETURN_IF_ERROR(Gather(*arena, args, args.send, ws, nullptr, &all));
  const size_t block = args.count * args.element_bytes();
  const size_t stride = Contribution(args, arena->size());
  auto* out = static_cast<std::byte*>(args.recv);
  for (int p = 0; p < arena->size(); ++p) {
    std::memcpy(out + static_cast<size_t>(p) * block,
                all + static_cast<size_t>(p) * stride + static_cast<size_t>(arena->rank()) * block, block);
  }
  return Status::Ok();
}

Status ShmExpressAllgather(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kAllgather,
                                                                    "shm_express allgather"));
  if (arena == nullptr) return Status::Ok();
  // The output is every rank's contribution in rank order: gather straight into it.
  std::byte* all = nullptr;
  return Gather(*arena, args, args.send, ws, static_cast<std::byte*>(args.recv), &all);
}

Status ShmExpressBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kBroadcast,
                                                                    "shm_express broadcast"));
  if (arena == nullptr) return Status::Ok();
  // Every rank contributes the same number of bytes (a non-root its own buffer, unused).
  const void* mine = arena->rank() == args.root ? args.send : args.recv;
  std::byte* all = nullptr;
  COHORT_RETURN_IF_ERROR(Gather(*arena, args, mine, ws, nullptr, &all));
  const size_t bytes = args.count * args.element_bytes();
  detail::CopyIfDistinct(args.recv, all + static_cast<size_t>(args.root) * bytes, bytes);
  return Status::Ok();
}

Status ShmBarrier(PeerIo& io, const CollectiveArgs& args, Workspace&) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena,
                          detail::BeginShmCall(io, args, CollectiveKind::kBarrier, "shm barrier"));
  return arena == nullptr ? Status::Ok() : arena->Express(nullptr, 0, nullptr);
}

}  // namespace cohort
