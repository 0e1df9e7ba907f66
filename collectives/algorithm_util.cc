// Helpers shared by the algorithms; see algorithm_util.h.
#include "collectives/algorithm_util.h"

#include <cstring>
#include <string>

#include "kernels/cpu/reduce.h"

namespace cohort::detail {

Status GetScratch(Workspace& ws, int slot, size_t bytes, std::byte** out) {
  void* data = ws.Get(slot, bytes);
  if (data == nullptr) {
    return InternalError("cannot allocate " + std::to_string(bytes) +
                         " bytes of collective scratch memory (workspace slot " +
                         std::to_string(slot) + "); lower COHORT_CHUNK_BYTES or the message size");
  }
  *out = static_cast<std::byte*>(data);
  return Status::Ok();
}

Status SendNonEmpty(PeerIo& io, int peer, const void* data, size_t bytes) {
  return bytes == 0 ? Status::Ok() : io.Send(peer, data, bytes);
}

Status RecvNonEmpty(PeerIo& io, int peer, void* data, size_t bytes) {
  return bytes == 0 ? Status::Ok() : io.Recv(peer, data, bytes);
}

void CopyIfDistinct(void* dst, const void* src, size_t bytes) {
  if (bytes != 0 && dst != src) std::memcpy(dst, src, bytes);
}

Status RunAlone(const CollectiveArgs& args) {
  // With one rank every collective's output is its input, count elements long (for allgather,
  // alltoall and reduce_scatter size * count == count as well).
  if (args.kind == CollectiveKind::kBarrier) return Status::Ok();
  CopyIfDistinct(args.recv, args.send, args.count * args.element_bytes());
  return Status::Ok();
}

void ApplyAverage(const CollectiveArgs& args, int size, void* data, size_t count) {
  if (args.op != ReduceOp::kAvg || count == 0 || size == 1) return;
  kernels::Scale(data, count, args.dtype, 1.0 / static_cast<double>(size));
}

}  // namespace cohort::detail
