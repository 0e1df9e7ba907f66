// Communicator: a group of ranks and every collective among them. The public C++ API of cohort.
//
// Create one with cohort::init() (the process-wide default, from the environment set by
// cohortrun, mpirun, srun or torchrun) or Communicator::Create. Every collective comes in a
// blocking form and an *_async form returning a Work handle. Collectives must be called in the
// same order on every rank of the communicator. Buffers are described by BufferView (pointer,
// element count, dtype, device); counts follow NCCL (see collectives/collective_args.h).
//
// Errors: methods throw cohort::InvalidArgument (bad sizes, dtypes, ranks), TimeoutError (a wait
// exceeded COHORT_TIMEOUT), PeerError (a peer died or ranks disagree), UnsupportedError.
// After a peer failure the communicator is broken: pending and later calls fail with that error.
//
// Thread safety: calls from several threads are serialized in call order; a Work handle may be
// waited on from any thread. Destruction waits (bounded) for queued work and closes connections.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/collective_kind.h"
#include "runtime/base/dtype.h"
#include "runtime/base/errors.h"
#include "runtime/comm/work.h"
#include "runtime/config/config.h"
#include "runtime/config/identity.h"
#include "runtime/store/store.h"

namespace cohort {

class Communicator {
 public:
  // Joins the ranks of `identity` through `store` (shared by all ranks; the communicator uses
  // keys under "comm/<name>/"). Every rank of the group must call it with the same name.
  static std::unique_ptr<Communicator> Create(const Config& config, const Identity& identity,
                                              std::shared_ptr<Store> store,
                                              const std::string& name = "world");
  // The environment's identity, config and store (cohortrun, mpirun, srun, torchrun variables).
  static std::unique_ptr<Communicator> FromEnvironment();

  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // among ranks on this host
  virtual int local_size() const = 0;
  virtual int node_rank() const = 0;   // index of this host among the job's hosts
  virtual int node_of(int rank) const = 0;
  virtual int num_nodes() const = 0;
  virtual const std::string& host_of(int rank) const = 0;
  // "shm" or "tcp" for each peer ("self" for this rank).
  virtual std::string transport_to(int peer) const = 0;
  virtual const Config& config() const = 0;

  // ---- collectives (blocking) ----
  void allreduce(const BufferView& send, const BufferView& recv, ReduceOp op);
  void allreduce(BufferView inout, ReduceOp op) { allreduce(inout, inout, op); }
  void reduce_scatter(const BufferView& send, const BufferView& recv, ReduceOp op);
  void allgather(const BufferView& send, const BufferView& recv);
  void broadcast(const BufferView& send, const BufferView& recv, int root);
  void broadcast(BufferView inout, int root) { broadcast(inout, inout, root); }
  void reduce(const BufferView& send, const BufferView& recv, ReduceOp op, int root);
  void alltoall(const BufferView& send, const BufferView& recv);
  void barrier();
  void send(const BufferView& buffer, int peer);
  void recv(const BufferView& buffer, int peer);

  // ---- collectives (async): the call returns at once; buffers stay in use until the Work ends.
  virtual WorkPtr allreduce_async(const BufferView& send, const BufferView& recv, ReduceOp op) = 0;
  virtual WorkPtr reduce_scatter_async(const BufferView& send, const BufferView& recv,
                                       ReduceOp op) = 0;
  virtual WorkPtr allgather_async(const BufferView& send, const BufferView& recv) = 0;
  virtual WorkPtr broadcast_async(const BufferView& send, const BufferView& recv, int root) = 0;
  virtual WorkPtr reduce_async(const BufferView& send, const BufferView& recv, ReduceOp op,
                               int root) = 0;
  virtual WorkPtr alltoall_async(const BufferView& send, const BufferView& recv) = 0;
  virtual WorkPtr barrier_async() = 0;
  virtual WorkPtr send_async(const BufferView& buffer, int peer) = 0;
  virtual WorkPtr recv_async(const BufferView& buffer, int peer) = 0;

  // Ranks with the same `color` form a new communicator, ordered by (key, old rank). A negative
  // color takes part in the exchange but gets nullptr. Collective over this communicator.
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;

  // After ranks were lost in an elastic job (cohortrun --elastic, COHORT_ELASTIC=1): every
  // survivor calls shrink() and gets a new communicator of the survivors, ranked in their old
  // order, under a new store namespace (no message of the old one reaches it). Works on a broken
  // communicator. A rank counts as lost once the launcher reported it dead or when it has not
  // called shrink() within COHORT_TIMEOUT; a rank that comes later gets an error.
  virtual std::unique_ptr<Communicator> shrink() = 0;

  // Ends every pending and later operation on this communicator with an Aborted error at once.
  // Safe from any thread, any number of times; bounded in time.
  virtual void abort(const std::string& reason) = 0;

  // The last algorithm chosen for each collective, e.g. "ring" (for logs and benchmarks).
  virtual std::string last_algorithm() const = 0;

  // ---- CUDA buffers ----
  // Collectives accept buffers on a CUDA device (BufferView::device). With NCCL they are
  // enqueued on a stream as NCCL does: the call returns once the work is on the stream, later
  // work on that stream sees the result, and the Work ends when the stream reaches it. Without
  // NCCL (staged through host memory) the Work ends once results are back on the device.
  // The stream is `stream` (a cudaStream_t) for calls made after this; nullptr (the default)
  // means this communicator's own stream per device, ordered after the legacy default stream.
  virtual void set_cuda_stream(void* stream) = 0;
  // How collectives on CUDA buffers run here: "nccl 2.28.3 (...)", "staged through pinned host
  // memory (...)", or "" before the first such call.
  virtual std::string cuda_path() const = 0;

 protected:
  // Every blocking collective (not send/recv) comes through here. By default it is the async
  // form and a wait; an implementation may instead run the call on the calling thread (no
  // queue, no Work), which is what makes small collectives fast.
  virtual void RunBlocking(CollectiveKind kind, const BufferView& send, const BufferView& recv,
                           ReduceOp op, int root);
};

// The process-wide default communicator, created on first call from the environment.
Communicator& init();
// Destroys the default communicator (a later init() makes a new one).
void shutdown();
// Replaces the default communicator with init().shrink() (see Communicator::shrink) and
// returns the new one.
Communicator& shrink();
bool is_initialized();

}  // namespace cohort
