// The chunked exchange-and-reduce engine; see reduce_pipeline.h.
#include "collectives/reduce_pipeline.h"

#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/partition.h"
#include "kernels/cpu/reduce.h"

namespace cohort::detail {

ReducePipeline::ReducePipeline(PeerIo& io, const CollectiveArgs& args, size_t chunk_bytes,
                               size_t max_run)
    : io_(io),
      dtype_(args.dtype),
      op_(args.op),
      element_bytes_(args.element_bytes()),
      chunk_elems_(std::min(ChunkElements(chunk_bytes, element_bytes_),
                            std::max<size_t>(1, max_run))) {}

Status ReducePipeline::Init(Workspace& ws) {
  std::byte* base = nullptr;
  COHORT_RETURN_IF_ERROR(GetScratch(ws, kPipelineSlot, 2 * chunk_elems_ * element_bytes_, &base));
  chunks_[0] = base;
  chunks_[1] = base + chunk_elems_ * element_bytes_;
  return Status::Ok();
}

void ReducePipeline::ReducePending() {
  if (pending_.count == 0) return;
  kernels::ReduceCopy(pending_.dst, pending_.src, pending_.received, pending_.count, dtype_, op_);
  pending_ = Pending{};
}

void ReducePipeline::Finish() { ReducePending(); }

Status ReducePipeline::Run(const ReduceStep& step) {
  const size_t send_count = step.send_peer >= 0 ? step.send_count : 0;
  const size_t recv_count = step.recv_peer >= 0 ? step.recv_count : 0;
  const size_t chunks = std::max(ChunkCount(send_count, chunk_elems_),
                                 ChunkCount(recv_count, chunk_elems_));
  for (size_t c = 0; c < chunks; ++c) {
    const Range out = ChunkRange(send_count, chunk_elems_, c);
    const Range in = ChunkRange(recv_count, chunk_elems_, c);
    const std::byte* send = step.send + out.offset * element_bytes_;
    const size_t send_bytes = out.count * element_bytes_;
    // The pending reduction may write what we are about to send: finish it first.
    if (pending_.count != 0 && send_bytes != 0) {
      const std::byte* w = pending_.dst;
      const size_t w_bytes = pending_.count * element_bytes_;
      if (w < send + send_bytes && send < w + w_bytes) ReducePending();
    }
    std::byte* landing = chunks_[next_chunk_];
    if (in.count != 0) {
      COHORT_RETURN_IF_ERROR(io_.Recv(step.recv_peer, landing, in.count * element_bytes_));
    }
    if (send_bytes != 0) COHORT_RETURN_IF_ERROR(io_.Send(step.send_peer, send, send_bytes));
    // Overlap: the previous chunk's arithmetic runs while this chunk is on the wire.
    ReducePending();
    COHORT_RETURN_IF_ERROR(io_.WaitAll());
    if (in.count != 0) {
      pending_ = {step.dst + in.offset * element_bytes_, step.src + in.offset * element_bytes_,
                  landing, in.count};
      next_chunk_ ^= 1;
    }
  }
  return Status::Ok();
}

}  // namespace cohort::detail
