// Direct shared-memory reduce_scatter, alltoall, allgather, broadcast and barrier; see
// shm_direct.h. Each is one phase per step: copy this rank's piece of chunk k into its slot,
// Sync, read what this rank needs from the others' slots. The reads end before the next copy
// (and so before Sync k + 1), within the arena's reuse rule.
//
// reduce_scatter and alltoall move `size` blocks per rank: a step carries the same element range
// of every block, block b at b * chunk in the slot.
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

// Runs `steps` steps: before each Sync, produce(k); after it, consume(k, step).
template <typename Produce, typename Consume>
Status RunSteps(SharedArena& arena, size_t steps, Produce produce, Consume consume) {
  for (size_t k = 0; k < steps; ++k) {
    const uint64_t step = arena.next_step();
    produce(k, step);
    COHORT_RETURN_IF_ERROR(arena.Sync());
    consume(k, step);
  }
  return Status::Ok();
}

// reduce_scatter (reduce = true) and alltoall: block b of this rank's input goes to rank b.
Status ScatterBlocks(SharedArena& arena, const CollectiveArgs& args, Workspace& ws, bool reduce) {
  const size_t elem = args.element_bytes();
  const size_t count = args.count;  // elements per block
  const int n = arena.size();
  const int r = arena.rank();
  const auto* in = static_cast<const std::byte*>(args.send);
  auto* out = static_cast<std::byte*>(args.recv);
  const size_t chunk = detail::SlotElements(arena.slot_bytes() / static_cast<size_t>(n), elem);
  if (chunk * static_cast<size_t>(n) * elem > arena.slot_bytes()) {
    return UnimplementedError("the arena's slots (" + std::to_string(arena.slot_bytes()) +
                              " bytes) are too small to hold a cache line for each of " +
                              std::to_string(n) + " ranks; raise COHORT_SHM_SLOT_BYTES");
  }
  const void** sources = nullptr;
  if (reduce) COHORT_RETURN_IF_ERROR(detail::GetSourceArray(ws, n, &sources));
  return RunSteps(
      arena, detail::ChunkCount(count, chunk),
      [&](size_t k, uint64_t step) {
        const Range c = detail::ChunkRange(count, chunk, k);
        std::byte* mine = arena.slot(r, step);
        for (int b = 0; b < n; ++b) {
          std::memcpy(mine + static_cast<size_t>(b) * chunk * elem,
                      in + (static_cast<size_t>(b) * count + c.offset) * elem, c.count * elem);
        }
      },
      [&](size_t k, uint64_t step) {
        const Range c = detail::ChunkRange(count, chunk, k);
        const size_t at = static_cast<size_t>(r) * chunk * elem;
        if (reduce) {
          for (int p = 0; p < n; ++p) sources[p] = arena.slot(p, step) + at;
          std::byte* result = out + c.offset * elem;
          kernels::ReduceMany(result, sources, static_cast<size_t>(n), c.count, args.dtype, args.op);
          detail::ApplyAverage(args, n, result, c.count);
          return;
        }
        for (int p = 0; p < n; ++p) {
          std::memcpy(out + (static_cast<size_t>(p) * count + c.offset) * elem,
                      arena.slot(p, step) + at, c.count * elem);
        }
      });
}

}  // namespace

bool ShmDirectSupports(const CollectiveArgs&, const World& world) { return world.arena != nullptr; }

Status ShmDirectReduceScatter(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kReduceScatter,
                                                                    "shm_direct reduce_scatter"));
  if (arena == nullptr) return Status::Ok();
  return ScatterBlocks(*arena, args, ws, /*reduce=*/true);
}

Status ShmDirectAlltoall(PeerIo& io, const CollectiveArgs& args, Workspace& ws) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kAlltoall,
                                                                    "shm_direct alltoall"));
  if (arena == nullptr) return Status::Ok();
  return ScatterBlocks(*arena, args, ws, /*reduce=*/false);
}

Status ShmDirectAllgather(PeerIo& io, const CollectiveArgs& args, Workspace&) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kAllgather,
                                                                    "shm_direct allgather"));
  if (arena == nullptr) return Status::Ok();
  const size_t elem = args.element_bytes();
  const size_t count = args.count;
  const int n = arena->size();
  const int r = arena->rank();
  const auto* in = static_cast<const std::byte*>(args.send);
  auto* out = static_cast<std::byte*>(args.recv);
  const size_t chunk = detail::SlotElements(arena->slot_bytes(), elem);
  return RunSteps(
      *arena, detail::ChunkCount(count, chunk),
      [&](size_t k, uint64_t step) {
        const Range c = detail::ChunkRange(count, chunk, k);
        std::memcpy(arena->slot(r, step), in + c.offset * elem, c.count * elem);
        // In place the own block already sits in the output (send == recv + r * count).
        detail::CopyIfDistinct(out + (static_cast<size_t>(r) * count + c.offset) * elem,
                               in + c.offset * elem, c.count * elem);
      },
      [&](size_t k, uint64_t step) {
        const Range c = detail::ChunkRange(count, chunk, k);
        for (int p = 0; p < n; ++p) {
          if (p == r) continue;
          std::memcpy(out + (static_cast<size_t>(p) * count + c.offset) * elem, arena->slot(p, step),
                      c.count * elem);
        }
      });
}

Status ShmDirectBroadcast(PeerIo& io, const CollectiveArgs& args, Workspace&) {
  COHORT_ASSIGN_OR_RETURN(SharedArena * arena, detail::BeginShmCall(io, args, CollectiveKind::kBroadcast,
                                                                    "shm_direct broadcast"));
  if (arena == nullptr) return Status::Ok();
  const size_t elem = args.element_bytes();
  const int root = args.root;
  const bool is_root = arena->rank() == root;
  const auto* in = static_cast<const std::byte*>(args.send);
  auto* out = static_cast<std::byte*>(args.recv);
  const size_t chunk = detail::SlotElements(arena->slot_bytes(), elem);
  return RunSteps(
      *arena, detail::ChunkCount(args.count, chunk),
      [&](size_t k, uint64_t step) {
        if (!is_root) return;
        const Range c = detail::ChunkRange(args.count, chunk, k);
        std::memcpy(arena->slot(root, step), in + c.offset * elem, c.count * elem);
        detail::CopyIfDistinct(out + c.offset * elem, in + c.offset * elem, c.count * elem);
      },
      [&](size_t k, uint64_t step) {
        if (is_root) return;
        const Range c = detail::ChunkRange(args.count, chunk, k);
        std::memcpy(out + c.offset * elem, arena->slot(root, step), c.count * elem);
      });
}


}  // namespace cohort
