// The tensor table that lets one launch serve any number of tensors, and the workspace state
// behind MultiTensorWorkspace (private to kernels/cuda).
//
// Every tensor is cut into chunks of kMultiTensorChunkElements elements; chunk_begin[t] is the
// index of tensor t's first chunk in the flattened list of all chunks (chunk_begin[n] is the
// total). A block that takes chunk c finds its tensor by binary search over chunk_begin, so
// blocks spread evenly over the bytes whatever the mix of tensor sizes. Up to kInlineTensors
// entries travel inside the kernel parameters (read through a __grid_constant__ parameter, no
// copy); longer tables are staged through pinned host memory into the workspace's device table
// with one stream-ordered copy.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cuda/multi_tensor.h"
#include "runtime/base/status.h"

namespace cohort::kernels::cuda::detail {

inline constexpr int kBlockThreads = 256;
// Blocks launched per SM at most: more than can be resident, so that the hardware hands out
// chunks dynamically to whichever SM is free and short chunks do not leave SMs idle.
inline constexpr int kBlocksPerSm = 8;
inline constexpr uint32_t kInlineTensors = 48;
inline constexpr uint64_t kChunk = kMultiTensorChunkElements;

// One tensor of a launch. `head` is the first element index at which both src and dst are
// 16-byte aligned (kNoVector: never, so the tensor is copied element by element).
struct TensorEntry {
  const void* src;
  void* dst;
  uint64_t count;
  uint32_t head;
  uint32_t unused;
};

// One chunk's share of an L2 norm (in the workspace's scratch memory).
struct ChunkPartial {
  double sum_of_squares;
  uint32_t non_finite;
  uint32_t unused;
};

struct ChunkTable {
  const TensorEntry* entries;   // device table (unused when inline)
  const uint64_t* chunk_begin;  // device, num_tensors + 1 values (unused when inline)
  uint64_t total_chunks;
  uint32_t num_tensors;
  uint32_t is_inline;
  TensorEntry inline_entries[kInlineTensors];
  uint64_t inline_chunk_begin[kInlineTensors + 1];

  // Only valid on a __grid_constant__ kernel parameter (or in device memory): taking the
  // address of an ordinary parameter would make the compiler copy it to local memory.
  __device__ const TensorEntry* Entries() const { return is_inline ? inline_entries : entries; }
  __device__ const uint64_t* ChunkBegins() const {
    return is_inline ? inline_chunk_begin : chunk_begin;
  }
};
// Kernel parameters must stay under the classic 4 KiB limit (drivers before CUDA 12.1).
static_assert(sizeof(ChunkTable) <= 2048 + 512, "ChunkTable must fit in kernel parameters");

// The tensor that owns chunk `chunk` (< chunk_begin[n]): the t with
// chunk_begin[t] <= chunk < chunk_begin[t + 1], which skips empty tensors.
__device__ __forceinline__ uint32_t FindTensor(const uint64_t* chunk_begin, uint32_t n,
                                               uint64_t chunk) {
  uint32_t lo = 0, hi = n;  // invariant: chunk_begin[lo] <= chunk < chunk_begin[hi]
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (chunk_begin[mid] <= chunk) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

inline uint64_t ChunksOf(uint64_t count) { return (count + kChunk - 1) / kChunk; }

// A device allocation that only grows.
struct DeviceRegion {
  void* data = nullptr;
  size_t bytes = 0;
};

struct WorkspaceState {
  // Pinned staging slots used in turn; each remembers when the copy that read it finished, so
  // the host waits only when it runs more than kSlots tables ahead of the device.
  static constexpr size_t kSlots = 4;
  struct Staging {
    void* host = nullptr;
    size_t bytes = 0;
    cudaEvent_t copied = nullptr;
  };

  int device = -1;
  int sm_count = 0;
  std::array<Staging, kSlots> staging{};
  size_t next_slot = 0;
  DeviceRegion table;    // entries, then chunk_begin
  DeviceRegion scratch;  // L2 norm chunk partials
  // The L2 norm's count of finished blocks (l2_norm.cu): zeroed at creation, and left at zero by
  // every launch's last block. Not in `scratch`, whose regrowth would lose the zero.
  uint32_t* blocks_done = nullptr;
  cudaEvent_t last_use = nullptr;  // recorded after every call that used table or scratch
  std::vector<TensorEntry> entries;      // host scratch, reused by every call
  std::vector<CopySegment> segments;     // host scratch for pack/unpack

  WorkspaceState() = default;
  WorkspaceState(const WorkspaceState&) = delete;
  WorkspaceState& operator=(const WorkspaceState&) = delete;
  ~WorkspaceState();

  // Ok when the calling thread's current device is the workspace's.
  Status CheckCurrentDevice() const;
  // Grows `region` to at least `bytes`, waiting first for the last use of the old memory.
  Status Reserve(DeviceRegion& region, size_t bytes);
  Status ReserveStaging(Staging& slot, size_t bytes);
  // Records that work enqueued on `stream` so far may use table or scratch.
  Status MarkUsed(cudaStream_t stream);
  int GridFor(uint64_t work_items) const;
};

// The state of a workspace that Create made (an error for a default-constructed or moved-from
// one), after checking that its device is current.
Result<WorkspaceState*> UsableState(MultiTensorWorkspace& workspace);

// Fills `table` for `entries` (chunk_begin computed here): inline when they fit, else staged
// into the workspace's device table with a copy on `stream`. The caller must MarkUsed after
// its launches when !table.is_inline.
Status BuildChunkTable(WorkspaceState& ws, std::span<const TensorEntry> entries,
                       ChunkTable& table, cudaStream_t stream);

}  // namespace cohort::kernels::cuda::detail
