// The blocking forms of the collectives, and the ways to make a communicator: Create (explicit
// identity and store) and FromEnvironment / init() (whatever launcher started this process).
#include "runtime/comm/communicator.h"

#include <unistd.h>

#include <atomic>
#include <mutex>

#include "runtime/base/logging.h"
#include "runtime/comm/communicator_impl.h"
#include "runtime/comm/mpi_rendezvous.h"
#include "runtime/net/socket.h"
#include "runtime/store/tcp_store.h"

namespace cohort {

void Communicator::allreduce(const BufferView& send, const BufferView& recv, ReduceOp op) {
  RunBlocking(CollectiveKind::kAllreduce, send, recv, op, 0);
}
void Communicator::reduce_scatter(const BufferView& send, const BufferView& recv, ReduceOp op) {
  RunBlocking(CollectiveKind::kReduceScatter, send, recv, op, 0);
}
void Communicator::allgather(const BufferView& send, const BufferView& recv) {
  RunBlocking(CollectiveKind::kAllgather, send, recv, ReduceOp::kSum, 0);
}
void Communicator::broadcast(const BufferView& send, const BufferView& recv, int root) {
  RunBlocking(CollectiveKind::kBroadcast, send, recv, ReduceOp::kSum, root);
}
void Communicator::reduce(const BufferView& send, const BufferView& recv, ReduceOp op, int root) {
  RunBlocking(CollectiveKind::kReduce, send, recv, op, root);
}
void Communicator::alltoall(const BufferView& send, const BufferView& recv) {
  RunBlocking(CollectiveKind::kAlltoall, send, recv, ReduceOp::kSum, 0);
}
void Communicator::barrier() { RunBlocking(CollectiveKind::kBarrier, {}, {}, ReduceOp::kSum, 0); }

void Communicator::RunBlocking(CollectiveKind kind, const BufferView& send, const BufferView& recv,
                               ReduceOp op, int root) {
  WorkPtr work;
  switch (kind) {
    case CollectiveKind::kAllreduce: work = allreduce_async(send, recv, op); break;
    case CollectiveKind::kReduceScatter: work = reduce_scatter_async(send, recv, op); break;
    case CollectiveKind::kAllgather: work = allgather_async(send, recv); break;
    case CollectiveKind::kBroadcast: work = broadcast_async(send, recv, root); break;
    case CollectiveKind::kReduce: work = reduce_async(send, recv, op, root); break;
    case CollectiveKind::kAlltoall: work = alltoall_async(send, recv); break;
    case CollectiveKind::kBarrier: work = barrier_async(); break;
    default:
      throw InvalidArgument(StatusCode::kInvalidArgument,
                            std::string(CollectiveName(kind)) + " is not a blocking collective");
  }
  work->wait();
}
void Communicator::send(const BufferView& buffer, int peer) { send_async(buffer, peer)->wait(); }
void Communicator::recv(const BufferView& buffer, int peer) { recv_async(buffer, peer)->wait(); }

std::unique_ptr<Communicator> Communicator::Create(const Config& config, const Identity& identity,
                                                   std::shared_ptr<Store> store,
                                                   const std::string& name) {
  return ValueOrThrow(CommunicatorImpl::Make(config, identity, std::move(store), name));
}

namespace {

// Makes the job's store: in-process for a single rank, the launcher's (or rank 0's) TCP store
// otherwise. `server` receives the store server when this rank hosts it.
Result<std::shared_ptr<Store>> OpenStore(const Config& config, const Identity& identity,
                                         std::shared_ptr<void>* server) {
  if (identity.store_addr.empty()) {
    if (identity.size == 1) return std::shared_ptr<Store>(std::make_shared<MemoryStore>());
    return InvalidArgumentError(
        "rank " + std::to_string(identity.rank) + " of " + std::to_string(identity.size) +
        " (identity from " + identity.scheme + ") has no rendezvous store address: launch with "
        "cohortrun, or set MASTER_ADDR and MASTER_PORT (torchrun style) or COHORT_STORE_ADDR");
  }
  if (config.secret.empty()) {
    return InvalidArgumentError(
        "COHORT_JOB_SECRET is not set on rank " + std::to_string(identity.rank) +
        ": every connection to the store is authenticated; launch with cohortrun, or export "
        "the same random secret (e.g. from `openssl rand -hex 32`) to every rank");
  }
  COHORT_ASSIGN_OR_RETURN(HostPort address, ParseHostPort(identity.store_addr));
  if (identity.rank0_hosts_store && identity.rank == 0) {
    TcpStoreServer::Options options;
    options.port = address.port;
    options.secret = config.secret;
    Result<std::unique_ptr<TcpStoreServer>> started = TcpStoreServer::Start(options);
    if (!started.ok()) {
      return Status(started.status().code(),
                    "rank 0 hosts the job's store on port " + std::to_string(address.port) +
                        " (chosen from MASTER_PORT) but cannot listen there: " +
                        started.status().message() +
                        "; choose a MASTER_PORT whose port (and, under torchrun, the next) is free");
    }
    *server = std::shared_ptr<TcpStoreServer>(std::move(started).value());
  }
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<TcpStoreClient> client,
                          TcpStoreClient::Connect(address, config.secret, config.connect_timeout));
  return std::shared_ptr<Store>(std::move(client));
}

}  // namespace

namespace {
// Each communicator made from the environment in this process gets its own store namespace
// (and shm segment names): a job that calls shutdown() and init() again must not read the
// previous communicator's keys. Every rank makes the same calls, so the names agree.
std::atomic<int> g_environment_communicators{0};
}  // namespace

std::unique_ptr<Communicator> Communicator::FromEnvironment() {
  EnvMap env = ProcessEnvironment();
  std::vector<std::string> warnings;
  Config config = ValueOrThrow(ParseConfig(env, &warnings));
  SetLogLevel(config.log_level);
  Identity identity = ValueOrThrow(DetectIdentity(env));
  SetLogRank(identity.rank);
  for (const std::string& warning : warnings) COHORT_LOG(kWarn) << warning;
  std::shared_ptr<void> mpi_server;
  const bool mpi_launched = identity.scheme == "openmpi" || identity.scheme == "pmix" ||
                            identity.scheme == "pmi";
  if (identity.store_addr.empty() && identity.size > 1 && mpi_launched) {
    MpiBroadcast broadcast = ValueOrThrow(LoadWorldBroadcast(identity));
    MpiRendezvous met = ValueOrThrow(RendezvousThroughMpi(config, identity.rank, broadcast));
    identity.store_addr = met.store_addr;
    identity.rank0_hosts_store = false;  // it already does
    config.secret = met.secret;
    mpi_server = met.server;
  }
  int generation = ++g_environment_communicators;
  std::string name = generation == 1 ? "world" : "world.gen" + std::to_string(generation);
  return ValueOrThrow(ConnectThroughStore(config, identity, mpi_server, name));
}

Result<std::unique_ptr<Communicator>> ConnectThroughStore(Config config,
                                                          const Identity& identity,
                                                          std::shared_ptr<void> server,
                                                          const std::string& name) {
  if (config.job_id.empty()) {
    // Outside cohortrun: name shm segments after the store's port, unique among live jobs.
    config.job_id = identity.store_addr.empty() ? "single" + std::to_string(::getpid())
                                                : "p" + identity.store_addr.substr(
                                                            identity.store_addr.rfind(':') + 1);
  }
  std::shared_ptr<void> own_server;
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, OpenStore(config, identity, &own_server));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<CommunicatorImpl> comm,
                          CommunicatorImpl::Make(config, identity, store, name));
  if (server) comm->KeepAlive(std::move(server));
  if (own_server) comm->KeepAlive(std::move(own_server));
  return std::unique_ptr<Communicator>(std::move(comm));
}

namespace {
std::mutex g_default_mutex;
std::unique_ptr<Communicator> g_default;
}  // namespace

Communicator& init() {
  std::lock_guard lock(g_default_mutex);
  if (!g_default) g_default = Communicator::FromEnvironment();
  return *g_default;
}

void shutdown() {
  std::lock_guard lock(g_default_mutex);
  g_default.reset();
}

Communicator& shrink() {
  std::lock_guard lock(g_default_mutex);
  if (!g_default) {
    ThrowIfError(InvalidArgumentError("cohort::shrink() needs a communicator: call cohort::init() first"));
  }
  std::unique_ptr<Communicator> smaller = g_default->shrink();
  g_default = std::move(smaller);  // the old one closes its (broken) links now
  return *g_default;
}

bool is_initialized() {
  std::lock_guard lock(g_default_mutex);
  return g_default != nullptr;
}

}  // namespace cohort
