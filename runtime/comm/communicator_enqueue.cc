// CommunicatorImpl's calling side: validates a call, gives it its sequence number and tag
// (in call order, under the queue lock) and queues it for the progress thread.
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

WorkPtr CommunicatorImpl::Enqueue(Op op) {
  {
    std::lock_guard lock(mutex_);
    const std::string dtype(DataTypeName(op.args.dtype));
    const std::string bytes = std::to_string(op.args.count * op.args.element_bytes());
    if (op.type == Op::Type::kCollective) {
      uint64_t sequence = next_sequence_++;
      op.sequence = sequence;
      if (op.args.kind == CollectiveKind::kBarrier) {
        op.tag = MakeTag(op.args.kind, sequence);
      } else if (IsReduction(op.args.kind)) {
        op.tag = MakeTag(op.args.kind, sequence, op.args.dtype, op.args.op);
      } else {
        op.tag = MakeTag(op.args.kind, sequence, op.args.dtype);
      }
      op.description = std::string(CollectiveName(op.args.kind)) + " #" +
                       std::to_string(sequence) + " (";
      if (op.args.kind == CollectiveKind::kBarrier) {
        op.description += "no data)";
      } else {
        op.description += std::to_string(op.args.count) + " x " + dtype + " = " + bytes + " bytes";
        if (IsReduction(op.args.kind)) op.description += ", " + std::string(ReduceOpName(op.args.op));
        if (HasRoot(op.args.kind)) {
          op.description += ", root " + std::to_string(op.args.root);
        }
        op.description += ")";
      }
    } else {
      bool sending = op.type == Op::Type::kSend;
      auto& counter = sending ? sends_to_[static_cast<size_t>(op.peer)]
                              : recvs_from_[static_cast<size_t>(op.peer)];
      op.tag = MakeTag(CollectiveKind::kSendRecv, ++counter);
      op.description = std::string(sending ? "send #" : "recv #") + std::to_string(counter) +
                       (sending ? " to rank " : " from rank ") + std::to_string(op.peer) + " (" +
                       std::to_string(op.bytes) + " bytes)";
    }
    op.work = std::make_shared<Work>(op.description);
    op.history = history_.Begin(op.description);
    WorkPtr work = op.work;
    queue_.push_back(std::move(op));
    wake_.store(true);
    queue_cv_.notify_one();
    return work;
  }
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
