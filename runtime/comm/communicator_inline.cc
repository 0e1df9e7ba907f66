// CommunicatorImpl's latency path: a blocking collective that the shared-memory arena serves (or
// any collective of a world of one) runs on the calling thread. It still gets its sequence number in call order and its history entry
// (both allocation-free), but no Work, no queue and no hand-off to the progress thread, whose
// wake-up alone costs more than an 8-byte allreduce through shared memory.
//
// Ordering: the caller takes exec_mutex_ while it holds mutex_ and sees an empty queue, as the
// progress thread does when it takes an operation off the queue; so an operation numbered
// earlier always runs before one numbered later, whichever thread runs each. Arena algorithms
// touch no link, so point-to-point messages the progress thread keeps moving are unaffected.
#include "collectives/hierarchical.h"
#include "collectives/selector.h"
#include "runtime/base/errors.h"
#include "runtime/comm/communicator_impl.h"
#include "runtime/comm/validate.h"

namespace cohort {

void CommunicatorImpl::RunBlocking(CollectiveKind kind, const BufferView& send,
                                   const BufferView& recv, ReduceOp op, int root) {
  Op entry;
  entry.type = Op::Type::kCollective;
  if (kind == CollectiveKind::kBarrier) {
    entry.args.kind = kind;
  } else {
    Result<CollectiveArgs> args = ValidateCollective({kind, rank_, size_}, send, recv, op, root);
    ThrowIfError(args.status());
    entry.args = *args;
  }
  if (!entry.args.device.is_cpu()) {
    EnqueueCuda(std::move(entry))->wait();
    return;
  }
  Status status;
  if (TryRunInline(entry, &status)) {
    ThrowIfError(status);
    return;
  }
  Enqueue(std::move(entry))->wait();
}

bool CommunicatorImpl::TryRunInline(Op& op, Status* status) {
  // Only the arena's algorithms (and a world of one) run here. Both need no DETAIL fingerprint
  // exchange: the arena compares every rank's call at its first step (the shared-memory call
  // check, always on), and a world of one has nobody to disagree with.
  // A world of one runs here too: its collectives are local copies, and the hand-off to the
  // progress thread made an 8-byte allreduce cost 28 us instead of well under one.
  const bool alone = size_ == 1;
  if (peer_io_->arena() == nullptr && !alone) return false;
  Result<const AlgorithmInfo*> algorithm =
      SelectAlgorithm(op.args, WorldOf(*peer_io_), config_.algorithm);
  if (!algorithm.ok() || !((*algorithm)->needs_arena || alone)) return false;

  std::unique_lock queue_lock(mutex_);
  if (!queue_.empty()) return false;  // earlier calls first, on the progress thread
  std::lock_guard exec_lock(exec_mutex_);
  NumberLocked(op, OpHistory::State::kRunning);
  queue_lock.unlock();

  Status result = AbortStatus();
  if (result.ok()) result = Run(op, *algorithm);
  *status = Conclude(op.history, std::move(result));
  return true;
}

}  // namespace cohort
