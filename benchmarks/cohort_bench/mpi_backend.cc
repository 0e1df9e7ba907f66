// The MPI baseline of cohort-bench (--baseline mpi): the same cases through MPI_COMM_WORLD, for
// comparison in the same run. Start under mpirun. MPI has no f16, bf16 or average; its
// reduce_scatter cannot leave the result at nccl-tests' in-place offset: those cases are N/A.
// MPI errors return (MPI_ERRORS_RETURN) and become cohort::Error with MPI's own text.
// The C API only (Open MPI and MPICH would otherwise pull in their deprecated C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <unistd.h>

#include <cstring>

#include "benchmarks/cohort_bench/bench_backend.h"
#include "runtime/base/errors.h"

namespace cohort::bench {

namespace {

void Check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(StatusCode::kInternal, std::string(what) + " failed: " + std::string(text, length));
}

MPI_Datatype ToMpi(DataType dtype) {
  switch (dtype) {
    case DataType::kF32: return MPI_FLOAT;
    case DataType::kF64: return MPI_DOUBLE;
    case DataType::kI8: return MPI_INT8_T;
    case DataType::kU8: return MPI_UINT8_T;
    case DataType::kI32: return MPI_INT32_T;
    case DataType::kI64: return MPI_INT64_T;
    default: return MPI_DATATYPE_NULL;
  }
}

MPI_Op ToMpi(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return MPI_SUM;
    case ReduceOp::kProd: return MPI_PROD;
    case ReduceOp::kMin: return MPI_MIN;
    case ReduceOp::kMax: return MPI_MAX;
    default: return MPI_OP_NULL;
  }
}

int Count(size_t count) { return IntCount(count, "MPI"); }

class MpiBackend final : public BenchBackend {
 public:
  MpiBackend() {
    int provided = 0;
    Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SINGLE, &provided), "MPI_Init_thread");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    Check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
          "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_free(&local);
    int first_on_node = local_rank_ == 0 ? 1 : 0;
    Check(MPI_Allreduce(&first_on_node, &nodes_, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
  ~MpiBackend() override { MPI_Finalize(); }

  std::string_view name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int num_nodes() const override { return nodes_; }

  std::string RankLine() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string library(version, static_cast<size_t>(length));
    library = library.substr(0, library.find_first_of(",\n"));
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    return "Pid " + std::to_string(getpid()) + " on " + host + " MPI_COMM_WORLD rank " +
           std::to_string(rank_) + " (" + library + ")";
  }

  std::string Unsupported(CollectiveKind kind, DataType dtype, ReduceOp op,
                          bool in_place) const override {
    if (ToMpi(dtype) == MPI_DATATYPE_NULL) {
      return "MPI has no " + std::string(DataTypeName(dtype)) + " datatype";
    }
    if (IsReduction(kind) && ToMpi(op) == MPI_OP_NULL) return "MPI has no average op";
    if (kind == CollectiveKind::kReduceScatter && in_place) {
      return "MPI_Reduce_scatter_block in place leaves the result at the buffer's start, not at "
             "nccl-tests' offset";
    }
    return "";
  }

  void Run(CollectiveKind kind, const BufferView& send, const BufferView& recv, ReduceOp op,
           int root) override {
    const MPI_Datatype type = ToMpi(send.dtype);
    const bool same = send.data == recv.data;
    const int n = size_;
    switch (kind) {
      case CollectiveKind::kAllreduce:
        last_ = "MPI_Allreduce";
        Check(MPI_Allreduce(same ? MPI_IN_PLACE : send.data, recv.data, Count(recv.count), type,
                            ToMpi(op), MPI_COMM_WORLD), last_);
        break;
      case CollectiveKind::kReduceScatter:
        last_ = "MPI_Reduce_scatter_block";
        Check(MPI_Reduce_scatter_block(send.data, recv.data, Count(recv.count), type, ToMpi(op),
                                       MPI_COMM_WORLD), last_);
        break;
      case CollectiveKind::kAllgather: {
        last_ = "MPI_Allgather";
        const auto own = static_cast<char*>(recv.data) +
                         static_cast<size_t>(rank_) * send.count * DataTypeSize(send.dtype);
        const bool in_place = send.data == own;
        Check(MPI_Allgather(in_place ? MPI_IN_PLACE : send.data, Count(send.count), type,
                            recv.data, Count(send.count), type, MPI_COMM_WORLD), last_);
        break;
      }
      case CollectiveKind::kBroadcast:
        last_ = "MPI_Bcast";
        // nccl semantics: the root's result lands in its receive buffer too.
        if (rank_ == root && !same) std::memcpy(recv.data, send.data, recv.bytes());
        Check(MPI_Bcast(recv.data, Count(recv.count), type, root, MPI_COMM_WORLD), last_);
        break;
      case CollectiveKind::kReduce:
        last_ = "MPI_Reduce";
        Check(MPI_Reduce(rank_ == root && same ? MPI_IN_PLACE : send.data, recv.data,
                         Count(send.count), type, ToMpi(op), root, MPI_COMM_WORLD), last_);
        break;
      case CollectiveKind::kAlltoall:
        last_ = "MPI_Alltoall";
        Check(MPI_Alltoall(same ? MPI_IN_PLACE : send.data, Count(send.count / n), type, recv.data,
                           Count(recv.count / n), type, MPI_COMM_WORLD), last_);
        break;
      default:
        break;
    }
  }
  std::string LastAlgorithm() const override { return last_; }

  void Barrier() override { Check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  double MaxOverRanks(double value) override {
    Check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
          "MPI_Allreduce");
    return value;
  }
  long long SumOverRanks(long long value) override {
    Check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
    return value;
  }
  void Allgather(const void* mine, size_t bytes, void* all) override {
    Check(MPI_Allgather(mine, Count(bytes), MPI_BYTE, all, Count(bytes), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgather");
  }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, nodes_ = 1;
  const char* last_ = "";
};

}  // namespace

std::unique_ptr<BenchBackend> MakeMpiBackend() { return std::make_unique<MpiBackend>(); }

}  // namespace cohort::bench
