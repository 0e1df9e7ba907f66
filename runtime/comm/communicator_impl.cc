#include "runtime/comm/communicator_impl.h"

#include <algorithm>
#include <bit>
#include <optional>
#include <span>

#include "collectives/selector.h"
#include "runtime/base/backoff.h"
#include "runtime/base/logging.h"
#include "runtime/base/tag.h"
#include "runtime/comm/fingerprint.h"
#include "runtime/comm/wait_chain.h"
#include "runtime/store/watched_store.h"
#include "runtime/transport/connect.h"
#include "runtime/transport/link_waiter.h"

namespace cohort {

CommunicatorImpl::CommunicatorImpl(const Config& config, const Identity& identity,
                                   std::shared_ptr<Store> root_store, std::string name)
    : config_(config), rank_(identity.rank), size_(identity.size), name_(std::move(name)),
      failure_key_(config.elastic ? "comm/" + name_ + "/abort" : kAbortKey),
      root_store_(std::move(root_store)),
      store_(std::make_shared<PrefixStore>(
          "comm/" + name_, std::make_shared<WatchedStore>(root_store_, kAbortKey))),
      sends_to_(static_cast<size_t>(identity.size), 0),
      recvs_from_(static_cast<size_t>(identity.size), 0) {
  workspace_.chunk_bytes = config_.chunk_bytes;
  cuda_ = std::make_unique<CudaCollectives>(config_, rank_, size_, store_);
}

Result<std::unique_ptr<CommunicatorImpl>> CommunicatorImpl::Make(const Config& config,
                                                                 const Identity& identity,
                                                                 std::shared_ptr<Store> root_store,
                                                                 const std::string& name) {
  if (identity.size < 1 || identity.rank < 0 || identity.rank >= identity.size) {
    return InvalidArgumentError("invalid identity: rank " + std::to_string(identity.rank) +
                                " of " + std::to_string(identity.size));
  }
  Status algorithm = CheckAlgorithmName(config.algorithm);
  if (!algorithm.ok()) return algorithm;
  std::unique_ptr<CommunicatorImpl> comm(
      new CommunicatorImpl(config, identity, std::move(root_store), name));
  COHORT_RETURN_IF_ERROR(comm->Connect());
  return comm;
}

Status CommunicatorImpl::Connect() {
  COHORT_ASSIGN_OR_RETURN(topo_, ExchangeTopology(*store_, rank_, size_, config_.connect_timeout));
  LinkSetup setup;
  setup.rank = rank_;
  setup.size = size_;
  setup.node_of_rank = topo_.node_of_rank;
  setup.host_of_rank = topo_.host_of_rank;
  setup.store = store_;
  setup.comm_name = name_;
  setup.config = config_;
  COHORT_ASSIGN_OR_RETURN(Connections connections, ConnectLinks(setup));
  links_ = std::move(connections.links);
  // The arena of this host's ranks: the direct shm collectives when it holds every rank of the
  // communicator, the host phases of the hierarchical ones when the ranks span hosts.
  arena_ = std::move(connections.arena);
  shm_bytes_ = connections.shm_bytes;
  caller_yield_for_ = backoff::CallerYieldFor(config_.busy_wait);

  WaitHooks hooks;
  hooks.cancelled = &aborted_;
  hooks.cancelled_status = [this] { return AbortStatus(); };
  hooks.on_stall = [this] { return ThrottledRemoteAbortStatus(); };
  peer_io_ = std::make_unique<CommPeerIo>(rank_, size_, &links_, &topo_.host_of_rank,
                                          &topo_.node_of_rank, std::move(hooks), arena_.get());
  for (const auto& link : links_) raw_links_.push_back(link.get());
  COHORT_LOG(kInfo) << "communicator '" << name_ << "': rank " << rank_ << " of " << size_
                    << ", local rank " << topo_.local_rank << " of " << topo_.local_size
                    << " on " << topo_.host_of_rank[static_cast<size_t>(rank_)] << " (node "
                    << topo_.node_rank << " of " << topo_.num_nodes << "); "
                    << (shm_bytes_ >> 10) << " KiB of shared memory"
                    << (peer_io_->arena() != nullptr ? ", direct shm collectives on" : "")
                    << (topo_.num_nodes > 1 && topo_.local_size > 1 ? ", hierarchical collectives across hosts" : "");
  progress_thread_ = std::thread([this] { ProgressLoop(); });
  return Status::Ok();
}

CommunicatorImpl::~CommunicatorImpl() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    // Work still queued at destruction will never be matched by a live communicator.
    if (!queue_.empty()) aborted_.store(true);
  }
  queue_cv_.notify_all();
  if (progress_thread_.joinable()) progress_thread_.join();
}

int CommunicatorImpl::node_of(int rank) const {
  if (rank < 0 || rank >= size_) return -1;
  return topo_.node_of_rank[static_cast<size_t>(rank)];
}

const std::string& CommunicatorImpl::host_of(int rank) const {
  static const std::string kUnknown = "?";
  if (rank < 0 || rank >= size_) return kUnknown;
  return topo_.host_of_rank[static_cast<size_t>(rank)];
}

std::string CommunicatorImpl::transport_to(int peer) const {
  if (peer == rank_) return "self";
  if (peer < 0 || peer >= size_ || !links_[static_cast<size_t>(peer)]) return "none";
  return std::string(links_[static_cast<size_t>(peer)]->kind());
}

std::string CommunicatorImpl::last_algorithm() const {
  return std::string(last_algorithm_staged_.load(std::memory_order_relaxed) ? "staged " : "") +
         last_algorithm_.load(std::memory_order_relaxed);
}

// ---- the progress thread ----

void CommunicatorImpl::ProgressLoop() {
  SetLogRank(rank_);
  while (true) {
    std::optional<Op> next;
    std::unique_lock<std::mutex> exec_lock;
    bool stop = false;
    {
      std::unique_lock lock(mutex_);
      if (in_flight_.empty()) {
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      }
      wake_.store(false);
      if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
        // Taken before mutex_ is released, so that an inline call numbered after this
        // operation cannot start before it (communicator_inline.cc).
        exec_lock = std::unique_lock(exec_mutex_);
      } else {
        stop = stopping_;
      }
    }
    if (next) {
      Execute(*next);
      exec_lock.unlock();
    } else if (stop) {
      FailInFlight(AbortedError("the communicator was destroyed on rank " +
                                std::to_string(rank_) + " while this message was pending"));
      return;
    } else {
      PumpPointToPoint();
    }
    ReapPointToPoint();
    if (!in_flight_.empty() && !AbortStatus().ok()) FailInFlight(AbortStatus());
  }
}

Status CommunicatorImpl::ExplainPeerLoss(const Status& status) {
  // The rank that went away usually published why (a mismatch it saw), or the launcher did
  // (how it died) a moment after its connections closed: wait briefly for that cause.
  auto give_up = Clock::now() + std::chrono::seconds(2);
  while (true) {
    Status cause = RemoteAbortStatus();
    if (cause.code() == StatusCode::kAborted) {
      return Status(status.code(), status.message() + "\n  cause: " + cause.message());
    }
    if (!cause.ok() || Clock::now() >= give_up) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string CommunicatorImpl::ExplainTimeout(const Status& status) {
  if (peer_io_ == nullptr || peer_io_->awaited().empty()) return "";
  const std::string& message = status.message();
  // Long enough for the ranks that time out at about the same moment to publish theirs.
  const auto settle = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), config_.timeout / 4);
  std::string chain = ExplainWaitChain(*root_store_, "comm/" + name_ + "/waits/", rank_,
                                       peer_io_->awaited(), message.substr(0, message.find(" (")),
                                       settle);
  return chain.empty() ? "" : "\n  " + chain;
}

Status CommunicatorImpl::Conclude(size_t history, Status status) {
  if (status.code() == StatusCode::kUnavailable && AbortStatus().ok()) {
    status = ExplainPeerLoss(status);
  }
  if (!status.ok()) {
    if (status.code() == StatusCode::kDeadlineExceeded) {
      status = Status(status.code(), status.message() + ExplainTimeout(status) + "\n" +
                                         history_.Describe());
    }
    PublishFailure(status);
  }
  history_.SetState(history, status.ok() ? OpHistory::State::kDone : OpHistory::State::kFailed);
  return status;
}

void CommunicatorImpl::Finish(const WorkPtr& work, size_t history, Status status) {
  work->Complete(Conclude(history, std::move(status)));
}

void CommunicatorImpl::Execute(Op& op) {
  Status status = AbortStatus();
  if (!status.ok()) {
    history_.SetState(op.history, OpHistory::State::kFailed);
    op.work->Complete(std::move(status));
    return;
  }
  history_.SetState(op.history, OpHistory::State::kRunning);
  if (op.type == Op::Type::kCollective || op.device_path == Op::DevicePath::kNccl) {
    Finish(op.work, op.history, Run(op));
    return;
  }
  InFlight& entry = in_flight_.emplace_back();
  entry.work = op.work;
  entry.history = op.history;
  entry.summary = op.summary;
  entry.deadline = Deadline::After(config_.timeout);
  if (op.device_path == Op::DevicePath::kStaged) {
    Status posted = PostStaged(op, entry);
    if (!posted.ok() && !entry.request.done) {
      entry.request.done = true;
      entry.request.status = posted;
    }
    return;
  }
  Link* link = links_[static_cast<size_t>(op.peer)].get();
  Status posted = op.type == Op::Type::kSend
                      ? link->PostSend(op.tag, op.data, op.bytes, &entry.request)
                      : link->PostRecv(op.tag, op.data, op.bytes, &entry.request);
  if (!posted.ok() && !entry.request.done) {
    entry.request.done = true;
    entry.request.status = posted;
  }
}

Status CommunicatorImpl::Run(Op& op, const AlgorithmInfo* chosen) {
  if (op.device_path != Op::DevicePath::kNone) return RunCuda(op);
  // The inline path (`chosen`) runs only arena algorithms, which check every rank's call anyway.
  if (config_.check_fingerprints && chosen == nullptr) COHORT_RETURN_IF_ERROR(CheckFingerprints(op));
  // An algorithm chosen by the caller means the inline path: the caller's thread waits.
  peer_io_->BeginOp(op.tag, op.summary, config_.timeout,
                    chosen != nullptr ? caller_yield_for_ : backoff::kYieldFor);
  if (chosen != nullptr) {  // selected by the caller (the inline path): validated there
    LogAlgorithmChoice(op, chosen->name);
    return chosen->run(*peer_io_, op.args, workspace_);
  }
  std::string_view algorithm;
  Status status = RunCollective(*peer_io_, op.args, workspace_, config_.algorithm, &algorithm);
  LogAlgorithmChoice(op, algorithm);
  return status;
}

Status CommunicatorImpl::CheckFingerprints(const Op& op) {
  Fingerprint mine = MakeFingerprint(op.summary.sequence, op.args);
  fingerprints_.resize(static_cast<size_t>(size_));
  CollectiveArgs exchange;
  exchange.kind = CollectiveKind::kAllgather;
  exchange.dtype = DataType::kU8;
  exchange.count = sizeof(Fingerprint);
  exchange.send = &mine;
  exchange.recv = fingerprints_.data();
  OpSummary check = op.summary;
  check.type = OpSummary::Type::kFingerprintCheck;
  peer_io_->BeginOp(MakeTag(CollectiveKind::kInternal, op.summary.sequence), check, config_.timeout,
                    backoff::kYieldFor);
  COHORT_RETURN_IF_ERROR(RunCollective(*peer_io_, exchange, workspace_, "auto", nullptr));
  return CompareFingerprints(fingerprints_);
}

void CommunicatorImpl::LogAlgorithmChoice(const Op& op, std::string_view algorithm, bool staged) {
  // Names are static strings (the selector's table), so a pointer records the choice lock-free.
  last_algorithm_.store(algorithm.data(), std::memory_order_relaxed);
  last_algorithm_staged_.store(staged, std::memory_order_relaxed);
  if (!LogEnabled(LogLevel::kInfo)) return;
  size_t bytes = op.args.count * op.args.element_bytes();
  auto key = std::make_pair(static_cast<int>(op.args.kind),
                            bytes == 0 ? -1 : static_cast<int>(std::bit_width(bytes)));
  if (!logged_choices_.insert(key).second) return;
  COHORT_LOG(kInfo) << "communicator '" << name_ << "': " << CollectiveName(op.args.kind)
                    << " of " << bytes << " bytes uses algorithm " << (staged ? "staged " : "")
                    << algorithm;
}

Status CommunicatorImpl::AbortStatus() {
  // failure_ is set (under the lock) before aborted_: most calls need neither lock nor copy.
  if (!aborted_.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard lock(status_mutex_);
  return failure_;
}

void CommunicatorImpl::PublishFailure(const Status& status) {
  {
    std::lock_guard lock(status_mutex_);
    if (failure_.ok()) failure_ = status;
  }
  aborted_.store(true);
  // Tell the other ranks; the first report wins, the launcher may overwrite it with the exit
  // status of a dead rank, which is the most precise cause.
  std::string report = "rank " + std::to_string(rank_) + " (" +
                       topo_.host_of_rank[static_cast<size_t>(rank_)] + ") failed: " +
                       status.message();
  if (report.size() > 4096) report.resize(4096);
  auto ignored = root_store_->CompareSet(failure_key_, Bytes{}, ToBytes(report));
  (void)ignored;
  // The peers hear it over the links too: when the store is gone with its host, that is how a
  // rank waiting for this one learns what failed first.
  for (auto& link : links_) {
    if (link != nullptr) link->Close(status);
  }
}

Status CommunicatorImpl::RemoteAbortStatus() {
  // This communicator's failures, then (when elastic, where they differ) the launcher's stop.
  std::vector<std::string> keys = {failure_key_};
  if (failure_key_ != kAbortKey) keys.emplace_back(kAbortKey);
  for (const std::string& key : keys) {
    Result<bool> present = root_store_->Check(key);
    if (!present.ok()) return present.status().WithContext("lost the rendezvous store: ");
    if (!*present) continue;
    Result<Bytes> reason = root_store_->Get(key, std::chrono::milliseconds(1000));
    std::string text = reason.ok() ? ToString(*reason) : "another rank failed";
    return AbortedError("the job is stopping because " + text);
  }
  return Status::Ok();
}

Status CommunicatorImpl::ThrottledRemoteAbortStatus() {
  auto now = Clock::now();
  if (now - last_remote_check_ < kRemoteAbortCheckEvery) return Status::Ok();
  last_remote_check_ = now;
  return RemoteAbortStatus();
}

void CommunicatorImpl::abort(const std::string& reason) {
  {
    std::lock_guard lock(status_mutex_);
    if (failure_.ok()) failure_ = AbortedError("communicator aborted on rank " +
                                              std::to_string(rank_) + ": " + reason);
  }
  aborted_.store(true);
  wake_.store(true);
  queue_cv_.notify_all();
  cuda_->Abort();  // NCCL work already on a stream ends too
}

// ---- split ----

std::unique_ptr<Communicator> CommunicatorImpl::split(int color, int key) {
  // Everyone learns everyone's (color, key) through an allgather on this communicator.
  std::vector<int64_t> mine = {color, key};
  std::vector<int64_t> all(2 * static_cast<size_t>(size_));
  allgather({mine.data(), 2, DataType::kI64}, {all.data(), all.size(), DataType::kI64});
  int split_index = ++splits_;
  if (color < 0) return nullptr;

  std::vector<std::pair<int64_t, int>> members;  // (key, old rank) of my color
  for (int r = 0; r < size_; ++r) {
    if (all[2 * static_cast<size_t>(r)] == color) members.emplace_back(all[2 * static_cast<size_t>(r) + 1], r);
  }
  std::sort(members.begin(), members.end());
  Identity child;
  child.size = static_cast<int>(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].second == rank_) child.rank = static_cast<int>(i);
  }
  child.scheme = "split";
  std::string child_name = name_ + ".split" + std::to_string(split_index) + ".c" +
                           std::to_string(color);
  return ValueOrThrow(Make(config_, child, root_store_, child_name));
}

}  // namespace cohort
