// UcxWorker: one ucp worker (with the process-wide ucp context it needs) for one communicator's
// UCX links. Every link of the communicator shares it; the progress engine drives it through the
// links' Progress(). Thread mode SERIALIZED: one thread at a time, as for every Link (link.h).
#pragma once

#include <ucp/api/ucp.h>

#include <memory>
#include <string>

#include "runtime/base/status.h"

namespace cohort {

// "UCX error: Destination is unreachable".
std::string UcxStatusText(ucs_status_t status);

class UcxContext;

class UcxWorker {
 public:
  // `net_devices`: value for UCX_NET_DEVICES ("" leaves UCX's default, as does a UCX_NET_DEVICES
  // already in the environment, which the user set on purpose).
  static Result<std::shared_ptr<UcxWorker>> Create(const std::string& net_devices);
  ~UcxWorker();
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;

  ucp_worker_h get() const { return worker_; }
  // The worker's address, to publish so that peers can create endpoints to it.
  Result<std::string> Address() const;
  // Runs UCX's progress until it reports nothing more to do (bounded). Returns whether anything
  // happened.
  bool Progress();

 private:
  UcxWorker(std::shared_ptr<UcxContext> context, ucp_worker_h worker)
      : context_(std::move(context)), worker_(worker) {}
  std::shared_ptr<UcxContext> context_;  // outlives the worker
  ucp_worker_h worker_;
};

}  // namespace cohort
