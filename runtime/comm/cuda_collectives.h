// CudaCollectives: how one communicator runs collectives and point-to-point messages on CUDA
// buffers. Two paths:
//   - NCCL (COHORT_CUDA_BACKEND=auto when libnccl.so.2 loads, or =nccl): one NCCL communicator
//     per device, created lazily on the first CUDA call (rank 0's unique id shared through the
//     store). The call is enqueued on the stream at once, as with NCCL; an event recorded after
//     it tells the Work when it is done.
//   - staged (no NCCL, or =staged): the caller's stream records an "input ready" event; the
//     progress thread copies chunks to pinned host memory, runs the CPU algorithm on each, and
//     copies results back, with the next chunk's copy in flight while one is communicated. The
//     Work (and so a blocking call) ends once results are back in device memory. Slow, correct.
// Which stream: the one set by set_stream(), else this communicator's own stream per device,
// created blocking so it is ordered after work on the legacy default stream.
//
// Thread safety: Issue* and the stream setters are called under the communicator's calling-side
// lock; Run*/Wait* on the progress thread; Abort() from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "collectives/collective_args.h"
#include "runtime/base/deadline.h"
#include "runtime/base/status.h"
#include "runtime/comm/staged_layout.h"
#include "runtime/config/config.h"
#include "runtime/device/cuda_runtime.h"
#include "runtime/store/store.h"

namespace cohort {

class NcclPath;  // cuda_collectives.cc: NCCL library and communicators (when built with NCCL)

class CudaCollectives {
 public:
  CudaCollectives(const Config& config, int rank, int size, std::shared_ptr<Store> store);
  ~CudaCollectives();
  CudaCollectives(const CudaCollectives&) = delete;
  CudaCollectives& operator=(const CudaCollectives&) = delete;

  enum class Path { kNccl, kStaged };
  // Decided on the first CUDA call and kept: NCCL if allowed and it loads, else staged (said
  // once at INFO); an error when COHORT_CUDA_BACKEND=nccl and NCCL does not load.
  Result<Path> ChoosePath();
  // "nccl 2.28.3 (/path/libnccl.so.2)" or "staged (why)"; empty before the first CUDA call.
  std::string PathDescription() const;

  void set_stream(void* stream) { user_stream_ = stream; }
  // The stream CUDA work is ordered on for `device`.
  Result<void*> StreamFor(int device);

  // ---- NCCL path (calling side) ----
  // Enqueues the collective (or, for kSendRecv, a send when `send` is set, else a receive from
  // `peer`) and returns an event recorded after it on the stream.
  Result<std::shared_ptr<cuda::Event>> IssueNccl(const CollectiveArgs& args, int peer);
  // Progress thread: waits for an IssueNccl event, polling NCCL's async errors and `cancelled`;
  // on any failure or the deadline the NCCL communicator is aborted, so nothing hangs.
  Status WaitNccl(int device, const cuda::Event& done, Deadline deadline,
                  const std::function<Status()>& cancelled);

  // ---- staged path ----
  // Calling side: an event on the stream after which the input is ready.
  Result<std::shared_ptr<cuda::Event>> RecordInputReady(int device);
  // Progress thread: runs `args` (CUDA buffers) chunk by chunk; `run_host` runs the CPU
  // algorithm on host buffers with the same kind, dtype, op and root.
  Status RunStaged(const CollectiveArgs& args, const cuda::Event& input_ready, Deadline deadline,
                   const std::function<Status(const CollectiveArgs&)>& run_host);
  // Progress thread, staged point-to-point: each message gets its own pinned buffer (messages
  // stay in flight side by side). StageOut copies a device buffer into a new one once its input
  // is ready; CopyIn copies a received message back to the device and waits for it.
  Result<cuda::PinnedBuffer> StageOut(int device, const void* device_data, size_t bytes,
                                      const cuda::Event& input_ready, Deadline deadline);
  Status CopyIn(int device, void* device_data, const void* host, size_t bytes, Deadline deadline);

  // Aborts NCCL communicators so that pending NCCL work ends; safe from any thread.
  void Abort();

 private:
  Result<void*> PinnedArea(int index, size_t bytes);
  Result<cuda::Stream*> StagingStream(int device);

  Config config_;
  int rank_;
  int size_;
  std::shared_ptr<Store> store_;
  void* user_stream_ = nullptr;

  mutable std::mutex mutex_;  // path choice and description (read by PathDescription)
  bool chosen_ = false;
  Path path_ = Path::kStaged;
  std::string path_description_;

  std::map<int, cuda::Stream> own_streams_;      // per device, calling side
  std::unique_ptr<NcclPath> nccl_;
  // Progress-thread staging state: pinned areas (grow-only) and one copy stream per device.
  cuda::PinnedBuffer pinned_[4];  // send and recv areas of two chunk slots
  std::map<int, cuda::Stream> staging_streams_;
  cuda::Event chunk_ready_[2];
  cuda::Event copies_done_;
  int events_device_ = -1;
};

}  // namespace cohort
