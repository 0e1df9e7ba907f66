#include "runtime/comm/staged_layout.h"

#include <algorithm>

namespace cohort {

StagedLayout PlanStagedChunks(const CollectiveArgs& args, int rank, int size, size_t chunk_bytes) {
  StagedLayout layout;
  const size_t n = static_cast<size_t>(size);
  switch (args.kind) {
    case CollectiveKind::kReduceScatter: layout.send_rows = n; break;
    case CollectiveKind::kAllgather: layout.recv_rows = n; break;
    case CollectiveKind::kAlltoall: layout.send_rows = layout.recv_rows = n; break;
    default: break;
  }
  const bool is_root = rank == args.root;
  layout.copies_in = !(args.kind == CollectiveKind::kBroadcast && !is_root);
  layout.copies_out = !(args.kind == CollectiveKind::kReduce && !is_root);
  if (args.count == 0) return layout;
  const size_t rows = std::max(layout.send_rows, layout.recv_rows);
  const size_t per_row = chunk_bytes / (rows * args.element_bytes());
  layout.chunk_count = std::clamp<size_t>(per_row, 1, args.count);
  layout.num_chunks = (args.count + layout.chunk_count - 1) / layout.chunk_count;
  return layout;
}

}  // namespace cohort
