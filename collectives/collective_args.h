// CollectiveArgs and Workspace: what one collective call asks for, and the reusable scratch memory
// an algorithm may use. Counts follow NCCL:
//   allreduce, broadcast, reduce: `count` elements in and out.
//   reduce_scatter: `count` elements out per rank; the input holds size * count.
//   allgather: `count` elements in per rank; the output holds size * count.
//   alltoall: `count` elements to and from each peer; buffers hold size * count.
// In place: allreduce/broadcast/reduce/alltoall when send == recv; reduce_scatter when
// recv == send + rank * count; allgather when send == recv + rank * count (in elements).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/base/collective_kind.h"
#include "runtime/base/dtype.h"

namespace cohort {

class SharedArena;

// What an algorithm's applicability may depend on besides its arguments.
struct World {
  int size = 1;
  const SharedArena* arena = nullptr;  // PeerIo::arena(): every rank on one host, shm arena on
  // Hosts the ranks are on (1 when unknown), and whether some host has several of them.
  int num_nodes = 1;
  bool some_node_shared = false;
  // Every host has the same number of ranks and each host's ranks are consecutive (rank r on
  // host r / ranks_per_node): the layout the hierarchical allgather needs.
  bool nodes_uniform_blocks = false;
};

struct CollectiveArgs {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;
  DataType dtype = DataType::kF32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;
  // Where send and recv live. Algorithms only ever see CPU memory: CUDA buffers go to NCCL or
  // are staged through host memory by the communicator before an algorithm runs.
  Device device = Device::Cpu();

  size_t element_bytes() const { return DataTypeSize(dtype); }
};

// Grow-only scratch memory owned by a communicator: allocated on first need, reused by every
// later call, so that no collective allocates on its hot path. Large areas use huge pages where
// the kernel allows (first touch of 4 KiB pages is very slow on some hosts).
class Workspace {
 public:
  Workspace() = default;
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Scratch area `slot` (0..kSlots-1) of at least `bytes`; contents are not preserved across
  // growth. Distinct slots never overlap.
  static constexpr int kSlots = 4;
  void* Get(int slot, size_t bytes);

  // Elements per pipelined chunk (from COHORT_CHUNK_BYTES).
  size_t chunk_bytes = 1u << 20;

 private:
  struct Area {
    void* data = nullptr;
    size_t bytes = 0;
  };
  Area areas_[kSlots];
};

}  // namespace cohort
