// CommunicatorImpl: the communicator behind the public API. Calls are queued in call order and
// run one at a time on this communicator's progress thread, which drives the links; so async
// work advances while the caller computes, and every rank runs collectives in the same order.
// A blocking collective that finds nothing queued and that the shared-memory arena serves runs
// on the calling thread instead (RunBlocking): no queue, no Work, no allocation, no wake-up.
// Any failure breaks the communicator: it is published to the other ranks (store key
// "cohort/abort", first writer wins) and every pending and later call fails with it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collectives/collective_args.h"
#include "collectives/selector.h"
#include "runtime/comm/comm_peer_io.h"
#include "runtime/comm/cuda_collectives.h"
#include "runtime/comm/fingerprint.h"
#include "runtime/comm/communicator.h"
#include "runtime/comm/op_history.h"
#include "runtime/comm/op_summary.h"
#include "runtime/comm/topology.h"
#include "runtime/transport/link.h"
#include "runtime/transport/node_arena.h"

namespace cohort {

// The job-wide key through which a failing rank or the launcher stops everyone.
inline constexpr char kAbortKey[] = "cohort/abort";
// cohortrun --elastic publishes kDeadRankKeyPrefix + rank for every rank it lost.
inline constexpr char kDeadRankKeyPrefix[] = "cohort/dead/";

class CommunicatorImpl final : public Communicator {
 public:
  static Result<std::unique_ptr<CommunicatorImpl>> Make(const Config& config,
                                                        const Identity& identity,
                                                        std::shared_ptr<Store> root_store,
                                                        const std::string& name);
  ~CommunicatorImpl() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return topo_.local_rank; }
  int local_size() const override { return topo_.local_size; }
  int node_rank() const override { return topo_.node_rank; }
  int node_of(int rank) const override;
  int num_nodes() const override { return topo_.num_nodes; }
  const std::string& host_of(int rank) const override;
  std::string transport_to(int peer) const override;
  const Config& config() const override { return config_; }

  WorkPtr allreduce_async(const BufferView& send, const BufferView& recv, ReduceOp op) override;
  WorkPtr reduce_scatter_async(const BufferView& send, const BufferView& recv,
                               ReduceOp op) override;
  WorkPtr allgather_async(const BufferView& send, const BufferView& recv) override;
  WorkPtr broadcast_async(const BufferView& send, const BufferView& recv, int root) override;
  WorkPtr reduce_async(const BufferView& send, const BufferView& recv, ReduceOp op,
                       int root) override;
  WorkPtr alltoall_async(const BufferView& send, const BufferView& recv) override;
  WorkPtr barrier_async() override;
  WorkPtr send_async(const BufferView& buffer, int peer) override;
  WorkPtr recv_async(const BufferView& buffer, int peer) override;

  std::unique_ptr<Communicator> split(int color, int key) override;
  std::unique_ptr<Communicator> shrink() override;  // communicator_shrink.cc
  void abort(const std::string& reason) override;
  std::string last_algorithm() const override;
  void set_cuda_stream(void* stream) override;
  std::string cuda_path() const override;

  // Keeps an object (e.g. the store server hosted by rank 0) alive as long as this communicator.
  void KeepAlive(std::shared_ptr<void> object) { keep_alive_.push_back(std::move(object)); }

  // Bytes of shared memory this rank allocated for its transports (rings and arena), and
  // whether the direct shared-memory collectives serve this communicator.
  size_t shm_bytes() const { return shm_bytes_; }

 protected:
  void RunBlocking(CollectiveKind kind, const BufferView& send, const BufferView& recv,
                   ReduceOp op, int root) override;

 private:
  struct Op {
    enum class Type { kCollective, kSend, kRecv } type = Type::kCollective;
    CollectiveArgs args;
    int peer = -1;
    void* data = nullptr;
    size_t bytes = 0;
    uint64_t tag = 0;
    OpSummary summary;  // sequence number, sizes, peer: what errors and the history say
    size_t history = 0;
    WorkPtr work;
    // CUDA buffers: how this op runs, and the event it waits for (see cuda_collectives.h).
    enum class DevicePath { kNone, kNccl, kStaged } device_path = DevicePath::kNone;
    std::shared_ptr<cuda::Event> device_event;
  };

  CommunicatorImpl(const Config& config, const Identity& identity,
                   std::shared_ptr<Store> root_store, std::string name);
  Status Connect();

  WorkPtr EnqueueCollective(CollectiveKind kind, const BufferView& send, const BufferView& recv,
                            ReduceOp op, int root);
  WorkPtr EnqueuePointToPoint(Op::Type type, const BufferView& buffer, int peer);
  // Gives op its sequence number (collectives) or message counter, tag and history entry;
  // under mutex_.
  void NumberLocked(Op& op, OpHistory::State state = OpHistory::State::kQueued);
  WorkPtr Enqueue(Op op);
  // RunBlocking's fast path: runs op on this thread if nothing is queued ahead of it and an
  // arena algorithm serves it. Returns false (nothing done) otherwise.
  bool TryRunInline(Op& op, Status* status);
  // communicator_cuda.cc: CUDA buffers go to NCCL at once (stream order) or are queued for the
  // staged path with an input-ready event.
  WorkPtr EnqueueCuda(Op op);
  Status RunCuda(Op& op);
  Status CancelledStatus();
  static WorkPtr FailedWork(std::string description, Status status);

  // A posted point-to-point message: it stays in flight while later operations run (like
  // MPI's irecv), and its Work completes when the link completes the request.
  struct InFlight {
    Request request;
    WorkPtr work;
    size_t history = 0;
    OpSummary summary;
    Deadline deadline = Deadline::Never();
    // Staged CUDA messages: the pinned copy, and where a received one goes on the device.
    cuda::PinnedBuffer staging;
    void* device_destination = nullptr;
    int device = -1;
  };
  // Staged point-to-point: copies a send to pinned memory, or posts a receive into pinned memory
  // that is copied to the device when it completes.
  Status PostStaged(Op& op, InFlight& entry);

  void ProgressLoop();
  void Execute(Op& op);
  // Runs a collective; `chosen` (optional) is the algorithm the caller already selected.
  Status Run(Op& op, const AlgorithmInfo* chosen = nullptr);
  // COHORT_DEBUG=DETAIL: all ranks exchange (sequence, collective, dtype, op, count, root) before
  // the collective and fail alike, naming two ranks and both their calls, if any differ.
  Status CheckFingerprints(const Op& op);
  // The final status of an operation (peer-loss cause and history added, failure published).
  Status Conclude(size_t history, Status status);
  void Finish(const WorkPtr& work, size_t history, Status status);
  // Adds the cause another rank or the launcher published to a "peer lost" error.
  Status ExplainPeerLoss(const Status& status);
  // For a timeout: "\n  wait chain: ..." naming the rank the chain of waits ends at (wait_chain.h).
  std::string ExplainTimeout(const Status& status);
  // Drives the links until a point-to-point request completes, a new call arrives, or a slice
  // of time passes; fails in-flight messages whose deadline passed.
  void PumpPointToPoint();
  void ReapPointToPoint();
  void FailInFlight(const Status& status);
  // Records (lock-free) and at INFO logs the algorithm; `algorithm` must be a static string.
  void LogAlgorithmChoice(const Op& op, std::string_view algorithm, bool staged = false);
  void PublishFailure(const Status& status);
  Status RemoteAbortStatus();
  // RemoteAbortStatus at most every kRemoteAbortCheckEvery (it asks the store); for the stalled
  // waits of the progress thread, which alone uses it.
  Status ThrottledRemoteAbortStatus();
  Status AbortStatus();

  Config config_;
  int rank_;
  int size_;
  std::string name_;
  // Where this rank publishes its failure: the job-wide kAbortKey, or under this communicator's
  // name when elastic (a later, smaller communicator must not see the old one's failure).
  std::string failure_key_;
  std::shared_ptr<Store> root_store_;
  std::shared_ptr<Store> store_;  // this communicator's namespace in root_store_
  Topology topo_;
  std::vector<std::unique_ptr<Link>> links_;
  std::unique_ptr<NodeArena> arena_;  // this host's ranks (comm_peer_io.h), or null
  size_t shm_bytes_ = 0;
  // How long a thread that waits for this communicator keeps its CPU (backoff.h): the
  // caller's thread in a blocking call and in Work::wait. The progress thread keeps the short
  // backoff::kYieldFor: the caller may be computing on the same CPU meanwhile.
  std::chrono::microseconds caller_yield_for_{0};
  std::unique_ptr<CommPeerIo> peer_io_;
  Workspace workspace_;
  OpHistory history_;
  std::vector<std::shared_ptr<void>> keep_alive_;
  std::unique_ptr<CudaCollectives> cuda_;
  std::mutex cuda_issue_mutex_;  // NCCL calls are issued in call order, like sequence numbers

  // Held while an operation runs, by the progress thread or an inline caller: the two never run
  // operations at once. Taken after mutex_ when both are needed.
  std::mutex exec_mutex_;

  // Queue shared with the progress thread.
  std::mutex mutex_;
  std::condition_variable queue_cv_;
  std::deque<Op> queue_;
  bool stopping_ = false;
  uint64_t next_sequence_ = 1;               // collectives, in call order
  std::vector<uint64_t> sends_to_, recvs_from_;  // point-to-point counters per peer
  int splits_ = 0;
  int shrinks_ = 0;

  std::atomic<bool> aborted_{false};
  mutable std::mutex status_mutex_;
  Status failure_;  // first failure or abort reason; broken once set
  std::atomic<const char*> last_algorithm_{""};
  std::atomic<bool> last_algorithm_staged_{false};
  std::set<std::pair<int, int>> logged_choices_;  // (kind, log2 bytes) said at INFO

  static constexpr auto kRemoteAbortCheckEvery = std::chrono::milliseconds(500);
  Clock::time_point last_remote_check_{};  // progress thread only

  // Progress-thread state for point-to-point messages.
  std::deque<InFlight> in_flight_;
  std::deque<InFlight> abandoned_;  // failed: links may still point at their Requests
  std::vector<Link*> raw_links_;
  std::vector<Request*> in_flight_requests_;
  std::vector<Fingerprint> fingerprints_;  // COHORT_DEBUG=DETAIL exchange, one per rank
  // Set whenever a call is queued or abort() runs, so a point-to-point wait returns at once.
  std::atomic<bool> wake_{false};

  std::thread progress_thread_;
};

}  // namespace cohort
