#include "runtime/ps/parameter_store.h"

#include "runtime/base/errors.h"
#include "runtime/base/logging.h"
#include "runtime/net/socket.h"
#include "runtime/ps/endpoint.h"
#include "runtime/ps/server.h"
#include "runtime/store/tcp_store.h"

namespace cohort {
namespace {

constexpr std::chrono::seconds kGoodbyeGrace{10};

Result<ps::GroupLayout> LayoutFor(const Config& config, const Identity& worker,
                                  const ParameterStoreOptions& options) {
  ps::GroupLayout layout;
  layout.num_workers = worker.size;
  layout.dedicated = config.ps_servers > 0;
  const std::string who = "parameter store on worker " + std::to_string(worker.rank);
  if (layout.dedicated) {
    if (options.num_servers != 0 && options.num_servers != config.ps_servers) {
      return InvalidArgumentError(who + ": options.num_servers is " + std::to_string(options.num_servers) +
                                  " but the job has " + std::to_string(config.ps_servers) +
                                  " dedicated servers (COHORT_PS_SERVERS); leave it 0");
    }
    layout.num_servers = config.ps_servers;
    if (options.name != "ps") {
      return InvalidArgumentError(who + ": dedicated servers serve the store named 'ps', not '" +
                                  options.name + "'; leave options.name as it is");
    }
  } else {
    layout.num_servers = options.num_servers == 0 ? worker.size : options.num_servers;
    if (layout.num_servers < 1 || layout.num_servers > worker.size) {
      return InvalidArgumentError(who + ": " + std::to_string(options.num_servers) +
                                  " co-located servers requested for " + std::to_string(worker.size) +
                                  " workers; use 1 to " + std::to_string(worker.size) +
                                  ", or dedicated servers (cohortrun --servers K)");
    }
  }
  if (options.staleness < -1 || (options.staleness >= 0 && !options.asynchronous)) {
    return InvalidArgumentError(who + ": staleness " + std::to_string(options.staleness) +
                                " needs asynchronous mode (and is -1 for unbounded, or >= 0)");
  }
  return layout;
}

Result<std::shared_ptr<Store>> StoreFromEnvironment(const Config& config, const Identity& identity) {
  if (identity.store_addr.empty()) {
    if (identity.size == 1) return std::shared_ptr<Store>(std::make_shared<MemoryStore>());
    return InvalidArgumentError("worker " + std::to_string(identity.rank) +
                                " has no rendezvous store address: launch with cohortrun (or set "
                                "MASTER_ADDR and MASTER_PORT / COHORT_STORE_ADDR)");
  }
  COHORT_ASSIGN_OR_RETURN(HostPort address, ParseHostPort(identity.store_addr));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<TcpStoreClient> client,
                          TcpStoreClient::Connect(address, config.secret, config.connect_timeout));
  return std::shared_ptr<Store>(std::move(client));
}

}  // namespace

std::unique_ptr<ParameterStore> ParameterStore::Create(const Config& config, const Identity& worker,
                                                       std::shared_ptr<Store> store,
                                                       const ParameterStoreOptions& options) {
  ps::GroupLayout layout = ValueOrThrow(LayoutFor(config, worker, options));
  ps::Endpoint::Options endpoint_options;
  endpoint_options.config = config;
  endpoint_options.layout = layout;
  endpoint_options.member = worker.rank;
  endpoint_options.store = store;
  endpoint_options.name = options.name;
  std::unique_ptr<ParameterStore> ps(new ParameterStore());
  ps->worker_ = worker.rank;
  ps->endpoint_ = ValueOrThrow(ps::Endpoint::Connect(endpoint_options));
  const int server = layout.server_on(worker.rank);
  if (server >= 0) ps->server_ = std::make_unique<ps::Server>(*ps->endpoint_, server);
  ps::ClientOptions client_options;
  client_options.rules.mode = options.asynchronous ? ps::Mode::kAsync : ps::Mode::kSync;
  client_options.rules.staleness = options.staleness;
  client_options.rules.average_gradients = options.average_gradients ? 1 : 0;
  client_options.optimizer = options.optimizer;
  client_options.min_split_bytes = options.min_split_bytes;
  ThrowIfError(ValidateOptimizerSpec(options.optimizer, "ParameterStoreOptions.optimizer"));
  ps->client_ = std::make_unique<ps::Client>(*ps->endpoint_, worker.rank, store, options.name,
                                             client_options);
  ps->endpoint_->Start(ps->server_.get(), ps->client_.get());
  return ps;
}

std::unique_ptr<ParameterStore> ParameterStore::FromEnvironment(const ParameterStoreOptions& options) {
  EnvMap env = ProcessEnvironment();
  Config config = ValueOrThrow(ParseConfig(env));
  Identity identity = ValueOrThrow(DetectIdentity(env));
  std::shared_ptr<Store> store = ValueOrThrow(StoreFromEnvironment(config, identity));
  return Create(config, identity, std::move(store), options);
}

ParameterStore::~ParameterStore() {
  if (!endpoint_) return;
  Status bye = client_->Goodbye();
  if (!bye.ok()) COHORT_LOG(kInfo) << "parameter store worker " << worker_ << ": " << bye.message();
  if (server_ != nullptr) {
    // Other workers may still push to the server living here: serve until they are all done.
    Status done = server_->WaitUntilFinished(
        Deadline::After(endpoint_->config().timeout + kGoodbyeGrace));
    if (!done.ok()) COHORT_LOG(kWarn) << done.message();
  }
  endpoint_->Stop();
}

int ParameterStore::num_workers() const { return endpoint_->layout().num_workers; }
int ParameterStore::num_servers() const { return endpoint_->layout().num_servers; }
bool ParameterStore::dedicated_servers() const { return endpoint_->layout().dedicated; }

void ParameterStore::init(const std::string& key, const BufferView& value, std::vector<int64_t> shape,
                          std::optional<OptimizerSpec> optimizer) {
  ps::KeyDeclaration d;
  d.spec.name = key;
  d.spec.dtype = value.dtype;
  d.spec.shape = shape.empty() ? std::vector<int64_t>{static_cast<int64_t>(value.count)} : std::move(shape);
  if (d.spec.count() != value.count) {
    ThrowIfError(InvalidArgumentError("init of key '" + key + "' on worker " + std::to_string(worker_) +
                                      ": shape " + ps::ShapeText(d.spec.shape) + " has " +
                                      std::to_string(d.spec.count()) + " elements but the tensor has " +
                                      std::to_string(value.count)));
  }
  if (!value.device.is_cpu() || (value.data == nullptr && value.count > 0)) {
    ThrowIfError(InvalidArgumentError("init of key '" + key + "' on worker " + std::to_string(worker_) +
                                      ": the value must be a host buffer (got " +
                                      value.device.ToString() + ")"));
  }
  d.values = value.data;
  d.optimizer = std::move(optimizer);
  ThrowIfError(client_->Declare({d}));
}

void ParameterStore::init(const std::string& key, std::vector<int64_t> shape, DataType dtype,
                          const ps::Initializer& initializer, std::optional<OptimizerSpec> optimizer) {
  ps::KeyDeclaration d;
  d.spec = {key, std::move(shape), dtype};
  d.initializer = initializer;
  d.optimizer = std::move(optimizer);
  ThrowIfError(client_->Declare({d}));
}

void ParameterStore::init(const std::vector<ps::KeyDeclaration>& keys) {
  ThrowIfError(client_->Declare(keys));
}

WorkPtr ParameterStore::push_async(const std::string& key, const BufferView& grad, int64_t step) {
  return ValueOrThrow(client_->Push({key}, {grad}, step == 0 ? std::vector<int64_t>{}
                                                             : std::vector<int64_t>{step}));
}
void ParameterStore::push(const std::string& key, const BufferView& grad, int64_t step) {
  push_async(key, grad, step)->wait();
}
WorkPtr ParameterStore::pull_async(const std::string& key, const BufferView& out) {
  return ValueOrThrow(client_->Pull({key}, {out}));
}
void ParameterStore::pull(const std::string& key, const BufferView& out) { pull_async(key, out)->wait(); }
WorkPtr ParameterStore::push_pull_async(const std::string& key, const BufferView& grad,
                                        const BufferView& out) {
  return ValueOrThrow(client_->PushPull({key}, {grad}, {out}));
}
void ParameterStore::push_pull(const std::string& key, const BufferView& grad, const BufferView& out) {
  push_pull_async(key, grad, out)->wait();
}
WorkPtr ParameterStore::push_async(const std::vector<std::string>& keys,
                                   const std::vector<BufferView>& grads) {
  return ValueOrThrow(client_->Push(keys, grads, {}));
}
WorkPtr ParameterStore::pull_async(const std::vector<std::string>& keys,
                                   const std::vector<BufferView>& outs) {
  return ValueOrThrow(client_->Pull(keys, outs));
}
WorkPtr ParameterStore::push_pull_async(const std::vector<std::string>& keys,
                                        const std::vector<BufferView>& grads,
                                        const std::vector<BufferView>& outs) {
  return ValueOrThrow(client_->PushPull(keys, grads, outs));
}

void ParameterStore::set_optimizer(const OptimizerSpec& optimizer, const std::string& key) {
  ThrowIfError(client_->SetOptimizer(key, optimizer));
}
void ParameterStore::set_learning_rate(double lr, const std::string& key) {
  ThrowIfError(client_->SetLearningRate(key, lr));
}
void ParameterStore::save(const std::string& dir) { ThrowIfError(client_->Save(dir)); }
void ParameterStore::load(const std::string& dir) { ThrowIfError(client_->Load(dir)); }

std::vector<std::string> ParameterStore::keys() const { return client_->Keys(); }
ps::KeySpec ParameterStore::key_spec(const std::string& key) const {
  return ValueOrThrow(client_->Spec(key));
}
ps::KeyPlacement ParameterStore::placement(const std::string& key) const {
  return ValueOrThrow(client_->Placement(key));
}
OptimizerSpec ParameterStore::optimizer(const std::string& key) const {
  return ValueOrThrow(client_->Optimizer(key));
}
int64_t ParameterStore::step(const std::string& key) const { return ValueOrThrow(client_->Step(key)); }
std::vector<uint64_t> ParameterStore::server_bytes() const { return client_->ServerBytes(); }

Status RunParameterServer(const Config& config, int index, int num_servers, int num_workers,
                          std::shared_ptr<Store> store, const std::string& name) {
  ps::Endpoint::Options options;
  options.config = config;
  options.layout = {num_workers, num_servers, true};
  options.member = num_workers + index;
  options.store = std::move(store);
  options.name = name;
  if (index < 0 || index >= num_servers) {
    return InvalidArgumentError("parameter server index " + std::to_string(index) + " outside 0.." +
                                std::to_string(num_servers - 1));
  }
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ps::Endpoint> endpoint, ps::Endpoint::Connect(options));
  ps::Server server(*endpoint, index);
  endpoint->Start(&server, nullptr);
  Status status = server.WaitUntilFinished(Deadline::Never());
  endpoint->Stop();
  return status;
}

}  // namespace cohort
