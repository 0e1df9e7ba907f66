#include "runtime/ps/server.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "runtime/base/logging.h"

namespace cohort::ps {
namespace {

constexpr uint64_t kShardMagic = 0x4452414853535043ull;  // "CPSSHARD"

// The first 64 bytes of a shard file.
struct ShardFileHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t server;
  uint32_t num_servers;
  uint32_t slices;
  char checkpoint_id[40];
};
static_assert(sizeof(ShardFileHeader) == 64);

std::string Seconds(std::chrono::milliseconds ms) {
  return std::to_string(ms.count() / 1000) + " s";
}

}  // namespace

Server::Server(Endpoint& endpoint, int index)
    : endpoint_(endpoint),
      index_(index),
      layout_(endpoint.layout()),
      num_workers_(endpoint.layout().num_workers),
      staging_(static_cast<size_t>(endpoint.layout().size())),
      said_bye_(static_cast<size_t>(num_workers_), 0),
      lost_(static_cast<size_t>(num_workers_)) {}

Server::~Server() = default;

std::string Server::Name() const {
  return "parameter server " + std::to_string(index_) + " (host " +
         endpoint_.host_of(layout_.server_member(index_)) + ")";
}

std::string Server::WorkerName(int worker) const {
  return "worker " + std::to_string(worker) + " (host " + endpoint_.host_of(worker) + ")";
}

ServerSlice* Server::Find(uint32_t key) const {
  return key < slices_.size() ? slices_[key].get() : nullptr;
}

std::string Server::Missing(const std::vector<uint8_t>& have) const {
  std::string out;
  int n = 0;
  for (size_t w = 0; w < have.size(); ++w) {
    if (have[w]) continue;
    out += (n++ ? ", " : "") + std::to_string(w);
  }
  return (n == 1 ? "worker " : "workers ") + out;
}

// ---- replies ----

Server::ReplySlot* Server::NewSlot(uint64_t* token) {
  if (free_slots_.empty()) {
    slots_.push_back(std::make_unique<ReplySlot>());
    *token = slots_.size() - 1;
  } else {
    *token = free_slots_.back();
    free_slots_.pop_back();
  }
  return slots_[*token].get();
}

void Server::Reply(int member, uint64_t request_id, uint32_t key, const Status& status,
                   int64_t step, ServerSlice* slice, Source source) {
  uint64_t token = 0;
  ReplySlot* slot = NewSlot(&token);
  WireHeader h;
  h.type = static_cast<uint8_t>(MsgType::kReply);
  h.status = static_cast<int32_t>(status.code());
  h.key = key;
  h.request_id = request_id;
  h.step = step;
  const void* payload = nullptr;
  slot->slice = nullptr;
  slot->source = Source::kNone;
  if (slice != nullptr) {
    h.dtype = static_cast<uint8_t>(slice->key().dtype);
    h.offset = slice->init.slice.offset;
    h.count = slice->count();
  }
  if (!status.ok()) {
    slot->body.assign(status.message().begin(), status.message().end());
    payload = slot->body.data();
    h.payload_bytes = slot->body.size();
  } else if (source != Source::kNone) {
    slot->slice = slice;
    slot->source = source;
    if (source == Source::kValues) {
      payload = slice->values();
      ++slice->sending;
    } else {
      payload = slice->Snapshot();
      ++slice->snapshot_sending;
    }
    h.payload_bytes = slice->value_bytes();
  }
  ++sends_in_flight_;
  endpoint_.Send(member, h, payload, this, token);
}

void Server::ReplyBody(int member, uint64_t request_id, uint32_t key, std::vector<uint8_t> body) {
  uint64_t token = 0;
  ReplySlot* slot = NewSlot(&token);
  slot->body = std::move(body);
  slot->slice = nullptr;
  slot->source = Source::kNone;
  WireHeader h;
  h.type = static_cast<uint8_t>(MsgType::kReply);
  h.key = key;
  h.request_id = request_id;
  h.payload_bytes = slot->body.size();
  ++sends_in_flight_;
  endpoint_.Send(member, h, slot->body.data(), this, token);
}

void Server::Fail(int member, const WireHeader& h, const Status& status) {
  Reply(member, h.request_id, h.key, status, 0, nullptr, Source::kNone);
}

void Server::OnSent(uint64_t token, const Status&) {
  // A failed send means the worker is gone; OnPeerLost says so.
  ReplySlot* slot = slots_[token].get();
  ServerSlice* slice = slot->slice;
  const Source source = slot->source;
  slot->slice = nullptr;
  slot->source = Source::kNone;
  free_slots_.push_back(token);
  --sends_in_flight_;
  if (source == Source::kValues && --slice->sending == 0) TryApply(*slice);
  if (source == Source::kSnapshot && --slice->snapshot_sending == 0) Serve(*slice);
  UpdateFinished();
}

// ---- receiving ----

Result<void*> Server::PayloadDestination(int from, const WireHeader& h) {
  const uint64_t limit = std::max<uint64_t>(kMaxBodyBytes, largest_slice_bytes_);
  if (h.payload_bytes > limit) {
    return InvalidArgumentError("protocol error: " + endpoint_.DescribeMember(from) +
                                " announced a " + std::string(MsgTypeName(static_cast<MsgType>(h.type))) +
                                " of " + std::to_string(h.payload_bytes) + " bytes, but the largest "
                                "slice on " + Name() + " has " + std::to_string(largest_slice_bytes_));
  }
  std::vector<uint8_t>& buffer = staging_[static_cast<size_t>(from)];
  if (buffer.size() < h.payload_bytes) buffer.resize(h.payload_bytes);
  return static_cast<void*>(buffer.data());
}

void Server::OnMessage(int from, const WireHeader& h, const void* payload) {
  const int worker = layout_.worker_on(from);
  if (worker < 0) {
    Fail(from, h, InvalidArgumentError(endpoint_.DescribeMember(from) + " is not a worker"));
    return;
  }
  switch (static_cast<MsgType>(h.type)) {
    case MsgType::kInit: return HandleInit(from, worker, h, payload);
    case MsgType::kInitValues: return HandleInitValues(from, worker, h, payload);
    case MsgType::kLoad: return HandleLoad(from, worker, h, payload);
    case MsgType::kPush:
    case MsgType::kPushPull: return HandlePush(from, worker, h, payload);
    case MsgType::kPull: return HandlePull(from, worker, h);
    case MsgType::kSetOptimizer: return HandleSetOptimizer(from, h, payload);
    case MsgType::kSave: return HandleSave(from, worker, h, payload);
    case MsgType::kBye: return HandleBye(from, worker, h);
    default:
      Fail(from, h, InvalidArgumentError("protocol error: " + Name() + " got message type " +
                                         std::to_string(h.type) + " from " + WorkerName(worker)));
  }
}

Status Server::CheckAddress(const ServerSlice& slice, const WireHeader& h, int worker,
                            bool with_payload) const {
  const std::string what = std::string(MsgTypeName(static_cast<MsgType>(h.type))) + " of " +
                           slice.Describe() + " from " + WorkerName(worker);
  if (h.offset != slice.init.slice.offset || h.count != slice.count() ||
      h.dtype != static_cast<uint8_t>(slice.key().dtype)) {
    return InvalidArgumentError(what + " addresses elements [" + std::to_string(h.offset) + ", " +
                                std::to_string(h.offset + h.count) + ") of dtype " +
                                std::to_string(h.dtype) + ", which is not the slice on " + Name());
  }
  if (with_payload && h.payload_bytes != slice.value_bytes()) {
    return InvalidArgumentError(what + " carries " + std::to_string(h.payload_bytes) +
                                " bytes instead of " + std::to_string(slice.value_bytes()));
  }
  if (!slice.ready) {
    return InvalidArgumentError(what + ": the key is not ready on " + Name() + " (" +
                                Missing(slice.declared) + " did not declare it yet, or a load of it "
                                "failed; call init or load on every worker first)");
  }
  return Status::Ok();
}

int64_t Server::WorkerStep(const ServerSlice& slice, int worker) const {
  return slice.rules().mode == Mode::kSync ? slice.step()
                                           : slice.worker_pushes[static_cast<size_t>(worker)];
}

// ---- declaration: init, init values, load ----

Result<ServerSlice*> Server::CreateSlice(uint32_t id, const InitBody& init) {
  Result<std::unique_ptr<ServerSlice>> made = InternalError("");
  try {
    made = ServerSlice::Make(id, init);
  } catch (const std::bad_alloc&) {
    // A real model that does not fit, or garbage sizes: either way an error, not a crash.
    return UnavailableError(Name() + " cannot allocate " + std::to_string(init.slice.count * 4) +
                            " bytes for " + DescribeKey(init.key) + ": out of memory");
  }
  if (!made.ok()) return made.status();
  if (slices_.size() <= id) slices_.resize(id + 1);
  slices_[id] = std::move(*made);
  largest_slice_bytes_ = std::max(largest_slice_bytes_, slices_[id]->value_bytes());
  return slices_[id].get();
}

void Server::HandleInit(int from, int worker, const WireHeader& h, const void* payload) {
  InitBody body;
  ByteReader reader(payload, h.payload_bytes);
  Status status = GetInit(reader, &body);
  const std::string who = WorkerName(worker);
  if (status.ok() && body.num_workers != num_workers_) {
    status = InvalidArgumentError(who + " declares a store of " + std::to_string(body.num_workers) +
                                  " workers, but " + Name() + " serves " + std::to_string(num_workers_));
  }
  if (status.ok() && (body.slice.server != index_ || h.key >= kMaxKeys)) {
    status = InvalidArgumentError(who + " placed " + DescribeKey(body.key) + " on server " +
                                  std::to_string(body.slice.server) + ", not on " + Name() +
                                  "; workers must declare the same keys in the same order");
  }
  if (!status.ok()) return Fail(from, h, status);

  ServerSlice* slice = Find(h.key);
  if (slice == nullptr) {
    Result<ServerSlice*> made = CreateSlice(h.key, body);
    if (!made.ok()) return Fail(from, h, made.status());
    slice = *made;
  } else {
    const InitBody& have = slice->init;
    std::string differs;
    if (have.key != body.key) differs = "as " + DescribeKey(body.key) + " but it is " + DescribeKey(have.key);
    else if (have.slice != body.slice) differs = "with another slicing";
    else if (have.rules != body.rules) differs = "for a " + DescribeRules(body.rules) + " store, but it is " + DescribeRules(have.rules);
    else if (!slice->ready && have.optimizer != body.optimizer) {
      differs = "with optimizer " + DescribeOptimizer(body.optimizer) + " but another worker declared " +
                DescribeOptimizer(have.optimizer);
    } else if (!slice->ready && have.initializer.kind != body.initializer.kind) {
      differs = "with another kind of initial value than another worker";
    }
    if (!differs.empty()) {
      return Fail(from, h, InvalidArgumentError(who + " declares key '" + body.key.name + "' " + differs));
    }
  }
  if (slice->ready) {
    // Declared before (e.g. restored by a load): keep its values and state.
    return Reply(from, h.request_id, h.key, Status::Ok(), WorkerStep(*slice, worker), nullptr, Source::kNone);
  }
  if (slice->declared[static_cast<size_t>(worker)]) {
    return Fail(from, h, InvalidArgumentError(who + " declared " + DescribeKey(body.key) + " twice"));
  }
  slice->declared[static_cast<size_t>(worker)] = 1;
  ++slice->declared_count;
  slice->declare_waiters.push_back({MsgType::kInit, from, worker, h.request_id, 0, Clock::now()});
  MaybeReady(*slice);
}

void Server::HandleInitValues(int from, int worker, const WireHeader& h, const void* payload) {
  ServerSlice* slice = Find(h.key);
  Status status;
  if (slice == nullptr || worker != 0 || slice->values_set ||
      slice->init.initializer.kind != Initializer::Kind::kValues) {
    status = InvalidArgumentError("protocol error: unexpected initial values for key id " +
                                  std::to_string(h.key) + " from " + WorkerName(worker) + " on " + Name());
  } else if (h.offset != slice->init.slice.offset || h.count != slice->count() ||
             h.payload_bytes != slice->value_bytes()) {
    status = InvalidArgumentError("initial values of " + slice->Describe() + " from " +
                                  WorkerName(worker) + " do not match the slice");
  }
  if (!status.ok()) return Fail(from, h, status);
  slice->SetValues(payload);
  Reply(from, h.request_id, h.key, Status::Ok(), 0, nullptr, Source::kNone);
  MaybeReady(*slice);
}

void Server::MaybeReady(ServerSlice& slice) {
  if (slice.ready || slice.declared_count < num_workers_) return;
  std::unique_ptr<LoadBody> load;
  if (slice.id < pending_loads_.size()) load = std::move(pending_loads_[slice.id]);
  Status status;
  if (load != nullptr) {
    status = slice.SetOptimizer(load->init.optimizer);
    if (status.ok()) status = slice.LoadFrom(*load);
    if (!status.ok()) status = status.WithContext("loading a checkpoint on " + Name() + ": ");
  } else if (!slice.values_set) {
    return;  // worker 0's values are still on their way
  }
  slice.ready = status.ok();
  for (const Waiter& w : slice.declare_waiters) {
    Reply(w.member, w.request_id, slice.id, status, status.ok() ? WorkerStep(slice, w.worker) : 0,
          nullptr, Source::kNone);
  }
  slice.declare_waiters.clear();
  if (!status.ok()) {
    std::fill(slice.declared.begin(), slice.declared.end(), 0);
    slice.declared_count = 0;
  }
}

void Server::HandleLoad(int from, int worker, const WireHeader& h, const void* payload) {
  auto body = std::make_unique<LoadBody>();
  ByteReader reader(payload, h.payload_bytes);
  Status status = GetLoad(reader, body.get());
  const std::string who = WorkerName(worker);
  if (status.ok() && (body->init.num_workers != num_workers_ || body->init.slice.server != index_ ||
                      h.key >= kMaxKeys)) {
    status = InvalidArgumentError(who + " loads " + DescribeKey(body->init.key) +
                                  " onto the wrong server or for another number of workers");
  }
  if (!status.ok()) return Fail(from, h, status);
  ServerSlice* slice = Find(h.key);
  if (slice == nullptr) {
    Result<ServerSlice*> made = CreateSlice(h.key, body->init);
    if (!made.ok()) return Fail(from, h, made.status());
    slice = *made;
  } else if (slice->key() != body->init.key || slice->init.slice != body->init.slice) {
    return Fail(from, h, InvalidArgumentError(who + " loads " + DescribeKey(body->init.key) +
                                              " over " + DescribeKey(slice->key())));
  }
  if (pending_loads_.size() <= h.key) pending_loads_.resize(h.key + 1);
  std::unique_ptr<LoadBody>& pending = pending_loads_[h.key];
  if (pending == nullptr) {
    if (!slice->ready && slice->declared_count > 0) {
      return Fail(from, h, InvalidArgumentError(who + " loads " + slice->Describe() +
                                                " while its init is still waiting for workers"));
    }
    // A new load round: the slice is unusable until every worker's load arrived and succeeded.
    slice->ready = false;
    std::fill(slice->declared.begin(), slice->declared.end(), 0);
    slice->declared_count = 0;
    pending = std::move(body);
  } else if (pending->checkpoint_id != body->checkpoint_id) {
    return Fail(from, h, InvalidArgumentError(who + " loads checkpoint " + body->checkpoint_id +
                                              " but another worker loads " + pending->checkpoint_id));
  }
  if (slice->declared[static_cast<size_t>(worker)]) {
    return Fail(from, h, InvalidArgumentError(who + " loaded " + slice->Describe() + " twice"));
  }
  slice->declared[static_cast<size_t>(worker)] = 1;
  ++slice->declared_count;
  slice->declare_waiters.push_back({MsgType::kLoad, from, worker, h.request_id, 0, Clock::now()});
  MaybeReady(*slice);
}

// ---- pushes and pulls ----

void Server::HandlePush(int from, int worker, const WireHeader& h, const void* payload) {
  ServerSlice* slice = Find(h.key);
  if (slice == nullptr) {
    return Fail(from, h, InvalidArgumentError("push of unknown key id " + std::to_string(h.key) +
                                              " from " + WorkerName(worker) + " to " + Name()));
  }
  Status status = CheckAddress(*slice, h, worker, true);
  if (!status.ok()) return Fail(from, h, status);
  const std::string what = "push of " + slice->Describe() + " for step " + std::to_string(h.step) +
                           " from " + WorkerName(worker);
  if (slice->count() > 0 && slice->key().dtype != DataType::kF32 && scratch_.size() < slice->count()) {
    scratch_.resize(largest_slice_bytes_ / 2);  // 16-bit slices: elements <= bytes / 2
  }
  const size_t w = static_cast<size_t>(worker);
  if (slice->rules().mode == Mode::kSync) {
    for (size_t v = 0; v < lost_.size(); ++v) {
      if (!lost_[v].ok()) {
        return Fail(from, h, UnavailableError(what + ": " + WorkerName(static_cast<int>(v)) +
                                              " is gone (" + lost_[v].message() +
                                              "), so synchronous steps cannot complete"));
      }
    }
    const int64_t at = slice->step();
    if (h.step <= at) {
      return Fail(from, h, InvalidArgumentError(what + ": step " + std::to_string(h.step) +
                                                " was already applied (the key is at step " +
                                                std::to_string(at) + "); nothing was applied"));
    }
    if (h.step > at + 1) {
      return Fail(from, h, InvalidArgumentError(
                               what + ": step " + std::to_string(at + 1) + " is not complete yet; "
                               "in synchronous mode a worker pushes step t+1 only after step t was "
                               "applied (nothing was applied)"));
    }
    if (slice->arrived[w]) {
      return Fail(from, h, InvalidArgumentError(what + ": this worker already pushed step " +
                                                std::to_string(h.step) + "; the second push was refused"));
    }
    slice->Accumulate(payload, slice->arrived_count == 0, scratch_.data());
    slice->arrived[w] = 1;
    ++slice->arrived_count;
    slice->waiting.push_back({static_cast<MsgType>(h.type), from, worker, h.request_id, h.step, Clock::now()});
    if (slice->arrived_count == num_workers_) {
      slice->apply_ready = true;
      TryApply(*slice);
    }
    return;
  }
  const int64_t expected = slice->worker_pushes[w] + 1;
  if (h.step != expected) {
    return Fail(from, h, InvalidArgumentError(
                             what + ": " + (h.step < expected ? "that step was already applied"
                                                              : "steps in between are missing") +
                             " (this worker's next step is " + std::to_string(expected) +
                             "); nothing was applied"));
  }
  const int staleness = slice->rules().staleness;
  const int64_t slowest = *std::min_element(slice->worker_pushes.begin(), slice->worker_pushes.end());
  if (staleness >= 0 && slowest < h.step - 1 - staleness) {
    return Fail(from, h, InvalidArgumentError(what + ": the slowest worker has pushed only " +
                                              std::to_string(slowest) + " steps and staleness is " +
                                              std::to_string(staleness) + "; nothing was applied"));
  }
  status = slice->ApplyPush(payload, scratch_.data());
  if (!status.ok()) return Fail(from, h, status.WithContext(what + ": "));
  slice->worker_pushes[w] = h.step;
  slice->waiting.push_back({static_cast<MsgType>(h.type), from, worker, h.request_id, h.step, Clock::now()});
  Serve(*slice);
}

void Server::HandlePull(int from, int worker, const WireHeader& h) {
  ServerSlice* slice = Find(h.key);
  if (slice == nullptr) {
    return Fail(from, h, InvalidArgumentError("pull of unknown key id " + std::to_string(h.key) +
                                              " from " + WorkerName(worker) + " to " + Name()));
  }
  Status status = CheckAddress(*slice, h, worker, false);
  if (!status.ok()) return Fail(from, h, status);
  slice->waiting.push_back({MsgType::kPull, from, worker, h.request_id, h.step, Clock::now()});
  Serve(*slice);
}

void Server::TryApply(ServerSlice& slice) {
  if (!slice.apply_ready || slice.sending > 0) return;
  const double scale = slice.rules().average_gradients ? 1.0 / num_workers_ : 1.0;
  Status status = slice.ApplyAccumulated(scale);
  slice.apply_ready = false;
  slice.arrived_count = 0;
  std::fill(slice.arrived.begin(), slice.arrived.end(), 0);
  if (!status.ok()) {
    for (const Waiter& w : slice.waiting) {
      Reply(w.member, w.request_id, slice.id, status.WithContext(Name() + ": "), 0, nullptr, Source::kNone);
    }
    slice.waiting.clear();
    return;
  }
  Serve(slice);
}

void Server::Serve(ServerSlice& slice) {
  const bool sync = slice.rules().mode == Mode::kSync;
  const int staleness = slice.rules().staleness;
  const int64_t slowest =
      sync ? 0 : *std::min_element(slice.worker_pushes.begin(), slice.worker_pushes.end());
  size_t keep = 0;
  for (size_t i = 0; i < slice.waiting.size(); ++i) {
    const Waiter w = slice.waiting[i];
    const bool with_values = w.type != MsgType::kPush;
    bool can = false;
    if (sync) {
      can = w.step <= slice.step();
    } else {
      can = w.type == MsgType::kPull ? slice.worker_pushes[static_cast<size_t>(w.worker)] >= w.step
                                     : staleness < 0 || slowest >= w.step - staleness;
      // A stale snapshot still being sent cannot be refreshed: answer once it is free.
      if (can && with_values && !slice.snapshot_fresh() && slice.snapshot_sending > 0) can = false;
    }
    if (!can) {
      slice.waiting[keep++] = w;
      continue;
    }
    const Source source = !with_values ? Source::kNone : sync ? Source::kValues : Source::kSnapshot;
    Reply(w.member, w.request_id, slice.id, Status::Ok(), WorkerStep(slice, w.worker), &slice, source);
  }
  slice.waiting.resize(keep);
}

// ---- optimizer, checkpoints, goodbye ----

void Server::HandleSetOptimizer(int from, const WireHeader& h, const void* payload) {
  OptimizerSpec spec;
  ByteReader reader(payload, h.payload_bytes);
  Status status = GetOptimizer(reader, &spec);
  if (!status.ok()) return Fail(from, h, status);
  std::vector<ServerSlice*> targets;
  if (h.key == kAllKeys) {
    for (const auto& slice : slices_) {
      if (slice != nullptr) targets.push_back(slice.get());
    }
  } else if (ServerSlice* slice = Find(h.key)) {
    targets.push_back(slice);
  } else {
    return Fail(from, h, InvalidArgumentError("set_optimizer: unknown key id " + std::to_string(h.key)));
  }
  const bool lr_only = (h.flags & kFlagLearningRateOnly) != 0;
  auto wanted = [&](const ServerSlice& slice) {
    if (!lr_only) return spec;
    OptimizerSpec changed = slice.optimizer_spec();
    changed.lr = spec.lr;
    return changed;
  };
  // Check every slice before changing any, so that a refused change changes nothing.
  for (ServerSlice* slice : targets) {
    status = CheckOptimizerChange(slice->optimizer_spec(), wanted(*slice), slice->Describe());
    if (!status.ok()) return Fail(from, h, status);
  }
  for (ServerSlice* slice : targets) (void)slice->SetOptimizer(wanted(*slice));
  Reply(from, h.request_id, h.key, Status::Ok(), 0, nullptr, Source::kNone);
}

void Server::HandleSave(int from, int worker, const WireHeader& h, const void* payload) {
  std::string dir, id;
  ByteReader reader(payload, h.payload_bytes);
  Status status = reader.GetString(&dir, 4096);
  if (status.ok()) status = reader.GetString(&id, 32);
  if (!status.ok()) return Fail(from, h, status);
  if (save_.count == 0) {
    save_.dir = dir;
    save_.id = id;
    save_.arrived.assign(static_cast<size_t>(num_workers_), 0);
  } else if (dir != save_.dir || id != save_.id) {
    return Fail(from, h, InvalidArgumentError(WorkerName(worker) + " saves checkpoint " + id + " to " +
                                              dir + ", but other workers save " + save_.id + " to " + save_.dir));
  }
  if (save_.arrived[static_cast<size_t>(worker)]) {
    return Fail(from, h, InvalidArgumentError(WorkerName(worker) + " asked to save twice"));
  }
  save_.arrived[static_cast<size_t>(worker)] = 1;
  ++save_.count;
  save_.waiters.push_back({MsgType::kSave, from, worker, h.request_id, 0, Clock::now()});
  if (save_.count == num_workers_) WriteCheckpoint();
}

void Server::WriteCheckpoint() {
  SaveReply reply;
  reply.file = "shard-" + save_.id + "-" + std::to_string(index_) + ".bin";
  const std::string path = save_.dir + "/" + reply.file;
  auto write = [&]() -> Status {
    COHORT_RETURN_IF_ERROR(MakeDirectories(save_.dir));
    COHORT_ASSIGN_OR_RETURN(AtomicFileWriter file, AtomicFileWriter::Open(path));
    ShardFileHeader header{};
    header.magic = kShardMagic;
    header.version = 1;
    header.server = static_cast<uint32_t>(index_);
    header.num_servers = static_cast<uint32_t>(layout_.num_servers);
    for (const auto& slice : slices_) header.slices += slice != nullptr ? 1 : 0;
    std::strncpy(header.checkpoint_id, save_.id.c_str(), sizeof(header.checkpoint_id) - 1);
    COHORT_RETURN_IF_ERROR(file.Write(&header, sizeof(header)));
    for (const auto& slice : slices_) {
      if (slice == nullptr) continue;
      if (!slice->ready) {
        return InvalidArgumentError(slice->Describe() + " is not ready (a failed load or an "
                                    "unfinished init); nothing to save");
      }
      SavedSlice saved;
      COHORT_RETURN_IF_ERROR(slice->WriteSegment(file, &saved.segment));
      saved.optimizer = slice->optimizer_spec();
      saved.step = slice->step();
      saved.worker_pushes = slice->worker_pushes;
      reply.slices.push_back(std::move(saved));
    }
    COHORT_RETURN_IF_ERROR(file.Commit());
    reply.file_bytes = file.bytes_written();
    reply.file_hash = file.hash();
    return Status::Ok();
  };
  Status status = write();
  ByteWriter body;
  if (status.ok()) PutSaveReply(body, reply);
  for (const Waiter& w : save_.waiters) {
    if (status.ok()) {
      ReplyBody(w.member, w.request_id, kAllKeys, body.bytes());
    } else {
      Reply(w.member, w.request_id, kAllKeys, status.WithContext(Name() + " could not write " + path + ": "),
            0, nullptr, Source::kNone);
    }
  }
  save_ = SaveBarrier{};
}

void Server::HandleBye(int from, int worker, const WireHeader& h) {
  said_bye_[static_cast<size_t>(worker)] = 1;
  Reply(from, h.request_id, h.key, Status::Ok(), 0, nullptr, Source::kNone);
}

void Server::OnPeerLost(int member, const Status& status) {
  const int worker = layout_.worker_on(member);
  if (worker < 0 || said_bye_[static_cast<size_t>(worker)]) return;  // teardown, or another server
  lost_[static_cast<size_t>(worker)] = status;
  FailWaiters(UnavailableError(WorkerName(worker) + " is gone (" + status.message() +
                               "); requests that need it cannot complete"));
  UpdateFinished();
}

void Server::FailWaiters(const Status& status) {
  for (const auto& slice : slices_) {
    if (slice == nullptr) continue;
    for (const Waiter& w : slice->waiting) {
      Reply(w.member, w.request_id, slice->id, status, 0, nullptr, Source::kNone);
    }
    for (const Waiter& w : slice->declare_waiters) {
      Reply(w.member, w.request_id, slice->id, status, 0, nullptr, Source::kNone);
    }
    slice->waiting.clear();
    slice->declare_waiters.clear();
  }
  for (const Waiter& w : save_.waiters) Reply(w.member, w.request_id, kAllKeys, status, 0, nullptr, Source::kNone);
  save_ = SaveBarrier{};
}

// ---- deadlines and the end ----

void Server::Poll(bool tick) {
  if (tick) CheckDeadlines();
}

void Server::CheckDeadlines() {
  const auto timeout = endpoint_.config().timeout;
  const Clock::time_point now = Clock::now();
  const std::string after = " after " + Seconds(timeout) + " (COHORT_TIMEOUT)";
  for (const auto& slice : slices_) {
    if (slice == nullptr) continue;
    size_t keep = 0;
    for (const Waiter& w : slice->waiting) {
      if (now - w.since < timeout) {
        slice->waiting[keep++] = w;
        continue;
      }
      std::string why;
      if (slice->rules().mode == Mode::kSync) {
        why = w.step == slice->step() + 1
                  ? "step " + std::to_string(w.step) + " still lacks the pushes of " + Missing(slice->arrived)
                  : "it waits for step " + std::to_string(w.step) + " but the key is at step " +
                        std::to_string(slice->step());
        why += "; in synchronous mode every worker pushes every key once per step";
      } else {
        std::vector<uint8_t> done(slice->worker_pushes.size());
        for (size_t v = 0; v < done.size(); ++v) {
          done[v] = slice->worker_pushes[v] >= w.step - slice->rules().staleness;
        }
        why = "worker " + std::to_string(w.worker) + " is " + std::to_string(slice->rules().staleness) +
              " steps ahead (staleness) and waits for " + Missing(done) + " to push step " +
              std::to_string(w.step - slice->rules().staleness);
      }
      Reply(w.member, w.request_id, slice->id,
            DeadlineExceededError(std::string(MsgTypeName(w.type)) + " of " + slice->Describe() +
                                  " from worker " + std::to_string(w.worker) + " on " + Name() +
                                  " gave up" + after + ": " + why),
            0, nullptr, Source::kNone);
    }
    slice->waiting.resize(keep);
    keep = 0;
    for (const Waiter& w : slice->declare_waiters) {
      if (now - w.since < timeout) {
        slice->declare_waiters[keep++] = w;
        continue;
      }
      Reply(w.member, w.request_id, slice->id,
            DeadlineExceededError(std::string(MsgTypeName(w.type)) + " of " + DescribeKey(slice->key()) +
                                  " on " + Name() + " gave up" + after + ": " + Missing(slice->declared) +
                                  " did not declare it (every worker must call init/load with the "
                                  "same keys in the same order)"),
            0, nullptr, Source::kNone);
    }
    slice->declare_waiters.resize(keep);
  }
  if (!save_.waiters.empty() && now - save_.waiters.front().since >= timeout) {
    FailWaiters(DeadlineExceededError("save on " + Name() + " gave up" + after + ": " +
                                      Missing(save_.arrived) + " did not call save"));
  }
}

void Server::UpdateFinished() {
  if (sends_in_flight_ > 0) return;
  for (int w = 0; w < num_workers_; ++w) {
    if (!said_bye_[static_cast<size_t>(w)] && lost_[static_cast<size_t>(w)].ok()) return;
  }
  std::lock_guard lock(finished_mutex_);
  if (!finished_) {
    finished_ = true;
    finished_cv_.notify_all();
  }
}

Status Server::WaitUntilFinished(Deadline deadline) {
  std::unique_lock lock(finished_mutex_);
  while (!finished_) {
    if (deadline.expired()) {
      return DeadlineExceededError(Name() + ": not every worker said goodbye before the deadline");
    }
    finished_cv_.wait_for(lock, std::chrono::milliseconds(std::min(deadline.remaining_ms(), 1000)));
  }
  return Status::Ok();
}

}  // namespace cohort::ps
