// The Gloo baselines of cohort-bench (--baseline gloo-ring | gloo-hd): the same cases through
// Debian's Gloo over its tcp transport, the backend torch.distributed's gloo uses. Start under
// cohortrun: ranks meet through cohort's authenticated store (a gloo::rendezvous::Store over it)
// and connect to each other on 127.0.0.1 (COHORT_SOCKET_IFNAME picks an interface instead).
//
// allreduce runs Gloo's AllreduceRing or AllreduceHalvingDoubling, in place as torch does (out of
// place first copies send to recv); allgather, broadcast, reduce and alltoall Gloo's option-style
// functions. reduce_scatter is N/A (see Unsupported). Algorithm objects are
// built once per buffer layout and reused, as Gloo intends. No bf16 or average: N/A.
#include <gloo/allgather.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/reduce.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "benchmarks/cohort_bench/bench_backend.h"
#include "runtime/base/errors.h"
#include "runtime/config/config.h"
#include "runtime/config/identity.h"
#include "runtime/net/socket.h"
#include "runtime/store/tcp_store.h"

namespace cohort::bench {

namespace {

// Gloo's rendezvous store, over cohort's: Gloo's throws on failure, ours returns Status.
class GlooStore final : public gloo::rendezvous::Store {
 public:
  GlooStore(std::shared_ptr<cohort::Store> store, std::chrono::milliseconds timeout)
      : store_(std::move(store)), timeout_(timeout) {}
  void set(const std::string& key, const std::vector<char>& data) override {
    ThrowIfError(store_->Set(key, Bytes(data.begin(), data.end())));
  }
  std::vector<char> get(const std::string& key) override {
    Bytes value = ValueOrThrow(store_->Get(key, timeout_));
    return std::vector<char>(value.begin(), value.end());
  }
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override {
    ThrowIfError(store_->Wait(keys, timeout));
  }

 private:
  std::shared_ptr<cohort::Store> store_;
  std::chrono::milliseconds timeout_;
};

// Calls fn with a typed pointer for the dtypes Gloo's templates take.
template <typename Fn>
void WithType(DataType dtype, Fn&& fn) {
  switch (dtype) {
    case DataType::kF32: return fn(static_cast<float*>(nullptr));
    case DataType::kF64: return fn(static_cast<double*>(nullptr));
    case DataType::kF16: return fn(static_cast<gloo::float16*>(nullptr));
    case DataType::kI8: return fn(static_cast<int8_t*>(nullptr));
    case DataType::kU8: return fn(static_cast<uint8_t*>(nullptr));
    case DataType::kI32: return fn(static_cast<int32_t*>(nullptr));
    case DataType::kI64: return fn(static_cast<int64_t*>(nullptr));
    default: throw UnsupportedError(StatusCode::kUnimplemented, "Gloo has no bf16");
  }
}

template <typename T>
const gloo::ReductionFunction<T>* Reduction(ReduceOp op) {
  switch (op) {
    case ReduceOp::kProd: return gloo::ReductionFunction<T>::product;
    case ReduceOp::kMin: return gloo::ReductionFunction<T>::min;
    case ReduceOp::kMax: return gloo::ReductionFunction<T>::max;
    default: return gloo::ReductionFunction<T>::sum;
  }
}

int Count(size_t count) { return IntCount(count, "Gloo"); }

class GlooBackend final : public BenchBackend {
 public:
  explicit GlooBackend(bool halving_doubling) : halving_doubling_(halving_doubling) {
    const EnvMap env = ProcessEnvironment();
    const Identity id = ValueOrThrow(DetectIdentity(env));
    const Config config = ValueOrThrow(ParseConfig(env));
    if (id.store_addr.empty()) {
      throw InvalidArgument(StatusCode::kInvalidArgument,
                            "--baseline gloo needs cohort's rendezvous store: start it with "
                            "cohortrun (or set MASTER_ADDR/MASTER_PORT and COHORT_JOB_SECRET)");
    }
    std::shared_ptr<cohort::Store> store = ValueOrThrow(TcpStoreClient::Connect(
        ValueOrThrow(ParseHostPort(id.store_addr)), config.secret, config.connect_timeout));
    auto prefixed = std::make_shared<PrefixStore>("gloo-baseline", std::move(store));
    rank_ = id.rank;
    size_ = id.size;
    local_rank_ = id.local_rank.value_or(id.rank);
    gloo::transport::tcp::attr attr;
    if (config.socket_ifname.empty()) {
      attr.hostname = "127.0.0.1";
    } else {
      attr.iface = config.socket_ifname;
    }
    auto device = gloo::transport::tcp::CreateDevice(attr);
    context_ = std::make_shared<gloo::rendezvous::Context>(rank_, size_);
    context_->setTimeout(config.timeout);
    GlooStore gloo_store(prefixed, config.connect_timeout);
    context_->connectFullMesh(gloo_store, device);
  }

  std::string_view name() const override { return halving_doubling_ ? "gloo-hd" : "gloo-ring"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int num_nodes() const override { return 1; }
  std::string RankLine() const override {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    return "Pid " + std::to_string(getpid()) + " on " + host + " Gloo rank " +
           std::to_string(rank_) + " (tcp transport, " +
           (halving_doubling_ ? "halving-doubling" : "ring") + " allreduce)";
  }

  std::string Unsupported(CollectiveKind kind, DataType dtype, ReduceOp op,
                          bool) const override {
    if (dtype == DataType::kBF16) return "Gloo has no bf16";
    if (kind == CollectiveKind::kReduceScatter) {
      // Debian's Gloo (2022) ReduceScatterHalvingDoubling hangs for 3 ranks and for small
      // blocks here; torch's gloo backend does not offer reduce_scatter on CPU either.
      return "Gloo's reduce_scatter (ReduceScatterHalvingDoubling) hangs on small or "
             "non-power-of-two inputs in this Gloo; not measured";
    }
    if (IsReduction(kind) && op == ReduceOp::kAvg) return "Gloo has no average op";
    return "";
  }

  void Run(CollectiveKind kind, const BufferView& send, const BufferView& recv, ReduceOp op,
           int root) override {
    if (recv.count == 0 && send.count == 0) return;  // Gloo divides by element counts
    WithType(send.dtype, [&](auto* typed) {
      using T = std::remove_pointer_t<decltype(typed)>;
      RunTyped<T>(kind, send, recv, op, root);
    });
  }
  std::string LastAlgorithm() const override { return last_; }

  void Barrier() override {
    gloo::BarrierOptions options(context_);
    gloo::barrier(options);
  }
  double MaxOverRanks(double value) override {
    gloo::AllreduceRing<double>(context_, {&value}, 1, gloo::ReductionFunction<double>::max).run();
    return value;
  }
  long long SumOverRanks(long long value) override {
    int64_t v = value;
    gloo::AllreduceRing<int64_t>(context_, {&v}, 1).run();
    return v;
  }
  void Allgather(const void* mine, size_t bytes, void* all) override {
    gloo::AllgatherOptions options(context_);
    options.setInput(static_cast<char*>(const_cast<void*>(mine)), bytes);
    options.setOutput(static_cast<char*>(all), bytes * static_cast<size_t>(size_));
    gloo::allgather(options);
  }

 private:
  // An algorithm object kept while the call's layout stays the same.
  struct Cached {
    CollectiveKind kind{};
    const void* send = nullptr;
    void* recv = nullptr;
    size_t count = 0;
    DataType dtype{};
    ReduceOp op{};
    std::unique_ptr<gloo::Algorithm> algorithm;
  };

  template <typename T>
  void RunTyped(CollectiveKind kind, const BufferView& send, const BufferView& recv, ReduceOp op,
                int root) {
    switch (kind) {
      case CollectiveKind::kAllreduce: {
        last_ = halving_doubling_ ? "gloo::AllreduceHalvingDoubling" : "gloo::AllreduceRing";
        if (send.data != recv.data) std::memcpy(recv.data, send.data, recv.bytes());
        Reuse(kind, send, recv, op, [&] {
          std::vector<T*> ptrs = {static_cast<T*>(recv.data)};
          return halving_doubling_ ? std::unique_ptr<gloo::Algorithm>(
                                         new gloo::AllreduceHalvingDoubling<T>(
                                             context_, ptrs, Count(recv.count), Reduction<T>(op)))
                                   : std::unique_ptr<gloo::Algorithm>(new gloo::AllreduceRing<T>(
                                         context_, ptrs, Count(recv.count), Reduction<T>(op)));
        });
        return;
      }
      case CollectiveKind::kAllgather: {
        last_ = "gloo::allgather";
        gloo::AllgatherOptions options(context_);
        const auto own = static_cast<T*>(recv.data) + static_cast<size_t>(rank_) * send.count;
        if (static_cast<T*>(send.data) != own) options.setInput(static_cast<T*>(send.data), send.count);
        options.setOutput(static_cast<T*>(recv.data), recv.count);
        gloo::allgather(options);
        return;
      }
      case CollectiveKind::kBroadcast: {
        last_ = "gloo::broadcast";
        gloo::BroadcastOptions options(context_);
        options.setRoot(root);
        if (rank_ == root) options.setInput(static_cast<T*>(send.data), send.count);
        options.setOutput(static_cast<T*>(recv.data), recv.count);
        gloo::broadcast(options);
        return;
      }
      case CollectiveKind::kReduce: {
        last_ = "gloo::reduce";
        gloo::ReduceOptions options(context_);
        options.setRoot(root);
        options.setInput(static_cast<T*>(send.data), send.count);
        // Non-roots need somewhere to put partial results; their receive buffer is unused.
        if (rank_ == root) {
          options.setOutput(static_cast<T*>(recv.data), recv.count);
        } else {
          scratch_.resize(send.bytes());
          options.setOutput(reinterpret_cast<T*>(scratch_.data()), send.count);
        }
        options.setReduceFunction(ReduceFunction<T>(op));
        gloo::reduce(options);
        return;
      }
      case CollectiveKind::kAlltoall: {
        last_ = "gloo::alltoall";
        gloo::AlltoallOptions options(context_);
        T* in = static_cast<T*>(send.data);
        if (send.data == recv.data) {  // Gloo needs distinct buffers
          scratch_.resize(send.bytes());
          std::memcpy(scratch_.data(), send.data, send.bytes());
          in = reinterpret_cast<T*>(scratch_.data());
        }
        options.setInput(in, send.count);
        options.setOutput(static_cast<T*>(recv.data), recv.count);
        gloo::alltoall(options);
        return;
      }
      default:
        return;
    }
  }

  template <typename T>
  static gloo::ReduceOptions::Func ReduceFunction(ReduceOp op) {
    using Fn = void (*)(void*, const void*, const void*, size_t);
    switch (op) {
      case ReduceOp::kProd: return static_cast<Fn>(&gloo::product<T>);
      case ReduceOp::kMin: return static_cast<Fn>(&gloo::min<T>);
      case ReduceOp::kMax: return static_cast<Fn>(&gloo::max<T>);
      default: return static_cast<Fn>(&gloo::sum<T>);
    }
  }

  template <typename Make>
  void Reuse(CollectiveKind kind, const BufferView& send, const BufferView& recv, ReduceOp op,
             Make make) {
    Cached& c = cached_;
    if (!c.algorithm || c.kind != kind || c.send != send.data || c.recv != recv.data ||
        c.count != send.count || c.dtype != send.dtype || c.op != op) {
      c.algorithm.reset();
      c = Cached{kind, send.data, recv.data, send.count, send.dtype, op, make()};
    }
    c.algorithm->run();
  }

  bool halving_doubling_;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  std::shared_ptr<gloo::rendezvous::Context> context_;
  Cached cached_;
  std::vector<char> scratch_;
  const char* last_ = "";
};

}  // namespace

std::unique_ptr<BenchBackend> MakeGlooBackend(bool halving_doubling) {
  return std::make_unique<GlooBackend>(halving_doubling);
}

}  // namespace cohort::bench
