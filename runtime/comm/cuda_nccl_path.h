// NcclPath: the NCCL side of CudaCollectives. Holds the loaded library and one NCCL
// communicator per device, created on that device's first call (collective: every rank must make
// the same calls, as with any collective). Without NCCL in the build, Load explains why.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "collectives/collective_args.h"
#include "runtime/base/deadline.h"
#include "runtime/base/status.h"
#include "runtime/config/config.h"
#include "runtime/device/cuda_runtime.h"
#include "runtime/store/store.h"

namespace cohort {

class NcclPath {
 public:
  // Loads libnccl.so.2 (Config::nccl_library) and checks its version; no GPU work yet.
  static Result<std::unique_ptr<NcclPath>> Load(const Config& config, int rank, int size,
                                                 std::shared_ptr<Store> store);
  virtual ~NcclPath() = default;

  // "nccl 2.28.3 (/usr/local/cuda/lib/libnccl.so.2)".
  virtual std::string Description() const = 0;
  // Enqueues `args` on `stream` (kSendRecv: a send when args.send is set, else a receive).
  virtual Status Issue(const CollectiveArgs& args, int peer, int device, void* stream,
                       Deadline deadline) = 0;
  // Waits for `done` while polling NCCL's async errors and `cancelled`; aborts on failure.
  virtual Status Wait(int device, const cuda::Event& done, Deadline deadline,
                      const std::function<Status()>& cancelled) = 0;
  // Aborts every NCCL communicator (any thread, idempotent).
  virtual void Abort() = 0;
};

}  // namespace cohort
