// UcxLink: ucp tag messaging behind the Link contract (ucx_link.h).
#include "runtime/transport/ucx/ucx_link.h"

#include <algorithm>
#include <chrono>

#include "runtime/base/logging.h"
#include "runtime/base/tag.h"

namespace cohort {

namespace {

void Complete(Request* request, const Status& status) {
  request->status = status;
  request->done = true;
}

// Control messages (hello, abort) always get a request handle, so there is one way to watch them.
ucp_request_param_t ControlParam() {
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  return param;
}

// How long closing an endpoint may wait for its last messages (an abort) to leave.
constexpr auto kCloseFor = std::chrono::milliseconds(1000);

}  // namespace

UcxLink::UcxLink(int rank, int peer, std::string peer_host, std::shared_ptr<UcxWorker> worker,
                 uint64_t send_key)
    : rank_(rank),
      peer_(peer),
      peer_host_(std::move(peer_host)),
      worker_(std::move(worker)),
      send_key_(send_key),
      recv_key_(worker_->key()) {
  pending_.reserve(64);
  worker_->ExpectSender(peer_, &recvs_posted_);
}

std::string UcxLink::peer_name() const {
  return "rank " + std::to_string(peer_) + " (host " + peer_host_ + ")";
}

void UcxLink::OnEndpointError(void* arg, ucp_ep_h, ucs_status_t status) {
  auto* link = static_cast<UcxLink*>(arg);
  link->endpoint_error_ = status;
  COHORT_LOG(kInfo) << "ucx endpoint to " << link->peer_name() << ": " << UcxStatusText(status);
}

Status UcxLink::Connect(const std::string& address) {
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER;
  params.address = reinterpret_cast<const ucp_address_t*>(address.data());
  params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  params.err_handler.cb = &UcxLink::OnEndpointError;
  params.err_handler.arg = this;
  ucs_status_t status = ucp_ep_create(worker_->get(), &params, &ep_);
  if (status != UCS_OK) {
    ep_ = nullptr;
    return UnavailableError("cannot create a UCX endpoint to " + peer_name() + ": " +
                            UcxStatusText(status) + " (is its address from another UCX version?)");
  }
  ucp_request_param_t param = ControlParam();
  ucs_status_ptr_t recv =
      ucp_tag_recv_nbx(worker_->get(), abort_in_, sizeof(abort_in_),
                       ucx_tag::Make(ucx_tag::kAbort, peer_, 0, 0) ^ recv_key_,
                       ucx_tag::kSenderMask, &param);
  if (UCS_PTR_IS_ERR(recv)) return PeerLost(UCS_PTR_STATUS(recv));
  abort_recv_ = recv;
  return Status::Ok();
}

Status UcxLink::StartHello(int size) {
  hello_out_ = static_cast<uint64_t>(size);
  ucp_request_param_t param = ControlParam();
  ucs_status_ptr_t recv =
      ucp_tag_recv_nbx(worker_->get(), &hello_in_, sizeof(hello_in_),
                       ucx_tag::Make(ucx_tag::kHello, peer_, 0, 0) ^ recv_key_,
                       ucx_tag::kSenderMask, &param);
  if (UCS_PTR_IS_ERR(recv)) return PeerLost(UCS_PTR_STATUS(recv));
  hello_recv_ = recv;
  const uint64_t hello_tag = ucx_tag::Make(ucx_tag::kHello, rank_, 0, 0) ^ send_key_;
  ucs_status_ptr_t send = ucp_tag_send_nbx(ep_, &hello_out_, sizeof(hello_out_), hello_tag, &param);
  if (UCS_PTR_IS_ERR(send)) return PeerLost(UCS_PTR_STATUS(send));
  hello_send_ = send;
  return Status::Ok();
}

Result<bool> UcxLink::HelloDone() {
  worker_->Progress();
  if (endpoint_error_ != UCS_OK) return PeerLost(endpoint_error_);
  for (void** request : {&hello_send_, &hello_recv_}) {
    if (*request == nullptr) continue;
    ucs_status_t status = ucp_request_check_status(*request);
    if (status == UCS_INPROGRESS) return false;
    ucp_request_free(*request);
    *request = nullptr;
    if (status != UCS_OK) return PeerLost(status);
  }
  if (hello_in_ != hello_out_) {
    return InvalidArgumentError(peer_name() + " is in a communicator of " + std::to_string(hello_in_) +
                                " ranks, this rank in one of " + std::to_string(hello_out_));
  }
  return true;
}

Status UcxLink::Post(bool is_recv, uint64_t tag, char* data, size_t bytes, Request* request) {
  if (request == nullptr || (data == nullptr && bytes > 0)) {
    return InvalidArgumentError(std::string(is_recv ? "PostRecv from " : "PostSend to ") +
                                peer_name() + ": null " + (request == nullptr ? "request" : "buffer") +
                                " for " + std::to_string(bytes) + " bytes, " + DescribeTag(tag));
  }
  if (!broken_ && endpoint_error_ != UCS_OK) (void)Break(PeerLost(endpoint_error_));
  if (broken_) {
    Complete(request, error_);
    return error_;
  }
  request->done = false;
  request->status = Status::Ok();
  static char nothing;  // UCX wants a pointer even for zero bytes
  if (data == nullptr) data = &nothing;
  Pending op{nullptr, request, is_recv, tag, bytes};
  ucp_request_param_t param{};
  ucs_status_ptr_t result;
  if (is_recv) {
    // Always a request handle: its completion is the one place where the sender's tag and
    // length are read (ucp_tag_recv_request_test).
    param.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
    result = ucp_tag_recv_nbx(worker_->get(), data, bytes,
                              ucx_tag::Make(ucx_tag::kData, peer_, recvs_posted_++, 0) ^ recv_key_,
                              ucx_tag::kMatchMask, &param);
  } else {
    result = ucp_tag_send_nbx(ep_, data, bytes,
                              ucx_tag::Make(ucx_tag::kData, rank_, sends_posted_++, tag) ^ send_key_,
                              &param);
  }
  if (UCS_PTR_IS_ERR(result)) {
    Status failed = PeerLost(UCS_PTR_STATUS(result));
    Complete(request, failed);
    return Break(failed);
  }
  op.ucx_request = result;
  pending_.push_back(op);
  return Status::Ok();
}

Status UcxLink::PostSend(uint64_t tag, const void* data, size_t bytes, Request* request) {
  return Post(false, tag, const_cast<char*>(static_cast<const char*>(data)), bytes, request);
}

Status UcxLink::PostRecv(uint64_t tag, void* data, size_t bytes, Request* request) {
  return Post(true, tag, static_cast<char*>(data), bytes, request);
}

Status UcxLink::CheckArrival(const Pending& op, const ucp_tag_recv_info_t& info) {
  const uint64_t sent_bits = (info.sender_tag ^ recv_key_) & ucx_tag::kCohortBitsMask;
  if (sent_bits == (op.tag & ucx_tag::kCohortBitsMask) && info.length == op.bytes) return Status::Ok();
  return Status(StatusCode::kInvalidArgument,
                "message mismatch with " + peer_name() + ": this rank expected " +
                    DescribeTag(op.tag) + " of " + std::to_string(op.bytes) +
                    " bytes, the peer sent " + DescribeTagKind(sent_bits) + " of " +
                    std::to_string(info.length) +
                    " bytes; ranks are calling different collectives or passing different counts");
}

bool UcxLink::Finished(Pending& op, Status* status) {
  if (op.ucx_request == nullptr) {  // a send UCX completed inside the post
    *status = Status::Ok();
    return true;
  }
  ucp_tag_recv_info_t info{};
  ucs_status_t done = op.is_recv ? ucp_tag_recv_request_test(op.ucx_request, &info)
                                 : ucp_request_check_status(op.ucx_request);
  if (done == UCS_INPROGRESS) return false;
  ucp_request_free(op.ucx_request);
  op.ucx_request = nullptr;
  if (done == UCS_OK) {
    *status = op.is_recv ? CheckArrival(op, info) : Status::Ok();
  } else if (done == UCS_ERR_MESSAGE_TRUNCATED) {
    *status = InvalidArgumentError(
        "message mismatch with " + peer_name() + ": this rank expected " + DescribeTag(op.tag) +
        " of " + std::to_string(op.bytes) + " bytes, the peer sent a larger message; ranks are "
        "calling different collectives or passing different counts");
  } else {
    *status = PeerLost(done);
  }
  return true;
}

void UcxLink::CheckAbortReceived() {
  if (abort_recv_ == nullptr) return;
  ucp_tag_recv_info_t info{};
  ucs_status_t status = ucp_tag_recv_request_test(abort_recv_, &info);
  if (status == UCS_INPROGRESS) return;
  ucp_request_free(abort_recv_);
  abort_recv_ = nullptr;
  if (status != UCS_OK) return;  // cancelled or the peer is gone: reported elsewhere
  (void)Break(AbortedError(peer_name() + " closed its link to this rank after an error: " +
                     std::string(abort_in_, std::min(info.length, sizeof(abort_in_)))));
}

Result<bool> UcxLink::Progress() {
  if (broken_) return error_;
  bool moved = worker_->Progress();
  CheckAbortReceived();
  if (broken_) return error_;
  Status failure;
  size_t kept = 0;
  for (Pending& op : pending_) {
    Status status;
    if (!Finished(op, &status)) {
      pending_[kept++] = op;
      continue;
    }
    moved = true;
    Complete(op.request, status);
    if (!status.ok() && failure.ok()) failure = status;
  }
  pending_.resize(kept);
  if (!failure.ok()) {
    if (failure.code() == StatusCode::kInvalidArgument) SendAbort(failure.message());
    return Break(failure);
  }
  if (!pending_.empty() && endpoint_error_ != UCS_OK) return Break(PeerLost(endpoint_error_));
  return moved;
}

Status UcxLink::CheckPeerAlive() {
  if (broken_) return error_;
  if (!pending_.empty() && endpoint_error_ != UCS_OK) return Break(PeerLost(endpoint_error_));
  return Status::Ok();
}

void UcxLink::SendAbort(const std::string& text) {
  if (abort_send_ != nullptr || ep_ == nullptr || endpoint_error_ != UCS_OK) return;
  abort_out_ = text.substr(0, sizeof(abort_in_));
  ucp_request_param_t param = ControlParam();
  const uint64_t abort_tag = ucx_tag::Make(ucx_tag::kAbort, rank_, 0, 0) ^ send_key_;
  ucs_status_ptr_t send =
      ucp_tag_send_nbx(ep_, abort_out_.data(), abort_out_.size(), abort_tag, &param);
  if (!UCS_PTR_IS_ERR(send)) abort_send_ = send;  // best effort, as over tcp
}

Status UcxLink::PeerLost(ucs_status_t status) const {
  return UnavailableError("connection to " + peer_name() + " over ucx lost: " +
                          UcxStatusText(status) + " (did that rank exit or crash?)");
}

Status UcxLink::Break(Status status) {
  if (broken_) return error_;
  broken_ = true;
  error_ = std::move(status);
  COHORT_LOG(kInfo) << "link to " << peer_name() << " (ucx) broken: " << error_.ToString();
  for (Pending& op : pending_) {
    if (op.ucx_request != nullptr) {
      if (op.is_recv) ucp_request_cancel(worker_->get(), op.ucx_request);
      abandoned_.push_back(op.ucx_request);
    }
    Complete(op.request, error_);
  }
  pending_.clear();
  return error_;
}

UcxLink::~UcxLink() {
  worker_->ExpectSender(peer_, nullptr);  // still a peer, but this link's counter is going
  ucp_worker_h worker = worker_->get();
  // Receives first: nothing may land in a buffer after this.
  for (Pending& op : pending_) {
    if (op.ucx_request == nullptr) continue;
    if (op.is_recv) ucp_request_cancel(worker, op.ucx_request);
    abandoned_.push_back(op.ucx_request);
  }
  for (void* recv : {abort_recv_, hello_recv_}) {
    if (recv == nullptr) continue;
    ucp_request_cancel(worker, recv);
    ucp_request_free(recv);
  }
  if (ep_ != nullptr) {
    // A healthy, idle endpoint is flushed, so a last abort message still leaves. A failed or
    // broken one, or one with sends in flight, is closed by force, which ends those sends: over
    // a link that went silent (a cable pulled) they never finish, and UCX asserts when a worker
    // is destroyed with requests still on one of its endpoints.
    const bool force = endpoint_error_ != UCS_OK || broken_ || !abandoned_.empty();
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
    ucs_status_ptr_t close = ucp_ep_close_nbx(ep_, &param);
    if (UCS_PTR_IS_PTR(close)) {
      const Deadline deadline = Deadline::After(kCloseFor);
      while (ucp_request_check_status(close) == UCS_INPROGRESS && !deadline.expired()) {
        worker_->Progress();
      }
      ucp_request_free(close);
    }
  }
  for (void* send : {abort_send_, hello_send_}) {
    if (send != nullptr) ucp_request_free(send);
  }
  for (void* request : abandoned_) ucp_request_free(request);
}

}  // namespace cohort
