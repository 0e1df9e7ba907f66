// MultiTensorWorkspace: pinned staging slots, the device tensor table and the L2 partials, and
// the host code that turns a tensor list into a chunk table (see multi_tensor_table.cuh).
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/multi_tensor.h"
#include "kernels/cuda/multi_tensor_table.cuh"

namespace cohort::kernels::cuda {
namespace detail {
namespace {

// Makes `device` current for the lifetime of the guard (creating events and allocating happen
// on the current device), then restores the caller's.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    status_ = cudaSetDevice(device);
  }
  ~DeviceGuard() {
    if (previous_ >= 0) (void)cudaSetDevice(previous_);
  }
  cudaError_t status() const { return status_; }

 private:
  int previous_ = -1;
  cudaError_t status_ = cudaSuccess;
};

}  // namespace

WorkspaceState::~WorkspaceState() {
  if (device < 0) return;
  DeviceGuard guard(device);
  // Errors are dropped: a destructor cannot report them, and a failed device fails the next
  // call anyway.
  if (last_use != nullptr) {
    (void)cudaEventSynchronize(last_use);
    (void)cudaEventDestroy(last_use);
  }
  for (Staging& slot : staging) {
    if (slot.copied != nullptr) {
      (void)cudaEventSynchronize(slot.copied);
      (void)cudaEventDestroy(slot.copied);
    }
    if (slot.host != nullptr) (void)cudaFreeHost(slot.host);
  }
  if (table.data != nullptr) (void)cudaFree(table.data);
  if (scratch.data != nullptr) (void)cudaFree(scratch.data);
  if (blocks_done != nullptr) (void)cudaFree(blocks_done);
}

Status WorkspaceState::CheckCurrentDevice() const {
  int current = -1;
  COHORT_CUDA_RETURN_IF_ERROR(cudaGetDevice(&current));
  if (current != device) {
    return InvalidArgumentError("multi-tensor workspace belongs to cuda:" +
                                std::to_string(device) + " but the current device is cuda:" +
                                std::to_string(current) + "; make it current or use a workspace "
                                "created for cuda:" + std::to_string(current));
  }
  return Status::Ok();
}

Status WorkspaceState::Reserve(DeviceRegion& region, size_t bytes) {
  if (bytes <= region.bytes) return Status::Ok();
  // Grow geometrically so that a slowly growing workload reallocates a few times only.
  const size_t grown = std::max({bytes, 2 * region.bytes, size_t{4096}});
  COHORT_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(last_use));
  if (region.data != nullptr) {
    COHORT_CUDA_RETURN_IF_ERROR(cudaFree(region.data));
    region = {};
  }
  void* data = nullptr;
  const cudaError_t error = cudaMalloc(&data, grown);
  if (error != cudaSuccess) {
    return CudaStatus(("cudaMalloc of " + std::to_string(grown) +
                       " bytes for the multi-tensor workspace").c_str(), error);
  }
  region = {data, grown};
  return Status::Ok();
}

Status WorkspaceState::ReserveStaging(Staging& slot, size_t bytes) {
  if (bytes <= slot.bytes) return Status::Ok();
  const size_t grown = std::max({bytes, 2 * slot.bytes, size_t{4096}});
  // The caller already waited for slot.copied, so nothing reads the old memory.
  if (slot.host != nullptr) {
    COHORT_CUDA_RETURN_IF_ERROR(cudaFreeHost(slot.host));
    slot.host = nullptr;
    slot.bytes = 0;
  }
  COHORT_CUDA_RETURN_IF_ERROR(cudaHostAlloc(&slot.host, grown, cudaHostAllocDefault));
  slot.bytes = grown;
  return Status::Ok();
}

Status WorkspaceState::MarkUsed(cudaStream_t stream) {
  COHORT_CUDA_RETURN_IF_ERROR(cudaEventRecord(last_use, stream));
  return Status::Ok();
}

int WorkspaceState::GridFor(uint64_t work_items) const {
  const uint64_t most = static_cast<uint64_t>(std::max(sm_count, 1)) * kBlocksPerSm;
  return static_cast<int>(std::max<uint64_t>(1, std::min(work_items, most)));
}

Result<WorkspaceState*> UsableState(MultiTensorWorkspace& workspace) {
  WorkspaceState* ws = workspace.state();
  if (ws == nullptr || ws->device < 0) {
    return InvalidArgumentError(
        "multi-tensor call with a workspace that MultiTensorWorkspace::Create did not make "
        "(default-constructed or moved from)");
  }
  COHORT_RETURN_IF_ERROR(ws->CheckCurrentDevice());
  return ws;
}

Status BuildChunkTable(WorkspaceState& ws, std::span<const TensorEntry> entries,
                       ChunkTable& table, cudaStream_t stream) {
  const size_t n = entries.size();
  table.num_tensors = static_cast<uint32_t>(n);
  table.entries = nullptr;
  table.chunk_begin = nullptr;
  if (n <= kInlineTensors) {
    table.is_inline = 1;
    uint64_t chunks = 0;
    for (size_t t = 0; t < n; ++t) {
      table.inline_entries[t] = entries[t];
      table.inline_chunk_begin[t] = chunks;
      chunks += ChunksOf(entries[t].count);
    }
    table.inline_chunk_begin[n] = chunks;
    table.total_chunks = chunks;
    return Status::Ok();
  }
  if (n >= UINT32_MAX) {
    return InvalidArgumentError("multi-tensor call with " + std::to_string(n) +
                                " tensors; at most 2^32 - 2 per call");
  }
  table.is_inline = 0;
  const size_t entry_bytes = n * sizeof(TensorEntry);
  const size_t bytes = entry_bytes + (n + 1) * sizeof(uint64_t);

  WorkspaceState::Staging& slot = ws.staging[ws.next_slot];
  ws.next_slot = (ws.next_slot + 1) % WorkspaceState::kSlots;
  // The copy that last read this slot must have finished before the host rewrites it.
  COHORT_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.copied));
  COHORT_RETURN_IF_ERROR(ws.ReserveStaging(slot, bytes));
  COHORT_RETURN_IF_ERROR(ws.Reserve(ws.table, bytes));

  char* host = static_cast<char*>(slot.host);
  std::memcpy(host, entries.data(), entry_bytes);
  uint64_t* begin = reinterpret_cast<uint64_t*>(host + entry_bytes);
  uint64_t chunks = 0;
  for (size_t t = 0; t < n; ++t) {
    begin[t] = chunks;
    chunks += ChunksOf(entries[t].count);
  }
  begin[n] = chunks;
  table.total_chunks = chunks;

  char* device = static_cast<char*>(ws.table.data);
  COHORT_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream));
  COHORT_CUDA_RETURN_IF_ERROR(cudaEventRecord(slot.copied, stream));
  table.entries = reinterpret_cast<const TensorEntry*>(device);
  table.chunk_begin = reinterpret_cast<const uint64_t*>(device + entry_bytes);
  return Status::Ok();
}

}  // namespace detail

Result<MultiTensorWorkspace> MultiTensorWorkspace::Create(int device) {
  int count = 0;
  COHORT_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count) {
    return InvalidArgumentError("multi-tensor workspace for cuda:" + std::to_string(device) +
                                ", but " + std::to_string(count) + " CUDA devices are visible");
  }
  MultiTensorWorkspace workspace;
  detail::WorkspaceState& ws = *workspace.state_;
  detail::DeviceGuard guard(device);
  COHORT_CUDA_RETURN_IF_ERROR(guard.status());
  ws.device = device;
  COHORT_CUDA_RETURN_IF_ERROR(
      cudaDeviceGetAttribute(&ws.sm_count, cudaDevAttrMultiProcessorCount, device));
  COHORT_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&ws.last_use, cudaEventDisableTiming));
  for (detail::WorkspaceState::Staging& slot : ws.staging) {
    COHORT_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
  }
  COHORT_CUDA_RETURN_IF_ERROR(cudaMalloc(&ws.blocks_done, sizeof(uint32_t)));
  // Waited for here, so that no stream of the caller's (blocking or not) can see it unset.
  COHORT_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(ws.blocks_done, 0, sizeof(uint32_t), nullptr));
  COHORT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(nullptr));
  return Result<MultiTensorWorkspace>(std::move(workspace));
}

MultiTensorWorkspace::MultiTensorWorkspace()
    : state_(std::make_unique<detail::WorkspaceState>()) {}
MultiTensorWorkspace::MultiTensorWorkspace(MultiTensorWorkspace&&) noexcept = default;
MultiTensorWorkspace& MultiTensorWorkspace::operator=(MultiTensorWorkspace&&) noexcept = default;
MultiTensorWorkspace::~MultiTensorWorkspace() = default;

int MultiTensorWorkspace::device() const { return state_ ? state_->device : -1; }

Status MultiTensorWorkspace::Reserve(size_t tensors, size_t chunks) {
  COHORT_ASSIGN_OR_RETURN(detail::WorkspaceState* state, detail::UsableState(*this));
  detail::WorkspaceState& ws = *state;
  const size_t table_bytes =
      tensors * sizeof(detail::TensorEntry) + (tensors + 1) * sizeof(uint64_t);
  for (detail::WorkspaceState::Staging& slot : ws.staging) {
    COHORT_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.copied));
    COHORT_RETURN_IF_ERROR(ws.ReserveStaging(slot, table_bytes));
  }
  COHORT_RETURN_IF_ERROR(ws.Reserve(ws.table, table_bytes));
  COHORT_RETURN_IF_ERROR(ws.Reserve(ws.scratch, chunks * sizeof(detail::ChunkPartial)));
  ws.entries.reserve(tensors);
  ws.segments.reserve(tensors);
  return Status::Ok();
}

}  // namespace cohort::kernels::cuda
