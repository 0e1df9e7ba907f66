// BenchBackend: the system cohort-bench measures. The harness (bench_runner.h) is the same for
// every backend, so sizes, buffers, timing, checks and output agree and numbers compare:
//   cohort     the cohort communicator (blocking collectives)            cohort_backend.cc
//   mpi        MPI_COMM_WORLD, when built with MPI; start under mpirun   mpi_backend.cc
//   gloo-ring, gloo-hd   Gloo over its tcp transport, with the ring or halving-doubling
//              allreduce, when built with Gloo; start under cohortrun    gloo_backend.cc
// A backend that cannot run a case (MPI has no bf16; Gloo no reduce_scatter in place) says why
// and the harness prints the case as N/A. Everything may throw cohort::Error.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "benchmarks/cohort_bench/bench_options.h"
#include "runtime/base/collective_kind.h"
#include "runtime/base/dtype.h"

namespace cohort::bench {

class BenchBackend {
 public:
  virtual ~BenchBackend() = default;

  // "cohort", "mpi", "gloo-ring", "gloo-hd".
  virtual std::string_view name() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;
  virtual int num_nodes() const = 0;
  // This rank in the header ("Pid 123 on host node 0 peers: shm 3").
  virtual std::string RankLine() const = 0;

  // "" when the backend runs this case; otherwise why it does not.
  virtual std::string Unsupported(CollectiveKind kind, DataType dtype, ReduceOp op,
                                  bool in_place) const = 0;
  // One blocking collective; buffers as cohort's (collectives/collective_args.h).
  virtual void Run(CollectiveKind kind, const BufferView& send, const BufferView& recv,
                   ReduceOp op, int root) = 0;
  // What the last Run used ("shm_direct", "MPI_Allreduce"), for the JSON rows.
  virtual std::string LastAlgorithm() const = 0;

  // The harness's own bookkeeping, outside timed regions.
  virtual void Barrier() = 0;
  virtual double MaxOverRanks(double value) = 0;
  virtual long long SumOverRanks(long long value) = 0;
  // Every rank's `bytes` of `mine`, in rank order, into `all`.
  virtual void Allgather(const void* mine, size_t bytes, void* all) = 0;
  // A last header line ("# collectives on CUDA buffers: ..."), or "".
  virtual std::string Footnote() const { return ""; }
};

// `count` as the int MPI and Gloo take, or InvalidArgument naming `library` when it does not fit.
int IntCount(size_t count, const char* library);

// The backend options.baseline names (cohort when empty); joins the job.
std::unique_ptr<BenchBackend> MakeBackend(const BenchOptions& options);

}  // namespace cohort::bench
