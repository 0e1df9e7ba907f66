#include "runtime/transport/ucx/ucx_worker.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "runtime/base/logging.h"
#include "runtime/store/auth.h"

namespace cohort {

namespace ucx_tag {
uint64_t DeriveKey(std::string_view secret, const Nonce& nonce) {
  static constexpr std::string_view kPurpose = "cohort-ucx-tag-key";
  std::string input(kPurpose);
  input.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  const Digest mac = HmacSha256(secret, input.data(), input.size());
  uint64_t key = 0;
  std::memcpy(&key, mac.data(), sizeof(key));
  return key;
}
}  // namespace ucx_tag

namespace {
// A data message may run this far ahead of the receive its link will post next (async
// operations queue sends before the peer posts their receives); beyond it, it is a stranger's.
constexpr uint64_t kNumberWindow = uint64_t{1} << 22;
// Strangers' messages land here; a larger one is received truncated, which drops it all.
constexpr size_t kScratchBytes = 64 * 1024;
}  // namespace

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

Result<std::shared_ptr<UcxWorker>> UcxWorker::Create(const std::string& net_devices,
                                                     std::string_view secret, int size) {
  if (secret.empty()) {
    return InvalidArgumentError("ucx links need the job secret (COHORT_JOB_SECRET) to key their "
                                "messages, and it is empty");
  }
  ucx_tag::Nonce nonce;
  COHORT_RETURN_IF_ERROR(RandomBytes(nonce.data(), nonce.size()));
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<UcxContext> context, UcxContext::Get(net_devices));
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  params.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  ucp_worker_h worker = nullptr;
  ucs_status_t status = ucp_worker_create(context->get(), &params, &worker);
  if (status != UCS_OK) return UnavailableError("creating a UCX worker: " + UcxStatusText(status));
  std::shared_ptr<UcxWorker> made(new UcxWorker(std::move(context), worker, size));
  made->nonce_ = nonce;
  made->key_ = ucx_tag::DeriveKey(secret, nonce);
  return made;
}

UcxWorker::~UcxWorker() {
  for (void* request : dropping_) {
    ucp_request_cancel(worker_, request);
    ucp_request_free(request);
  }
  ucp_worker_destroy(worker_);
}

void UcxWorker::ExpectSender(int rank, const uint64_t* next_number) {
  if (rank < 0 || static_cast<size_t>(rank) >= senders_.size()) return;
  senders_[rank] = Sender{true, next_number};
}

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
  // A stranger's message makes progress report activity when it arrives; every 64th call also
  // sweeps the whole unexpected queue, for those that arrived behind a peer's early message.
  const bool sweep = ++polls_ % 64 == 0;
  if (any || sweep || !dropping_.empty()) DropStrangers(sweep);
  return any;
}

bool UcxWorker::FromPeer(uint64_t keyed_tag) const {
  const uint64_t tag = keyed_tag ^ key_;
  const uint64_t kind = ucx_tag::KindOf(tag);
  const int sender = ucx_tag::SenderOf(tag);
  if (kind > ucx_tag::kHello || static_cast<size_t>(sender) >= senders_.size()) return false;
  const Sender& from = senders_[sender];
  if (!from.expected) return false;
  if (kind != ucx_tag::kData) return (tag & ~ucx_tag::kSenderMask) == 0;  // hello/abort: number 0
  if (from.next_number == nullptr) return true;
  const uint64_t ahead = (ucx_tag::NumberOf(tag) - *from.next_number) & ucx_tag::kNumberMask;
  return ahead < kNumberWindow;
}

void UcxWorker::Drop(ucp_tag_message_h message, const ucp_tag_recv_info_t& info) {
  ++refused_;
  if (refused_ == 1 || refused_ == 10 || refused_ % 1000 == 0) {
    COHORT_LOG(kWarn) << "ucx: refused a message of " << info.length << " bytes (tag 0x"
                      << std::hex << info.sender_tag << std::dec
                      << ") that does not carry this job's key: a process without the job "
                         "secret is sending to this rank's UCX worker; dropped ("
                      << refused_ << " so far)";
  }
  if (scratch_.empty()) scratch_.resize(kScratchBytes);
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  ucs_status_ptr_t receive = ucp_tag_msg_recv_nbx(
      worker_, scratch_.data(), std::min(info.length, scratch_.size()), message, &param);
  if (UCS_PTR_IS_PTR(receive)) dropping_.push_back(receive);
}

void UcxWorker::DropStrangers(bool sweep) {
  size_t kept = 0;
  for (void* request : dropping_) {
    if (ucp_request_check_status(request) == UCS_INPROGRESS) {
      dropping_[kept++] = request;
    } else {
      ucp_request_free(request);
    }
  }
  dropping_.resize(kept);
  ucp_tag_recv_info_t info{};
  // The oldest unexpected message: a peer's is left for the receive its link will post, a
  // stranger's is taken off the queue. O(1) when the queue is empty, as it is in steady state.
  while (dropping_.size() < kMaxDropping) {
    if (ucp_tag_probe_nb(worker_, 0, 0, 0, &info) == nullptr || FromPeer(info.sender_tag)) break;
    ucp_tag_message_h message = ucp_tag_probe_nb(worker_, info.sender_tag, ~uint64_t{0}, 1, &info);
    if (message == nullptr) break;
    Drop(message, info);
  }
  if (!sweep) return;
  // Behind a peer's early message, strangers' messages are found by what no peer's tag has:
  // kind 3, or a sender bit above those the communicator's ranks use.
  auto drop_all = [&](uint64_t mask) {  // messages whose tag, key removed, has all of `mask`
    while (dropping_.size() < kMaxDropping) {
      ucp_tag_message_h message = ucp_tag_probe_nb(worker_, key_ ^ mask, mask, 1, &info);
      if (message == nullptr) return;
      Drop(message, info);
    }
  };
  drop_all(uint64_t{3} << ucx_tag::kKindShift);
  const int rank_bits = std::bit_width(static_cast<uint64_t>(senders_.size() - 1));
  for (int bit = rank_bits; bit < ucx_tag::kRankBits; ++bit) {
    drop_all(uint64_t{1} << (ucx_tag::kSenderShift + bit));
  }
}

}  // namespace cohort
