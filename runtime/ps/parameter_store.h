// ParameterStore: cohort's sharded parameter store, the public C++ API. Keys name f32, f16 or bf16
// tensors (in host memory); each key is cut into slices spread over the servers, balanced by bytes
// (placement.h). Workers push gradients and pull values; the servers apply an optimizer (SGD with
// momentum or Nesterov, Adam, AdamW, or none: "aggregate") with hyperparameters the workers set.
//
//   cohort::ParameterStore& ps = *store;   // ParameterStore::FromEnvironment() under cohortrun
//   ps.init("fc.weight", {w.data(), w.size(), cohort::DataType::kF32}, {10, 784});
//   ps.push_pull("fc.weight", grad_view, w_view);       // one training step of this key
//   auto work = ps.push_async("fc.bias", b_grad);  work->wait();
//   ps.save("/ckpt/step1000");   ...   ps.load("/ckpt/step1000");
//
// Servers: by default every worker rank also serves a shard (co-located, options.num_servers may
// pick fewer); `cohortrun --servers K` starts K dedicated server processes instead.
//
// Semantics:
// - init, save, load, set_optimizer/set_learning_rate are collective over the workers: every
//   worker calls them with the same arguments in the same order. init takes worker 0's values;
//   a key already declared (e.g. by load) keeps its values and state.
// - Synchronous mode (default): the update for step t is applied once every worker's push for step
//   t has arrived (gradients averaged unless average_gradients is false); a pull after this
//   worker's push of step t returns the values after step t. push returns once its step is
//   applied.
// - Asynchronous mode: each push is applied at once. With staleness s >= 0, a worker's push of its
//   step t returns only once every worker has pushed step t - s, so no worker gets more than s
//   steps ahead of the slowest. Gradients are applied as pushed (not averaged).
// - A worker numbers its pushes of each key 1, 2, ...; push(key, grad, step) may name the step.
//
// Errors are typed exceptions (cohort/errors.h): InvalidArgument (unknown key, shape or dtype
// mismatch, a push for a step already applied, a bad checkpoint), TimeoutError (a wait passed
// COHORT_TIMEOUT; the message says which workers it waits for), PeerError (a server or worker is
// gone: the message names it and the key ranges it held). Messages name the key and the worker.
//
// Thread safety: any method from any thread; async forms return a Work whose buffers must stay
// valid until it ends. The destructor tells the servers this worker is done and, on a worker that
// hosts a server, waits (bounded) until every worker is done.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/dtype.h"
#include "runtime/comm/work.h"
#include "runtime/config/config.h"
#include "runtime/config/identity.h"
#include "runtime/optim/optimizer_spec.h"
#include "runtime/ps/client.h"
#include "runtime/store/store.h"

namespace cohort {

namespace ps {
class Endpoint;
class Server;
}  // namespace ps

struct ParameterStoreOptions {
  std::string name = "ps";
  bool asynchronous = false;
  int staleness = -1;             // asynchronous: how far a worker may be ahead; -1: unbounded
  bool average_gradients = true;  // synchronous: average (true) or sum the step's gradients
  // Co-located servers: how many workers serve (0: all). With dedicated servers (cohortrun
  // --servers K), 0 or K.
  int num_servers = 0;
  OptimizerSpec optimizer = OptimizerSpec::Sgd(0.01);  // for keys initialized without one
  size_t min_split_bytes = ps::kDefaultMinSplitBytes;  // keys up to this size are never split
};

class ParameterStore {
 public:
  // `worker` is this worker's rank among the workers; `store` is the job's rendezvous store.
  // Collective over the workers (and the dedicated servers of config.ps_servers).
  static std::unique_ptr<ParameterStore> Create(const Config& config, const Identity& worker,
                                                std::shared_ptr<Store> store,
                                                const ParameterStoreOptions& options = {});
  // Identity, config and store from the environment (cohortrun, mpirun, srun, torchrun).
  static std::unique_ptr<ParameterStore> FromEnvironment(const ParameterStoreOptions& options = {});
  ~ParameterStore();

  int worker_rank() const { return worker_; }
  int num_workers() const;
  int num_servers() const;
  bool dedicated_servers() const;

  // ---- declaring keys (collective) ----
  void init(const std::string& key, const BufferView& value, std::vector<int64_t> shape = {},
            std::optional<OptimizerSpec> optimizer = std::nullopt);
  void init(const std::string& key, std::vector<int64_t> shape, DataType dtype,
            const ps::Initializer& initializer, std::optional<OptimizerSpec> optimizer = std::nullopt);
  void init(const std::vector<ps::KeyDeclaration>& keys);

  // ---- training traffic (step 0: this worker's next step of the key) ----
  void push(const std::string& key, const BufferView& grad, int64_t step = 0);
  WorkPtr push_async(const std::string& key, const BufferView& grad, int64_t step = 0);
  void pull(const std::string& key, const BufferView& out);
  WorkPtr pull_async(const std::string& key, const BufferView& out);
  void push_pull(const std::string& key, const BufferView& grad, const BufferView& out);
  WorkPtr push_pull_async(const std::string& key, const BufferView& grad, const BufferView& out);
  // Batched forms: one Work for many keys.
  WorkPtr push_async(const std::vector<std::string>& keys, const std::vector<BufferView>& grads);
  WorkPtr pull_async(const std::vector<std::string>& keys, const std::vector<BufferView>& outs);
  WorkPtr push_pull_async(const std::vector<std::string>& keys, const std::vector<BufferView>& grads,
                          const std::vector<BufferView>& outs);

  // ---- optimizer (collective; key "" = every key) ----
  void set_optimizer(const OptimizerSpec& optimizer, const std::string& key = "");
  void set_learning_rate(double lr, const std::string& key = "");

  // ---- checkpoints (collective) ----
  void save(const std::string& dir);
  void load(const std::string& dir);

  // ---- inspection ----
  std::vector<std::string> keys() const;
  ps::KeySpec key_spec(const std::string& key) const;
  ps::KeyPlacement placement(const std::string& key) const;
  OptimizerSpec optimizer(const std::string& key) const;
  int64_t step(const std::string& key) const;
  std::vector<uint64_t> server_bytes() const;

 private:
  ParameterStore() = default;
  int worker_ = 0;
  std::unique_ptr<ps::Endpoint> endpoint_;
  std::unique_ptr<ps::Server> server_;
  std::unique_ptr<ps::Client> client_;
};

// A dedicated server (what cohort-ps-server runs): joins the store of `num_workers` workers as
// server `index` of `num_servers` and serves until every worker is done or gone.
Status RunParameterServer(const Config& config, int index, int num_servers, int num_workers,
                          std::shared_ptr<Store> store, const std::string& name = "ps");

}  // namespace cohort
