// CommunicatorImpl's calling side: validates a call, gives it its sequence number and tag
// (in call order, under the queue lock) and queues it for the progress thread, or, for a
// blocking collective that the shared-memory arena serves, runs it on the calling thread.
#include "runtime/base/tag.h"
#include "runtime/comm/communicator_impl.h"
#include "runtime/comm/validate.h"

namespace cohort {

// ---- enqueueing ----

WorkPtr CommunicatorImpl::FailedWork(std::string description, Status status) {
  auto work = std::make_shared<Work>(std::move(description));
  work->Complete(std::move(status));
  return work;
}

WorkPtr CommunicatorImpl::EnqueueCollective(CollectiveKind kind, const BufferView& send,
                                            const BufferView& recv, ReduceOp op, int root) {
  Op entry;
  if (kind == CollectiveKind::kBarrier) {
    entry.args.kind = kind;
  } else {
    Result<CollectiveArgs> args = ValidateCollective({kind, rank_, size_}, send, recv, op, root);
    if (!args.ok()) return FailedWork(std::string(CollectiveName(kind)), args.status());
    entry.args = *args;
  }
  entry.type = Op::Type::kCollective;
  if (!entry.args.device.is_cpu()) return EnqueueCuda(std::move(entry));
  return Enqueue(std::move(entry));
}

WorkPtr CommunicatorImpl::EnqueuePointToPoint(Op::Type type, const BufferView& buffer, int peer) {
  CollectiveKind kind = CollectiveKind::kSendRecv;
  Status valid = ValidatePointToPoint({kind, rank_, size_}, buffer, peer);
  if (!valid.ok()) return FailedWork(type == Op::Type::kSend ? "send" : "recv", valid);
  Op entry;
  entry.type = type;
  entry.peer = peer;
  entry.data = buffer.data;
  entry.bytes = buffer.bytes();
  entry.args.dtype = buffer.dtype;
  entry.args.count = buffer.count;
  entry.args.device = buffer.device;
  if (!buffer.device.is_cpu()) return EnqueueCuda(std::move(entry));
  return Enqueue(std::move(entry));
}

void CommunicatorImpl::NumberLocked(Op& op, OpHistory::State state) {
  OpSummary& what = op.summary;
  what.kind = op.args.kind;
  what.count = op.args.count;
  what.dtype = op.args.dtype;
  what.op = op.args.op;
  what.root = op.args.root;
  if (op.type == Op::Type::kCollective) {
    what.type = OpSummary::Type::kCollective;
    what.sequence = next_sequence_++;
    if (op.args.kind == CollectiveKind::kBarrier) {
      op.tag = MakeTag(op.args.kind, what.sequence);
    } else if (IsReduction(op.args.kind)) {
      op.tag = MakeTag(op.args.kind, what.sequence, op.args.dtype, op.args.op);
    } else {
      op.tag = MakeTag(op.args.kind, what.sequence, op.args.dtype);
    }
  } else {
    const bool sending = op.type == Op::Type::kSend;
    auto& counter = sending ? sends_to_[static_cast<size_t>(op.peer)]
                            : recvs_from_[static_cast<size_t>(op.peer)];
    what.type = sending ? OpSummary::Type::kSend : OpSummary::Type::kRecv;
    what.kind = CollectiveKind::kSendRecv;
    what.sequence = ++counter;
    what.peer = op.peer;
    op.tag = MakeTag(CollectiveKind::kSendRecv, what.sequence);
  }
  op.history = history_.Begin(what, state);
}

WorkPtr CommunicatorImpl::Enqueue(Op op) {
  std::lock_guard lock(mutex_);
  NumberLocked(op);
  op.work = std::make_shared<Work>(op.summary.Describe(), caller_yield_for_);
  WorkPtr work = op.work;
  queue_.push_back(std::move(op));
  wake_.store(true);
  queue_cv_.notify_one();
  return work;
}

// ---- public async entry points ----

WorkPtr CommunicatorImpl::allreduce_async(const BufferView& send, const BufferView& recv,
                                          ReduceOp op) {
  return EnqueueCollective(CollectiveKind::kAllreduce, send, recv, op, 0);
}
WorkPtr CommunicatorImpl::reduce_scatter_async(const BufferView& send, const BufferView& recv,
                                               ReduceOp op) {
  return EnqueueCollective(CollectiveKind::kReduceScatter, send, recv, op, 0);
}
WorkPtr CommunicatorImpl::allgather_async(const BufferView& send, const BufferView& recv) {
  return EnqueueCollective(CollectiveKind::kAllgather, send, recv, ReduceOp::kSum, 0);
}
WorkPtr CommunicatorImpl::broadcast_async(const BufferView& send, const BufferView& recv,
                                          int root) {
  return EnqueueCollective(CollectiveKind::kBroadcast, send, recv, ReduceOp::kSum, root);
}
WorkPtr CommunicatorImpl::reduce_async(const BufferView& send, const BufferView& recv,
                                       ReduceOp op, int root) {
  return EnqueueCollective(CollectiveKind::kReduce, send, recv, op, root);
}
WorkPtr CommunicatorImpl::alltoall_async(const BufferView& send, const BufferView& recv) {
  return EnqueueCollective(CollectiveKind::kAlltoall, send, recv, ReduceOp::kSum, 0);
}
WorkPtr CommunicatorImpl::barrier_async() {
  return EnqueueCollective(CollectiveKind::kBarrier, {}, {}, ReduceOp::kSum, 0);
}
WorkPtr CommunicatorImpl::send_async(const BufferView& buffer, int peer) {
  return EnqueuePointToPoint(Op::Type::kSend, buffer, peer);
}
WorkPtr CommunicatorImpl::recv_async(const BufferView& buffer, int peer) {
  return EnqueuePointToPoint(Op::Type::kRecv, buffer, peer);
}

}  // namespace cohort
