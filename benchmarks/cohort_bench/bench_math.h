// The arithmetic of cohort-bench, as nccl-tests defines it: which sizes a sweep visits, how a
// size in bytes becomes a collective's element count and buffer sizes, and the bus bandwidth
// factor of each collective. Pure functions, no communicator.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/base/collective_kind.h"

namespace cohort::bench {

// The collectives cohort-bench measures; accepts our names and nccl-tests' (all_reduce, ...).
std::optional<CollectiveKind> ParseCollective(std::string_view name);

// Buffers of one call, in elements, following nccl-tests' getCollByteCount. `size_bytes` is
// the requested size; the count is rounded down so that every rank's share is whole.
struct BufferLayout {
  size_t count = 0;       // the call's count argument (NCCL semantics); the "count" column
  size_t send_count = 0;  // elements in the send buffer
  size_t recv_count = 0;  // elements in the receive buffer
  // In place, one buffer of max(send_count, recv_count) elements holds both: the send pointer
  // is buffer + rank * send_inplace_offset, the receive pointer buffer + rank * recv_inplace_offset.
  size_t send_inplace_offset = 0;
  size_t recv_inplace_offset = 0;
  size_t bytes = 0;  // the "size" column: the larger buffer, in bytes
};
BufferLayout LayoutFor(CollectiveKind kind, size_t size_bytes, size_t element_bytes, int nranks);

// busbw = algbw * factor: 2(n-1)/n for allreduce; (n-1)/n for reduce_scatter, allgather and
// alltoall; 1 for broadcast and reduce.
double BusBwFactor(CollectiveKind kind, int nranks);
// algbw in GB/s (1e9 bytes): the size column divided by the time.
double AlgBwGBs(size_t bytes, double seconds);

// minbytes, then times stepfactor (when > 1) or plus stepbytes, while <= maxbytes.
std::vector<size_t> SizeList(size_t min_bytes, size_t max_bytes, size_t step_factor,
                             size_t step_bytes);

}  // namespace cohort::bench
