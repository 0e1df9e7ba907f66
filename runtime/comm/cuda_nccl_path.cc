// NcclPath over collectives/nccl (NcclLibrary, NcclComm); see cuda_nccl_path.h.
#include "runtime/comm/cuda_nccl_path.h"

#include "cohort/build_config.h"

#if COHORT_HAVE_NCCL
#include "collectives/nccl/nccl_comm.h"
#include "collectives/nccl/nccl_library.h"
#endif

namespace cohort {

#if COHORT_HAVE_NCCL

namespace {

class NcclPathImpl final : public NcclPath {
 public:
  NcclPathImpl(const Config& config, int rank, int size, std::shared_ptr<Store> store,
               std::shared_ptr<const NcclLibrary> lib)
      : config_(config), rank_(rank), size_(size), store_(std::move(store)), lib_(std::move(lib)) {}

  std::string Description() const override {
    return "nccl " + lib_->version_string() + " (" + lib_->path() + ")";
  }

  Status Issue(const CollectiveArgs& args, int peer, int device, void* stream,
               Deadline deadline) override {
    COHORT_ASSIGN_OR_RETURN(NcclComm * comm, CommFor(device, deadline));
    const size_t n = args.count;
    switch (args.kind) {
      case CollectiveKind::kAllreduce:
        return comm->AllReduce(args.send, args.recv, n, args.dtype, args.op, stream);
      case CollectiveKind::kReduceScatter:
        return comm->ReduceScatter(args.send, args.recv, n, args.dtype, args.op, stream);
      case CollectiveKind::kAllgather:
        return comm->AllGather(args.send, args.recv, n, args.dtype, stream);
      case CollectiveKind::kBroadcast:
        return comm->Broadcast(args.send, args.recv, n, args.dtype, args.root, stream);
      case CollectiveKind::kReduce:
        return comm->Reduce(args.send, args.recv, n, args.dtype, args.op, args.root, stream);
      case CollectiveKind::kAlltoall:
        return comm->AllToAll(args.send, args.recv, n, args.dtype, stream);
      case CollectiveKind::kSendRecv:
        return args.send != nullptr ? comm->Send(args.send, n, args.dtype, peer, stream)
                                    : comm->Recv(args.recv, n, args.dtype, peer, stream);
      default:
        return InternalError(std::string(CollectiveName(args.kind)) + " has no NCCL mapping");
    }
  }

  Status Wait(int device, const cuda::Event& done, Deadline deadline,
              const std::function<Status()>& cancelled) override {
    NcclComm* comm = Existing(device);
    if (comm == nullptr) return InternalError("no NCCL communicator for cuda:" + std::to_string(device));
    return comm->WaitEvent(done, deadline, cancelled);
  }

  void Abort() override {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    for (auto& [device, comm] : comms_) comm->Abort();
  }

 private:
  NcclComm* Existing(int device) {
    std::lock_guard lock(mutex_);
    auto it = comms_.find(device);
    return it == comms_.end() ? nullptr : it->second.get();
  }

  // The device's NCCL communicator, created on first use (collective over the group). Created
  // outside the lock, so Abort() of the others stays immediate meanwhile.
  Result<NcclComm*> CommFor(int device, Deadline deadline) {
    if (NcclComm* comm = Existing(device)) return comm;
    COHORT_ASSIGN_OR_RETURN(
        std::unique_ptr<NcclComm> comm,
        NcclComm::Create(lib_, *store_, "nccl/cuda" + std::to_string(device), rank_, size_,
                         device, deadline, config_.timeout));
    std::lock_guard lock(mutex_);
    if (aborted_) comm->Abort();
    NcclComm* raw = comm.get();
    comms_.emplace(device, std::move(comm));
    return raw;
  }

  Config config_;
  int rank_;
  int size_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<const NcclLibrary> lib_;
  std::mutex mutex_;
  bool aborted_ = false;
  std::map<int, std::unique_ptr<NcclComm>> comms_;
};

}  // namespace

Result<std::unique_ptr<NcclPath>> NcclPath::Load(const Config& config, int rank, int size,
                                                 std::shared_ptr<Store> store) {
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<const NcclLibrary> lib,
                          NcclLibrary::Load(config.nccl_library));
  return std::unique_ptr<NcclPath>(
      new NcclPathImpl(config, rank, size, std::move(store), std::move(lib)));
}

#else

Result<std::unique_ptr<NcclPath>> NcclPath::Load(const Config&, int, int, std::shared_ptr<Store>) {
  return UnimplementedError("this build of cohort has no NCCL backend (nccl.h was not found at "
                            "build time; set NCCL_HOME and rebuild)");
}

#endif

}  // namespace cohort
