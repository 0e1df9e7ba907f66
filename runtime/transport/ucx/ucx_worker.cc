#include "runtime/transport/ucx/ucx_worker.h"

#include <cstdlib>
#include <mutex>

namespace cohort {

std::string UcxStatusText(ucs_status_t status) {
  return std::string("UCX error: ") + ucs_status_string(status);
}

// The process-wide ucp context: created when the first communicator needs UCX, released with the
// last worker (communicators hold their workers, workers hold the context).
class UcxContext {
 public:
  static Result<std::shared_ptr<UcxContext>> Get(const std::string& net_devices) {
    static std::mutex mutex;
    static std::weak_ptr<UcxContext> current;
    std::lock_guard<std::mutex> lock(mutex);
    if (auto existing = current.lock()) return existing;
    ucp_config_t* config = nullptr;
    ucs_status_t status = ucp_config_read(nullptr, nullptr, &config);
    if (status != UCS_OK) return UnavailableError("reading UCX's configuration: " + UcxStatusText(status));
    if (!net_devices.empty() && std::getenv("UCX_NET_DEVICES") == nullptr) {
      status = ucp_config_modify(config, "NET_DEVICES", net_devices.c_str());
      if (status != UCS_OK) {
        ucp_config_release(config);
        return InvalidArgumentError("COHORT_SOCKET_IFNAME=" + net_devices +
                                    " is not a valid UCX_NET_DEVICES value: " + UcxStatusText(status));
      }
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
    params.features = UCP_FEATURE_TAG;
    params.mt_workers_shared = 1;  // communicators' workers may run on different threads
    ucp_context_h context = nullptr;
    status = ucp_init(&params, config, &context);
    ucp_config_release(config);
    if (status != UCS_OK) {
      return UnavailableError("initialising UCX (ucp_init): " + UcxStatusText(status) +
                              "; check UCX_TLS and UCX_NET_DEVICES");
    }
    auto made = std::make_shared<UcxContext>(context);
    current = made;
    return made;
  }
  explicit UcxContext(ucp_context_h context) : context_(context) {}
  ~UcxContext() { ucp_cleanup(context_); }
  ucp_context_h get() const { return context_; }

 private:
  ucp_context_h context_;
};

Result<std::shared_ptr<UcxWorker>> UcxWorker::Create(const std::string& net_devices) {
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<UcxContext> context, UcxContext::Get(net_devices));
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  params.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  ucp_worker_h worker = nullptr;
  ucs_status_t status = ucp_worker_create(context->get(), &params, &worker);
  if (status != UCS_OK) return UnavailableError("creating a UCX worker: " + UcxStatusText(status));
  return std::shared_ptr<UcxWorker>(new UcxWorker(std::move(context), worker));
}

UcxWorker::~UcxWorker() { ucp_worker_destroy(worker_); }

Result<std::string> UcxWorker::Address() const {
  ucp_address_t* address = nullptr;
  size_t length = 0;
  ucs_status_t status = ucp_worker_get_address(worker_, &address, &length);
  if (status != UCS_OK) return UnavailableError("getting the UCX worker's address: " + UcxStatusText(status));
  std::string bytes(reinterpret_cast<const char*>(address), length);
  ucp_worker_release_address(worker_, address);
  return bytes;
}

bool UcxWorker::Progress() {
  bool any = false;
  // A bound keeps one call short when messages keep streaming in.
  for (int i = 0; i < 64 && ucp_worker_progress(worker_) != 0; ++i) any = true;
  return any;
}

}  // namespace cohort
