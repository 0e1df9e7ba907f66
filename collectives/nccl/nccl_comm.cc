// NcclComm: non-blocking NCCL communicator, polled so that nothing hangs (see nccl_comm.h).
#include "collectives/nccl/nccl_comm.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <utility>

#include "collectives/nccl/nccl_mapping.h"

namespace cohort {

// What a call was doing, formatted only when it fails (the success path builds no strings).
struct NcclComm::OpInfo {
  const char* name;
  size_t count = 0;
  DataType dtype = DataType::kF32;
  int peer = -1;  // root or peer; -1 when the op has none
};

namespace {

// The destructor waits this long at most for ncclCommFinalize before aborting instead.
constexpr std::chrono::milliseconds kMaxFinalizeWait{60'000};

// Polling interval: a few microseconds first (most waits end at once), doubling up to 1 ms so
// that a long wait costs little CPU but still notices Abort() or a peer failure promptly.
class Backoff {
 public:
  void Sleep() {
    std::this_thread::sleep_for(delay_);
    delay_ = std::min(delay_ * 2, std::chrono::microseconds(1000));
  }

 private:
  std::chrono::microseconds delay_{4};
};

Status CudaError(cudaError_t code, std::string_view what, int rank) {
  cudaGetLastError();  // clear a sticky error so that it is not blamed on a later call
  return InternalError(std::string(what) + " failed on rank " + std::to_string(rank) + ": " +
                       cudaGetErrorName(code) + " (" + cudaGetErrorString(code) + ")");
}

// Makes `device` current on this thread for the scope and restores the previous device: NCCL
// binds a communicator to the device current at init, and the caller's device is its business.
class DeviceGuard {
 public:
  Status Enter(int device, int rank) {
    cudaError_t code = cudaGetDevice(&previous_);
    if (code != cudaSuccess) return CudaError(code, "cudaGetDevice", rank);
    code = cudaSetDevice(device);
    if (code != cudaSuccess) return CudaError(code, "cudaSetDevice", rank);
    entered_ = true;
    return Status::Ok();
  }
  ~DeviceGuard() {
    if (entered_) cudaSetDevice(previous_);
  }

 private:
  int previous_ = 0;
  bool entered_ = false;
};

}  // namespace

NcclComm::NcclComm(std::shared_ptr<const NcclLibrary> lib, int rank, int size, int device,
                   std::chrono::milliseconds call_timeout)
    : lib_(std::move(lib)), rank_(rank), size_(size), device_(device),
      call_timeout_(call_timeout) {}

Result<std::unique_ptr<NcclComm>> NcclComm::Create(std::shared_ptr<const NcclLibrary> lib,
                                                   Store& store, const std::string& key,
                                                   int rank, int size, int device,
                                                   Deadline deadline,
                                                   std::chrono::milliseconds call_timeout) {
  if (lib == nullptr) return InvalidArgumentError("NcclComm::Create needs a loaded NcclLibrary");
  if (size < 1 || rank < 0 || rank >= size) {
    return InvalidArgumentError("NCCL communicator rank " + std::to_string(rank) +
                                " is outside [0, " + std::to_string(size) + ")");
  }
  COHORT_RETURN_IF_ERROR(cuda::CheckDevice(Device::Cuda(device), rank));
  const std::string where = "rank " + std::to_string(rank) + " of " + std::to_string(size) +
                            " on cuda:" + std::to_string(device);

  // The unique id carries rank 0's bootstrap address; the store is authenticated, so only this
  // job's ranks learn it.
  ncclUniqueId id{};
  if (rank == 0) {
    COHORT_RETURN_IF_ERROR(
        NcclStatus(lib->fn().GetUniqueId(&id), "ncclGetUniqueId", rank, lib.get()));
    const auto* bytes = reinterpret_cast<const uint8_t*>(id.internal);
    COHORT_RETURN_IF_ERROR(store.Set(key, Bytes(bytes, bytes + sizeof(id.internal)))
                               .WithContext("publishing the NCCL unique id (store key '" + key +
                                            "') on " + where + ": "));
  } else {
    auto value = store.Get(key, std::chrono::milliseconds(deadline.remaining_ms()));
    if (!value.ok()) {
      return value.status().WithContext(where + " waiting for rank 0's NCCL unique id (store key '" +
                                        key + "'): ");
    }
    if (value->size() != sizeof(id.internal)) {
      return InvalidArgumentError("store key '" + key + "' holds " +
                                  std::to_string(value->size()) + " bytes, not an NCCL unique id (" +
                                  std::to_string(sizeof(id.internal)) + " bytes); is the key " +
                                  "used by something else?");
    }
    std::memcpy(id.internal, value->data(), sizeof(id.internal));
  }

  DeviceGuard guard;
  COHORT_RETURN_IF_ERROR(guard.Enter(device, rank));
  return Init(std::move(lib), id, rank, size, device, deadline, call_timeout);
}

Result<std::unique_ptr<NcclComm>> NcclComm::Init(std::shared_ptr<const NcclLibrary> lib,
                                                 const ncclUniqueId& id, int rank, int size,
                                                 int device, Deadline deadline,
                                                 std::chrono::milliseconds call_timeout) {
  if (lib == nullptr) return InvalidArgumentError("NcclComm::Init needs a loaded NcclLibrary");
  if (size < 1 || rank < 0 || rank >= size) {
    return InvalidArgumentError("NCCL communicator rank " + std::to_string(rank) +
                                " is outside [0, " + std::to_string(size) + ")");
  }
  const std::string where = "rank " + std::to_string(rank) + " of " + std::to_string(size) +
                            " on cuda:" + std::to_string(device);
  std::unique_ptr<NcclComm> comm(new NcclComm(std::move(lib), rank, size, device, call_timeout));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // every call returns at once; we poll, bounded by deadlines
  std::lock_guard<std::mutex> lock(comm->mu_);
  ncclResult_t result =
      comm->lib_->fn().CommInitRankConfig(&comm->comm_, size, id, rank, &config);
  if (result != ncclSuccess && result != ncclInProgress) {
    Status status = NcclStatus(result, "communicator init", rank, comm->lib_.get());
    if (comm->comm_ != nullptr) comm->AbortLocked(status);
    return status.WithContext(where + ": ");
  }
  // Init runs in NCCL's own thread; it ends when every rank has joined through the bootstrap.
  COHORT_RETURN_IF_ERROR(comm->WaitReadyLocked(
      OpInfo{"communicator init"}, deadline,
      "some rank did not join before the deadline (it may have failed, be slow to start, or "
      "use a different store key)"));
  return comm;
}

NcclComm::~NcclComm() {
  std::lock_guard<std::mutex> lock(mu_);
  if (comm_ == nullptr) return;
  // Finalize flushes outstanding work and may wait for peers; bounded, then abort instead.
  OpInfo info{"finalize"};
  Deadline deadline = Deadline::After(std::min(call_timeout_, kMaxFinalizeWait));
  ncclResult_t result = lib_->fn().CommFinalize(comm_);
  if (result != ncclSuccess && result != ncclInProgress) {
    AbortLocked(NcclStatus(result, "finalize", rank_, lib_.get(), comm_));
    return;
  }
  if (!WaitReadyLocked(info, deadline, "outstanding NCCL work did not finish").ok()) return;
  lib_->fn().CommDestroy(comm_);
  comm_ = nullptr;
}

std::string NcclComm::Describe(const OpInfo& info) const {
  std::string out = info.name;
  if (info.count > 0) {
    out += " of " + std::to_string(info.count) + " " + std::string(DataTypeName(info.dtype)) +
           " (" + std::to_string(info.count * DataTypeSize(info.dtype)) + " bytes)";
  }
  if (info.peer >= 0) out += " with rank " + std::to_string(info.peer);
  return out;
}

Status NcclComm::AbortedStatusLocked(const OpInfo& info) const {
  return AbortedError("NCCL " + Describe(info) + " on rank " + std::to_string(rank_) +
                      ": the NCCL communicator was aborted" +
                      (error_.ok() ? std::string() : " after: " + error_.ToString()));
}

void NcclComm::AbortLocked(const Status& reason) {
  abort_requested_.store(true, std::memory_order_release);
  if (comm_ == nullptr) return;
  if (error_.ok()) error_ = reason.ok() ? AbortedError("aborted by the caller") : reason;
  // ncclCommAbort stops the communicator's kernels and threads; it blocks only for cleanup.
  lib_->fn().CommAbort(comm_);
  comm_ = nullptr;
}

void NcclComm::Abort() {
  abort_requested_.store(true, std::memory_order_release);  // lets a polling call go first
  std::lock_guard<std::mutex> lock(mu_);
  AbortLocked(AbortedError("aborted by the caller"));
}

Status NcclComm::FailLocked(const OpInfo& info, ncclResult_t result, bool asynchronous) {
  Status status = NcclStatus(result, Describe(info), rank_, lib_.get(), comm_)
                      .WithContext(asynchronous ? "asynchronous error: " : "");
  // A bad argument leaves the communicator usable; anything else (peer, network, CUDA, NCCL
  // internals, or any asynchronous error) leaves it in an unknown state: abort so nothing hangs.
  if (asynchronous || NcclResultCode(result) != StatusCode::kInvalidArgument) {
    AbortLocked(status);
  }
  return status;
}

Status NcclComm::WaitReadyLocked(const OpInfo& info, Deadline deadline,
                                 std::string_view on_timeout) {
  Backoff backoff;
  while (true) {
    if (comm_ == nullptr) return AbortedStatusLocked(info);
    ncclResult_t state = ncclInProgress;
    ncclResult_t result = lib_->fn().CommGetAsyncError(comm_, &state);
    if (result != ncclSuccess) return FailLocked(info, result, false);
    if (state == ncclSuccess) return Status::Ok();
    if (state != ncclInProgress) return FailLocked(info, state, true);
    if (abort_requested_.load(std::memory_order_acquire)) return AbortedStatusLocked(info);
    if (deadline.expired()) {
      Status status = DeadlineExceededError(
          "NCCL " + Describe(info) + " on rank " + std::to_string(rank_) + " of " +
          std::to_string(size_) + " (cuda:" + std::to_string(device_) + ") timed out: " +
          std::string(on_timeout) + "; the NCCL communicator was aborted");
      AbortLocked(status);
      return status;
    }
    backoff.Sleep();
  }
}

template <typename Fn>
Status NcclComm::Call(const OpInfo& info, Fn&& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (comm_ == nullptr) return AbortedStatusLocked(info);
  ncclResult_t result = fn(comm_);
  if (result == ncclSuccess) return Status::Ok();
  if (result != ncclInProgress) return FailLocked(info, result, false);
  return WaitReadyLocked(info, Deadline::After(call_timeout_),
                         "NCCL did not finish enqueueing the operation");
}

Status NcclComm::CheckPeer(const OpInfo& info, int peer, std::string_view role) const {
  if (peer >= 0 && peer < size_) return Status::Ok();
  return InvalidArgumentError("NCCL " + std::string(info.name) + " on rank " +
                              std::to_string(rank_) + ": " + std::string(role) + " " +
                              std::to_string(peer) + " is outside [0, " + std::to_string(size_) +
                              ")");
}

Status NcclComm::AllReduce(const void* send, void* recv, size_t count, DataType dtype,
                           ReduceOp op, void* stream) {
  COHORT_ASSIGN_OR_RETURN(ncclDataType_t type, ToNcclDataType(dtype));
  COHORT_ASSIGN_OR_RETURN(ncclRedOp_t red, ToNcclRedOp(op, dtype));
  return Call({"allreduce", count, dtype}, [&](ncclComm_t c) {
    return lib_->fn().AllReduce(send, recv, count, type, red, c, static_cast<cudaStream_t>(stream));
  });
}

Status NcclComm::ReduceScatter(const void* send, void* recv, size_t recv_count, DataType dtype,
                               ReduceOp op, void* stream) {
  COHORT_ASSIGN_OR_RETURN(ncclDataType_t type, ToNcclDataType(dtype));
  COHORT_ASSIGN_OR_RETURN(ncclRedOp_t red, ToNcclRedOp(op, dtype));
  return Call({"reduce_scatter", recv_count, dtype}, [&](ncclComm_t c) {
    return lib_->fn().ReduceScatter(send, recv, recv_count, type, red, c,
                                    static_cast<cudaStream_t>(stream));
  });
}

Status NcclComm::AllGather(const void* send, void* recv, size_t send_count, DataType dtype,
                           void* stream) {
  COHORT_ASSIGN_OR_RETURN(ncclDataType_t type, ToNcclDataType(dtype));
  return Call({"allgather", send_count, dtype}, [&](ncclComm_t c) {
    return lib_->fn().AllGather(send, recv, send_count, type, c,
                                static_cast<cudaStream_t>(stream));
  });
}

Status NcclComm::Broadcast(const void* send, void* recv, size_t count, DataType dtype, int root,
                           void* stream) {
  OpInfo info{"broadcast", count, dtype, root};
  COHORT_RETURN_IF_ERROR(CheckPeer(info, root, "root"));
  COHORT_ASSIGN_OR_RETURN(ncclDataType_t type, ToNcclDataType(dtype));
  return Call(info, [&](ncclComm_t c) {
    return lib_->fn().Broadcast(send, recv, count, type, root, c,
                                static_cast<cudaStream_t>(stream));
  });
}

Status NcclComm::Reduce(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op,
                        int root, void* stream) {
  OpInfo info{"reduce", count, dtype, root};
  COHORT_RETURN_IF_ERROR(CheckPeer(info, root, "root"));
  COHORT_ASSIGN_OR_RETURN(ncclDataType_t type, ToNcclDataType(dtype));
  COHORT_ASSIGN_OR_RETURN(ncclRedOp_t red, ToNcclRedOp(op, dtype));
  return Call(info, [&](ncclComm_t c) {
    return lib_->fn().Reduce(send, recv, count, type, red, root, c,
                             static_cast<cudaStream_t>(stream));
  });
}

Status NcclComm::Send(const void* buf, size_t count, DataType dtype, int peer, void* stream) {
  OpInfo info{"send", count, dtype, peer};
  COHORT_RETURN_IF_ERROR(CheckPeer(info, peer, "peer"));
  COHORT_ASSIGN_OR_RETURN(ncclDataType_t type, ToNcclDataType(dtype));
  return Call(info, [&](ncclComm_t c) {
    return lib_->fn().Send(buf, count, type, peer, c, static_cast<cudaStream_t>(stream));
  });
}

Status NcclComm::Recv(void* buf, size_t count, DataType dtype, int peer, void* stream) {
  OpInfo info{"recv", count, dtype, peer};
  COHORT_RETURN_IF_ERROR(CheckPeer(info, peer, "peer"));
  COHORT_ASSIGN_OR_RETURN(ncclDataType_t type, ToNcclDataType(dtype));
  return Call(info, [&](ncclComm_t c) {
    return lib_->fn().Recv(buf, count, type, peer, c, static_cast<cudaStream_t>(stream));
  });
}

Status NcclComm::GroupStart() {
  // Group state lives in NCCL's thread-local storage, not in the communicator.
  COHORT_RETURN_IF_ERROR(NcclStatus(lib_->fn().GroupStart(), "group start", rank_, lib_.get()));
  group_depth_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

Status NcclComm::GroupEnd() {
  group_depth_.fetch_sub(1, std::memory_order_relaxed);
  OpInfo info{"group end"};
  std::lock_guard<std::mutex> lock(mu_);
  // Called even when the communicator was aborted meanwhile, so that NCCL's per-thread group
  // depth stays balanced and later NCCL calls on this thread are not swallowed by a dead group.
  ncclResult_t result = lib_->fn().GroupEnd();
  if (comm_ == nullptr) return AbortedStatusLocked(info);
  if (result == ncclSuccess) return Status::Ok();
  if (result != ncclInProgress) return FailLocked(info, result, false);
  // On a non-blocking communicator the launch continues in the background: poll it to the end.
  return WaitReadyLocked(info, Deadline::After(call_timeout_), "NCCL did not finish the launch");
}

Status NcclComm::AllToAll(const void* send, void* recv, size_t count_per_peer, DataType dtype,
                          void* stream) {
  COHORT_RETURN_IF_ERROR(ToNcclDataType(dtype).status());
  const size_t block_bytes = count_per_peer * DataTypeSize(dtype);
  const size_t total_bytes = block_bytes * static_cast<size_t>(size_);
  if (total_bytes == 0) return Status::Ok();
  const auto* send_bytes = static_cast<const uint8_t*>(send);
  auto* recv_bytes = static_cast<uint8_t*>(recv);
  // Sends and receives of one group run concurrently, so in place would overwrite blocks not yet
  // sent; send from a stream-ordered copy instead, freed in stream order after the group.
  void* staged = nullptr;
  if (send_bytes < recv_bytes + total_bytes && recv_bytes < send_bytes + total_bytes) {
    if (send != recv) {
      return InvalidArgumentError("NCCL alltoall on rank " + std::to_string(rank_) +
                                  ": send and recv buffers overlap without being the same");
    }
    if (group_depth_.load(std::memory_order_relaxed) > 0) {
      return InvalidArgumentError("NCCL alltoall on rank " + std::to_string(rank_) +
                                  ": in place is not supported inside GroupStart/GroupEnd (the "
                                  "temporary copy would be freed before the group launches)");
    }
    auto cuda_stream = static_cast<cudaStream_t>(stream);
    cudaError_t code = cudaMallocAsync(&staged, total_bytes, cuda_stream);
    if (code != cudaSuccess) return CudaError(code, "cudaMallocAsync for in-place alltoall", rank_);
    code = cudaMemcpyAsync(staged, send, total_bytes, cudaMemcpyDefault, cuda_stream);
    if (code != cudaSuccess) {
      cudaFreeAsync(staged, cuda_stream);
      return CudaError(code, "cudaMemcpyAsync for in-place alltoall", rank_);
    }
    send_bytes = static_cast<const uint8_t*>(staged);
  }

  Status status = GroupStart();
  if (status.ok()) {
    for (int peer = 0; status.ok() && peer < size_; ++peer) {
      size_t offset = static_cast<size_t>(peer) * block_bytes;
      status = Send(send_bytes + offset, count_per_peer, dtype, peer, stream);
      if (status.ok()) status = Recv(recv_bytes + offset, count_per_peer, dtype, peer, stream);
    }
    Status ended = GroupEnd();  // even after a failure: keeps NCCL's group depth balanced
    if (status.ok()) status = ended;
  }
  // Stream-ordered, so the copy lives until the group's kernels have read it.
  if (staged != nullptr) cudaFreeAsync(staged, static_cast<cudaStream_t>(stream));
  return status.WithContext("alltoall: ");
}

Status NcclComm::AsyncError() {
  std::lock_guard<std::mutex> lock(mu_);
  OpInfo info{"communicator"};
  if (comm_ == nullptr) return AbortedStatusLocked(info);
  ncclResult_t state = ncclSuccess;
  ncclResult_t result = lib_->fn().CommGetAsyncError(comm_, &state);
  if (result != ncclSuccess) return FailLocked(info, result, false);
  // In progress means work is still being enqueued: healthy.
  if (state == ncclSuccess || state == ncclInProgress) return Status::Ok();
  return FailLocked(info, state, true);
}

Status NcclComm::WaitEvent(const cuda::Event& event, Deadline deadline,
                           const std::function<Status()>& cancelled, std::string_view what) {
  const std::string name = what.empty() ? std::string("NCCL work") : std::string(what);
  Backoff backoff;
  while (true) {
    Result<bool> done = event.Query();
    if (!done.ok()) {
      Abort();
      return done.status().WithContext(name + " on rank " + std::to_string(rank_) + ": ");
    }
    if (*done) return Status::Ok();
    COHORT_RETURN_IF_ERROR(AsyncError());  // aborts on an asynchronous error
    if (cancelled) {
      Status stop = cancelled();
      if (!stop.ok()) {
        Abort();
        return stop;
      }
    }
    if (deadline.expired()) {
      Status status = DeadlineExceededError(
          name + " on rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
          " (cuda:" + std::to_string(device_) + ") did not finish before its deadline; the NCCL "
          "communicator was aborted. A rank may have failed or stopped, or ranks issued "
          "different collectives");
      std::lock_guard<std::mutex> lock(mu_);
      AbortLocked(status);
      return status;
    }
    backoff.Sleep();
  }
}

}  // namespace cohort
