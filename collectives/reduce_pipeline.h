// ReducePipeline: the exchange-and-reduce engine under ring reduce-scatter, recursive doubling
// and Rabenseifner. A step sends a run of elements to one peer and receives a run from another
// (possibly the same) peer, combining it as dst = src op received. Each step is cut into chunks
// of ws.chunk_bytes; chunk k is in flight while chunk k-1 is reduced, so transfer overlaps the
// arithmetic. Received chunks land in two alternating scratch chunks (workspace slot 0).
//
// Hazards it handles: before posting a send it finishes the pending reduction if that reduction
// writes the bytes about to be sent (steps whose output is the next step's input with one chunk),
// so callers may chain steps freely. Callers must call Finish() before reading any dst.
//
// Matching: each chunk is one message, posted in chunk order; a step's send run on one rank and
// the matching receive run on its peer must have the same length (both skip empty chunks).
#pragma once

#include <cstddef>

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort::detail {

struct ReduceStep {
  int send_peer = -1;              // -1 or send_count == 0: nothing to send this step
  const std::byte* send = nullptr;
  size_t send_count = 0;
  int recv_peer = -1;              // -1 or recv_count == 0: nothing to receive this step
  std::byte* dst = nullptr;        // dst[i] = src[i] op received[i]; dst may equal src
  const std::byte* src = nullptr;
  size_t recv_count = 0;
};

class ReducePipeline {
 public:
  // `max_run` bounds every run a step sends or receives and must be the same on every rank (it
  // caps the chunk size, and chunking must agree between peers), e.g. args.count.
  ReducePipeline(PeerIo& io, const CollectiveArgs& args, size_t chunk_bytes, size_t max_run);

  // Takes the two receive chunks from the workspace; call once before Run.
  Status Init(Workspace& ws);
  // Posts and completes every chunk of `step`; the last chunk's reduction stays pending.
  Status Run(const ReduceStep& step);
  // Reduces the pending chunk, if any.
  void Finish();

 private:
  struct Pending {
    std::byte* dst = nullptr;
    const std::byte* src = nullptr;
    const std::byte* received = nullptr;
    size_t count = 0;
  };
  void ReducePending();

  PeerIo& io_;
  DataType dtype_;
  ReduceOp op_;
  size_t element_bytes_;
  size_t chunk_elems_;
  std::byte* chunks_[2] = {nullptr, nullptr};
  int next_chunk_ = 0;
  Pending pending_;
};

}  // namespace cohort::detail
