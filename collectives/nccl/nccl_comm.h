// NcclComm: one NCCL communicator for one (cohort communicator, CUDA device) pair.
//
// Created non-blocking (config.blocking = 0) so that no NCCL call can hang the caller: every call
// returns at once, possibly with ncclInProgress, and NcclComm polls ncclCommGetAsyncError until
// the call is enqueued, it failed, or its deadline passed. On a peer failure, an asynchronous
// error, a timeout or cancellation, the NCCL communicator is aborted (ncclCommAbort), which stops
// its kernels and proxy threads, and every later call returns the error that ended it.
//
// The collective methods mirror NCCL (counts in elements, NCCL's conventions for reduce-scatter
// recv_count and allgather send_count, in-place when the pointers say so) and only enqueue work
// on `stream` (a cudaStream_t as void*); completion is observed by recording a cuda::Event after
// them and calling WaitEvent.
//
// Ownership: holds the NcclLibrary alive. Not copyable or movable.
// Thread safety: the enqueue methods, GroupStart/GroupEnd and WaitEvent are meant for one thread
// at a time (NCCL's group state is per thread); they are serialised by a mutex all the same.
// Abort() and AsyncError() may be called from any thread at any time, e.g. by a watchdog: Abort
// stops a call that is polling within about a millisecond. Destruction must not race any call.
// Blocking: Create blocks until every rank joined or `deadline`; enqueue calls block at most
// `call_timeout` (usually a few microseconds); WaitEvent until `deadline`; the destructor at most
// min(call_timeout, 60 s) before it aborts instead of finalizing.
#pragma once

#include <nccl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "collectives/nccl/nccl_library.h"
#include "runtime/base/deadline.h"
#include "runtime/base/dtype.h"
#include "runtime/base/status.h"
#include "runtime/device/cuda_runtime.h"
#include "runtime/store/store.h"

namespace cohort {

class NcclComm {
 public:
  // Joins the NCCL communicator of `size` ranks. Rank 0 creates NCCL's unique id and sets it
  // under `key` in `store` (a key used once per communicator: callers add a generation); the
  // others get it from there. Then initialises on `device` (the calling thread's current device
  // is restored afterwards). A rank that has not joined by `deadline` makes this fail with
  // kDeadlineExceeded naming rank, size and device. `call_timeout` bounds each later call's wait
  // for ncclInProgress (Config::timeout).
  static Result<std::unique_ptr<NcclComm>> Create(
      std::shared_ptr<const NcclLibrary> lib, Store& store, const std::string& key, int rank,
      int size, int device, Deadline deadline,
      std::chrono::milliseconds call_timeout = std::chrono::minutes(10));

  // The second half of Create, for callers that shared the unique id themselves: initialises on
  // the calling thread's current CUDA device, which must be `device` (not checked: this makes
  // no CUDA call, which also lets unit tests drive it with a fake libnccl).
  static Result<std::unique_ptr<NcclComm>> Init(
      std::shared_ptr<const NcclLibrary> lib, const ncclUniqueId& id, int rank, int size,
      int device, Deadline deadline,
      std::chrono::milliseconds call_timeout = std::chrono::minutes(10));

  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  // Finalizes and destroys the NCCL communicator when healthy; aborts it otherwise.
  ~NcclComm();

  // Collectives, enqueued on `stream`. Counts are elements of `dtype`.
  Status AllReduce(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op,
                   void* stream);
  // `send` holds size * recv_count elements; rank r keeps block r. In place when
  // recv == send + rank * recv_count.
  Status ReduceScatter(const void* send, void* recv, size_t recv_count, DataType dtype,
                       ReduceOp op, void* stream);
  // `recv` holds size * send_count elements. In place when send == recv + rank * send_count.
  Status AllGather(const void* send, void* recv, size_t send_count, DataType dtype, void* stream);
  Status Broadcast(const void* send, void* recv, size_t count, DataType dtype, int root,
                   void* stream);
  // `recv` is only written on `root`.
  Status Reduce(const void* send, void* recv, size_t count, DataType dtype, ReduceOp op, int root,
                void* stream);
  // Block p of `send` goes to rank p; block p of `recv` comes from rank p (count_per_peer
  // elements each), as one group of ncclSend/ncclRecv. In place (send == recv) goes through a
  // stream-ordered temporary copy, and is refused inside GroupStart/GroupEnd.
  Status AllToAll(const void* send, void* recv, size_t count_per_peer, DataType dtype,
                  void* stream);
  // Point-to-point; must be matched by the peer. Several in flight (or one to self) need a group.
  Status Send(const void* buf, size_t count, DataType dtype, int peer, void* stream);
  Status Recv(void* buf, size_t count, DataType dtype, int peer, void* stream);
  // Batch the calls between them into one NCCL launch (ncclGroupStart/ncclGroupEnd; nestable).
  Status GroupStart();
  Status GroupEnd();

  // Ok while healthy (work being enqueued counts as healthy); otherwise the asynchronous error,
  // after which the communicator is aborted.
  Status AsyncError();
  // Waits until `event` (recorded after NCCL work) completes, polling the event, AsyncError()
  // and `cancelled` (may be empty; e.g. the cohort communicator's abort / peer-failure check)
  // with short sleeps. On an error, `deadline` or cancellation, aborts and returns why;
  // `what` names the operation in a timeout message ("allreduce #12").
  Status WaitEvent(const cuda::Event& event, Deadline deadline,
                   const std::function<Status()>& cancelled, std::string_view what = {});
  // ncclCommAbort; idempotent and thread-safe. Later calls fail with kAborted.
  void Abort();

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }
  bool aborted() const { return abort_requested_.load(std::memory_order_acquire); }
  const NcclLibrary& library() const { return *lib_; }

 private:
  struct OpInfo;
  NcclComm(std::shared_ptr<const NcclLibrary> lib, int rank, int size, int device,
           std::chrono::milliseconds call_timeout);

  template <typename Fn>
  Status Call(const OpInfo& info, Fn&& fn);
  // Polls ncclCommGetAsyncError until the communicator is no longer in progress.
  Status WaitReadyLocked(const OpInfo& info, Deadline deadline, std::string_view on_timeout);
  Status FailLocked(const OpInfo& info, ncclResult_t result, bool asynchronous);
  void AbortLocked(const Status& reason);
  Status AbortedStatusLocked(const OpInfo& info) const;
  Status CheckPeer(const OpInfo& info, int peer, std::string_view role) const;
  std::string Describe(const OpInfo& info) const;

  const std::shared_ptr<const NcclLibrary> lib_;
  const int rank_;
  const int size_;
  const int device_;
  const std::chrono::milliseconds call_timeout_;

  mutable std::mutex mu_;
  ncclComm_t comm_ = nullptr;  // guarded by mu_; null once aborted or destroyed
  Status error_;               // guarded by mu_: what ended the communicator
  // Set before Abort() takes mu_, so that a call polling under mu_ lets go promptly.
  std::atomic<bool> abort_requested_{false};
  std::atomic<int> group_depth_{0};  // GroupStart minus GroupEnd, for the in-place alltoall check
};

}  // namespace cohort
