// The cohort backend of cohort-bench: blocking collectives of the process-wide communicator.
#include <unistd.h>

#include <map>

#include "benchmarks/cohort_bench/bench_backend.h"
#include "runtime/cohort.h"

namespace cohort::bench {

namespace {

class CohortBackend final : public BenchBackend {
 public:
  CohortBackend() : comm_(cohort::init()) {}
  ~CohortBackend() override { cohort::shutdown(); }

  std::string_view name() const override { return "cohort"; }
  int rank() const override { return comm_.rank(); }
  int size() const override { return comm_.size(); }
  int local_rank() const override { return comm_.local_rank(); }
  int num_nodes() const override { return comm_.num_nodes(); }

  std::string RankLine() const override {
    std::map<std::string, int> peers_by_transport;
    for (int peer = 0; peer < comm_.size(); ++peer) {
      if (peer != comm_.rank()) ++peers_by_transport[comm_.transport_to(peer)];
    }
    std::string line = "Pid " + std::to_string(getpid()) + " on " + comm_.host_of(comm_.rank()) +
                       " node " + std::to_string(comm_.node_rank()) + " peers:";
    if (peers_by_transport.empty()) line += " none";
    for (const auto& [transport, n] : peers_by_transport) {
      line += " " + transport + " " + std::to_string(n);
    }
    return line;
  }

  std::string Unsupported(CollectiveKind, DataType, ReduceOp, bool) const override { return ""; }

  void Run(CollectiveKind kind, const BufferView& send, const BufferView& recv, ReduceOp op,
           int root) override {
    switch (kind) {
      case CollectiveKind::kAllreduce: comm_.allreduce(send, recv, op); break;
      case CollectiveKind::kReduceScatter: comm_.reduce_scatter(send, recv, op); break;
      case CollectiveKind::kAllgather: comm_.allgather(send, recv); break;
      case CollectiveKind::kBroadcast: comm_.broadcast(send, recv, root); break;
      case CollectiveKind::kReduce: comm_.reduce(send, recv, op, root); break;
      case CollectiveKind::kAlltoall: comm_.alltoall(send, recv); break;
      default: break;
    }
  }
  std::string LastAlgorithm() const override { return comm_.last_algorithm(); }

  void Barrier() override { comm_.barrier(); }
  double MaxOverRanks(double value) override {
    comm_.allreduce({&value, 1, DataType::kF64}, ReduceOp::kMax);
    return value;
  }
  long long SumOverRanks(long long value) override {
    int64_t v = value;
    comm_.allreduce({&v, 1, DataType::kI64}, ReduceOp::kSum);
    return v;
  }
  void Allgather(const void* mine, size_t bytes, void* all) override {
    comm_.allgather({const_cast<void*>(mine), bytes, DataType::kU8},
                    {all, bytes * static_cast<size_t>(comm_.size()), DataType::kU8});
  }
  std::string Footnote() const override {
    const std::string path = comm_.cuda_path();
    return path.empty() ? "" : "# collectives on CUDA buffers: " + path + "\n";
  }

 private:
  Communicator& comm_;
};

}  // namespace

std::unique_ptr<BenchBackend> MakeCohortBackend() { return std::make_unique<CohortBackend>(); }

}  // namespace cohort::bench
