// CommunicatorImpl's CUDA side: collectives and messages on CUDA buffers, through NCCL or
// staged through pinned host memory (see cuda_collectives.h for the two paths' semantics).
#include "collectives/selector.h"
#include "runtime/comm/communicator_impl.h"

namespace cohort {

WorkPtr CommunicatorImpl::EnqueueCuda(Op op) {
  const char* what = op.type == Op::Type::kCollective ? CollectiveName(op.args.kind).data()
                     : op.type == Op::Type::kSend    ? "send"
                                                     : "recv";
  Status broken = AbortStatus();
  if (!broken.ok()) return FailedWork(what, broken);
  // One lock across issue and queueing: NCCL sees CUDA calls in the order they get sequence
  // numbers, as every rank must.
  std::lock_guard lock(cuda_issue_mutex_);
  Result<CudaCollectives::Path> path = cuda_->ChoosePath();
  if (!path.ok()) return FailedWork(what, path.status());
  Result<std::shared_ptr<cuda::Event>> event = std::shared_ptr<cuda::Event>();
  if (*path == CudaCollectives::Path::kNccl) {
    op.device_path = Op::DevicePath::kNccl;
    CollectiveArgs args = op.args;
    if (op.type != Op::Type::kCollective) {
      args.kind = CollectiveKind::kSendRecv;
      args.send = op.type == Op::Type::kSend ? op.data : nullptr;
      args.recv = op.type == Op::Type::kRecv ? op.data : nullptr;
    }
    event = cuda_->IssueNccl(args, op.peer);
  } else {
    op.device_path = Op::DevicePath::kStaged;
    event = cuda_->RecordInputReady(op.args.device.index);
  }
  if (!event.ok()) {
    Status status(event.status().code(), std::string(what) + " on rank " +
                                             std::to_string(rank_) + ": " +
                                             event.status().message());
    if (*path == CudaCollectives::Path::kNccl) cuda_->Abort();
    return FailedWork(what, status);
  }
  op.device_event = std::move(*event);
  return Enqueue(std::move(op));
}

Status CommunicatorImpl::CancelledStatus() {
  Status local = AbortStatus();
  if (!local.ok()) return local;
  return ThrottledRemoteAbortStatus();
}

Status CommunicatorImpl::RunCuda(Op& op) {
  const Deadline deadline = Deadline::After(config_.timeout);
  if (op.device_path == Op::DevicePath::kNccl) {
    if (config_.check_fingerprints && op.type == Op::Type::kCollective) {
      // The NCCL call is already on the stream; a mismatch found now aborts NCCL so that the
      // stream does not hang on a collective the other ranks never call.
      Status agreed = CheckFingerprints(op);
      if (!agreed.ok()) {
        cuda_->Abort();
        return agreed;
      }
    }
    Status status = cuda_->WaitNccl(op.args.device.index, *op.device_event, deadline,
                                    [this] { return CancelledStatus(); });
    if (!status.ok()) {
      return Status(status.code(), op.summary.Describe() + " on rank " + std::to_string(rank_) +
                                       " (NCCL): " + status.message());
    }
    return status;
  }
  if (config_.check_fingerprints) COHORT_RETURN_IF_ERROR(CheckFingerprints(op));
  std::string_view algorithm = "";
  Status status = cuda_->RunStaged(
      op.args, *op.device_event, deadline, [&](const CollectiveArgs& host) {
        peer_io_->BeginOp(op.tag, op.summary, config_.timeout, backoff::kYieldFor);
        return RunCollective(*peer_io_, host, workspace_, config_.algorithm, &algorithm);
      });
  LogAlgorithmChoice(op, algorithm, /*staged=*/true);
  return status;
}

Status CommunicatorImpl::PostStaged(Op& op, InFlight& entry) {
  const int device = op.args.device.index;
  Link* link = links_[static_cast<size_t>(op.peer)].get();
  if (op.type == Op::Type::kSend) {
    COHORT_ASSIGN_OR_RETURN(entry.staging,
                            cuda_->StageOut(device, op.data, op.bytes, *op.device_event,
                                            entry.deadline));
    return link->PostSend(op.tag, entry.staging.data(), op.bytes, &entry.request);
  }
  COHORT_ASSIGN_OR_RETURN(entry.staging, cuda::PinnedBuffer::Allocate(op.bytes));
  entry.device_destination = op.data;
  entry.device = device;
  return link->PostRecv(op.tag, entry.staging.data(), op.bytes, &entry.request);
}

void CommunicatorImpl::set_cuda_stream(void* stream) {
  std::lock_guard lock(cuda_issue_mutex_);
  cuda_->set_stream(stream);
}

std::string CommunicatorImpl::cuda_path() const { return cuda_->PathDescription(); }

}  // namespace cohort
