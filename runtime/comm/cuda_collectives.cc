// CudaCollectives (see cuda_collectives.h): path choice, streams and the staged pipeline.
// The NCCL side lives in cuda_nccl_path.cc.
#include "runtime/comm/cuda_collectives.h"

#include <algorithm>

#include "runtime/base/logging.h"
#include "runtime/comm/cuda_nccl_path.h"

namespace cohort {

CudaCollectives::CudaCollectives(const Config& config, int rank, int size,
                                 std::shared_ptr<Store> store)
    : config_(config), rank_(rank), size_(size), store_(std::move(store)) {}

CudaCollectives::~CudaCollectives() = default;

Result<CudaCollectives::Path> CudaCollectives::ChoosePath() {
  std::lock_guard lock(mutex_);
  if (chosen_) return path_;
  std::string why_staged = "COHORT_CUDA_BACKEND=staged";
  if (config_.cuda_backend != CudaBackendChoice::kStaged) {
    Result<std::unique_ptr<NcclPath>> nccl = NcclPath::Load(config_, rank_, size_, store_);
    if (nccl.ok()) {
      nccl_ = std::move(*nccl);
      path_ = Path::kNccl;
      path_description_ = nccl_->Description();
    } else if (config_.cuda_backend == CudaBackendChoice::kNccl) {
      return Status(nccl.status().code(), "COHORT_CUDA_BACKEND=nccl but NCCL is not usable on rank " +
                                              std::to_string(rank_) + ": " +
                                              nccl.status().message());
    } else {
      why_staged = nccl.status().message();
    }
  }
  if (!nccl_) {
    path_ = Path::kStaged;
    path_description_ = "staged through pinned host memory (" + why_staged + ")";
  }
  chosen_ = true;
  COHORT_LOG(kInfo) << "collectives on CUDA buffers: " << path_description_
                    << (path_ == Path::kStaged ? "; this is the slow path" : "");
  return path_;
}

std::string CudaCollectives::PathDescription() const {
  std::lock_guard lock(mutex_);
  return path_description_;
}

Result<void*> CudaCollectives::StreamFor(int device) {
  if (user_stream_ != nullptr) return user_stream_;
  auto it = own_streams_.find(device);
  if (it == own_streams_.end()) {
    COHORT_ASSIGN_OR_RETURN(cuda::Stream stream, cuda::Stream::Create(device, /*blocking=*/true));
    it = own_streams_.emplace(device, std::move(stream)).first;
  }
  return it->second.get();
}

Result<std::shared_ptr<cuda::Event>> CudaCollectives::IssueNccl(const CollectiveArgs& args,
                                                                int peer) {
  if (!nccl_) return InternalError("IssueNccl without an NCCL path");
  const int device = args.device.index;
  COHORT_ASSIGN_OR_RETURN(void* stream, StreamFor(device));
  COHORT_RETURN_IF_ERROR(nccl_->Issue(args, peer, device, stream,
                                      Deadline::After(config_.timeout)));
  COHORT_ASSIGN_OR_RETURN(cuda::Event event, cuda::Event::Create(device));
  COHORT_RETURN_IF_ERROR(event.Record(stream));
  return std::make_shared<cuda::Event>(std::move(event));
}

Status CudaCollectives::WaitNccl(int device, const cuda::Event& done, Deadline deadline,
                                 const std::function<Status()>& cancelled) {
  if (!nccl_) return InternalError("WaitNccl without an NCCL path");
  return nccl_->Wait(device, done, deadline, cancelled);
}

void CudaCollectives::Abort() {
  if (nccl_) nccl_->Abort();
}

// ---- staged path ----

Result<std::shared_ptr<cuda::Event>> CudaCollectives::RecordInputReady(int device) {
  COHORT_ASSIGN_OR_RETURN(void* stream, StreamFor(device));
  COHORT_ASSIGN_OR_RETURN(cuda::Event event, cuda::Event::Create(device));
  COHORT_RETURN_IF_ERROR(event.Record(stream));
  return std::make_shared<cuda::Event>(std::move(event));
}

Result<void*> CudaCollectives::PinnedArea(int index, size_t bytes) {
  cuda::PinnedBuffer& area = pinned_[index];
  if (area.bytes() < bytes) {
    area = cuda::PinnedBuffer();  // free first: pinned memory is scarce
    COHORT_ASSIGN_OR_RETURN(area, cuda::PinnedBuffer::Allocate(std::max<size_t>(bytes, 4096)));
  }
  return area.data();
}

Result<cuda::Stream*> CudaCollectives::StagingStream(int device) {
  COHORT_RETURN_IF_ERROR(cuda::SetDevice(device));  // the progress thread's current device
  auto it = staging_streams_.find(device);
  if (it == staging_streams_.end()) {
    // Non-blocking: staging copies must not wait for unrelated work on the legacy stream.
    COHORT_ASSIGN_OR_RETURN(cuda::Stream stream, cuda::Stream::Create(device, false));
    it = staging_streams_.emplace(device, std::move(stream)).first;
  }
  if (events_device_ != device) {
    for (cuda::Event& event : chunk_ready_) {
      COHORT_ASSIGN_OR_RETURN(event, cuda::Event::Create(device));
    }
    COHORT_ASSIGN_OR_RETURN(copies_done_, cuda::Event::Create(device));
    events_device_ = device;
  }
  return &it->second;
}

Status CudaCollectives::RunStaged(const CollectiveArgs& args, const cuda::Event& input_ready,
                                  Deadline deadline,
                                  const std::function<Status(const CollectiveArgs&)>& run_host) {
  const int device = args.device.index;
  COHORT_ASSIGN_OR_RETURN(cuda::Stream * staging, StagingStream(device));
  void* stream = staging->get();
  COHORT_RETURN_IF_ERROR(input_ready.BlockStream(stream));
  const StagedLayout layout = PlanStagedChunks(args, rank_, size_, config_.staging_chunk_bytes);
  const size_t es = args.element_bytes();
  const size_t send_pitch = args.count * es;  // device rows are `count` elements apart
  const size_t recv_pitch = args.count * es;
  void* send_area[2];
  void* recv_area[2];
  for (int slot = 0; slot < 2; ++slot) {
    COHORT_ASSIGN_OR_RETURN(send_area[slot], PinnedArea(2 * slot, layout.send_chunk_bytes(es)));
    COHORT_ASSIGN_OR_RETURN(recv_area[slot], PinnedArea(2 * slot + 1, layout.recv_chunk_bytes(es)));
  }
  auto chunk_range = [&](size_t chunk, size_t* begin, size_t* elements) {
    *begin = chunk * layout.chunk_count;
    *elements = std::min(layout.chunk_count, args.count - *begin);
  };
  // Copies chunk `chunk` of the input into slot chunk % 2 and records that slot's event. Stream
  // order puts it after the previous copy-out of the same slot, so no area is overwritten early.
  auto copy_in = [&](size_t chunk) -> Status {
    const int slot = static_cast<int>(chunk % 2);
    if (layout.copies_in) {
      size_t begin, elements;
      chunk_range(chunk, &begin, &elements);
      COHORT_RETURN_IF_ERROR(cuda::Memcpy2DAsync(
          send_area[slot], elements * es, static_cast<const char*>(args.send) + begin * es,
          send_pitch, elements * es, layout.send_rows, stream));
    }
    return chunk_ready_[slot].Record(stream);
  };

  if (layout.num_chunks > 0) COHORT_RETURN_IF_ERROR(copy_in(0));
  for (size_t chunk = 0; chunk < layout.num_chunks; ++chunk) {
    const int slot = static_cast<int>(chunk % 2);
    // The next chunk's copy runs on the copy engine while this one is communicated.
    if (chunk + 1 < layout.num_chunks) COHORT_RETURN_IF_ERROR(copy_in(chunk + 1));
    COHORT_RETURN_IF_ERROR(chunk_ready_[slot].Wait(deadline));
    size_t begin, elements;
    chunk_range(chunk, &begin, &elements);
    CollectiveArgs host = args;
    host.device = Device::Cpu();
    host.count = elements;
    host.recv = recv_area[slot];
    // A non-root broadcast has no input: the algorithm receives in place into the recv area.
    host.send = layout.copies_in ? send_area[slot] : recv_area[slot];
    COHORT_RETURN_IF_ERROR(run_host(host));
    if (layout.copies_out) {
      COHORT_RETURN_IF_ERROR(cuda::Memcpy2DAsync(
          static_cast<char*>(args.recv) + begin * es, recv_pitch, recv_area[slot], elements * es,
          elements * es, layout.recv_rows, stream));
    }
  }
  COHORT_RETURN_IF_ERROR(copies_done_.Record(stream));
  return copies_done_.Wait(deadline);
}

Result<cuda::PinnedBuffer> CudaCollectives::StageOut(int device, const void* device_data,
                                                     size_t bytes, const cuda::Event& input_ready,
                                                     Deadline deadline) {
  COHORT_ASSIGN_OR_RETURN(cuda::Stream * staging, StagingStream(device));
  COHORT_ASSIGN_OR_RETURN(cuda::PinnedBuffer host, cuda::PinnedBuffer::Allocate(bytes));
  COHORT_RETURN_IF_ERROR(input_ready.BlockStream(staging->get()));
  COHORT_RETURN_IF_ERROR(cuda::MemcpyAsync(host.data(), device_data, bytes, staging->get()));
  COHORT_RETURN_IF_ERROR(copies_done_.Record(staging->get()));
  COHORT_RETURN_IF_ERROR(copies_done_.Wait(deadline));
  return host;
}

Status CudaCollectives::CopyIn(int device, void* device_data, const void* host, size_t bytes,
                               Deadline deadline) {
  COHORT_ASSIGN_OR_RETURN(cuda::Stream * staging, StagingStream(device));
  COHORT_RETURN_IF_ERROR(cuda::MemcpyAsync(device_data, host, bytes, staging->get()));
  COHORT_RETURN_IF_ERROR(copies_done_.Record(staging->get()));
  return copies_done_.Wait(deadline);
}

}  // namespace cohort
