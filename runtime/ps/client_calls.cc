// Client, user-thread side: checking arguments, declaring keys (placement), and building the
// operations of init, push, pull, push_pull, set_optimizer, save, load and goodbye (see client.h).
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>
#include <sstream>

#include "runtime/base/logging.h"
#include "runtime/ps/checkpoint_io.h"
#include "runtime/ps/client.h"
#include "runtime/store/auth.h"

namespace cohort::ps {
namespace {

constexpr uint32_t kNoSlot = ~uint32_t{0};

std::string FirstDifference(const std::string& a, const std::string& b) {
  std::istringstream x(a), y(b);
  std::string la, lb;
  while (true) {
    const bool ha = static_cast<bool>(std::getline(x, la)), hb = static_cast<bool>(std::getline(y, lb));
    if (!ha && !hb) return "";
    if (!ha) la = "(nothing)";
    if (!hb) lb = "(nothing)";
    if (la != lb) return la + "' where the other has '" + lb;
  }
}

}  // namespace

// ---- lookups ----

Status Client::CheckUsable() const {
  if (!broken_.ok()) {
    return InvalidArgumentError("the parameter store on worker " + std::to_string(worker_) +
                                " is unusable since a load failed (" + broken_.message() +
                                "); load a checkpoint successfully before using it");
  }
  return Status::Ok();
}

Result<const Client::Key*> Client::Lookup(const std::string& name, const char* what) const {
  auto it = key_ids_.find(name);
  if (it == key_ids_.end()) {
    std::string known;
    size_t shown = 0;
    for (const Key& key : keys_) {
      if (shown++ == 5) {
        known += ", ...";
        break;
      }
      known += (shown > 1 ? ", " : "") + key.spec.name;
    }
    return InvalidArgumentError(std::string(what) + " of unknown key '" + name + "' on worker " +
                                std::to_string(worker_) + ": declare it with init (or load) first" +
                                (known.empty() ? " (no keys are declared)" : " (declared: " + known + ")"));
  }
  const Key& key = keys_[it->second];
  if (!key.broken.ok()) {
    return InvalidArgumentError(std::string(what) + " of key '" + name + "' on worker " +
                                std::to_string(worker_) + ": its init failed (" + key.broken.message() + ")");
  }
  return &key;
}

Status Client::CheckBuffer(const Key& key, const BufferView& buffer, const char* what,
                           const char* role) const {
  const std::string prefix = std::string(what) + " of key " + DescribeKey(key.spec) + " on worker " +
                             std::to_string(worker_) + ": the " + role;
  if (!buffer.device.is_cpu()) {
    return InvalidArgumentError(prefix + " is on " + buffer.device.ToString() +
                                "; the parameter store takes host memory (copy the tensor to the CPU)");
  }
  if (buffer.dtype != key.spec.dtype) {
    return InvalidArgumentError(prefix + " has dtype " + std::string(DataTypeName(buffer.dtype)) +
                                " but the key is " + std::string(DataTypeName(key.spec.dtype)));
  }
  if (buffer.count != key.spec.count()) {
    return InvalidArgumentError(prefix + " has " + std::to_string(buffer.count) + " elements but the key has " +
                                std::to_string(key.spec.count()) + " (shape " + ShapeText(key.spec.shape) + ")");
  }
  if (buffer.data == nullptr && buffer.count > 0) return InvalidArgumentError(prefix + " is null");
  return Status::Ok();
}

bool Client::HasKey(const std::string& key) const {
  std::lock_guard lock(keys_mutex_);
  return key_ids_.count(key) != 0;
}

Result<KeySpec> Client::Spec(const std::string& key) const {
  std::lock_guard lock(keys_mutex_);
  COHORT_ASSIGN_OR_RETURN(const Key* k, Lookup(key, "spec"));
  return k->spec;
}

Result<KeyPlacement> Client::Placement(const std::string& key) const {
  std::lock_guard lock(keys_mutex_);
  COHORT_ASSIGN_OR_RETURN(const Key* k, Lookup(key, "placement"));
  return k->placement;
}

Result<OptimizerSpec> Client::Optimizer(const std::string& key) const {
  std::lock_guard lock(keys_mutex_);
  COHORT_ASSIGN_OR_RETURN(const Key* k, Lookup(key, "optimizer"));
  return k->optimizer;
}

Result<int64_t> Client::Step(const std::string& key) const {
  std::lock_guard lock(keys_mutex_);
  COHORT_ASSIGN_OR_RETURN(const Key* k, Lookup(key, "step"));
  return k->pushes;
}

std::vector<std::string> Client::Keys() const {
  std::lock_guard lock(keys_mutex_);
  std::vector<std::string> names;
  for (const Key& key : keys_) names.push_back(key.spec.name);
  return names;
}

std::vector<uint64_t> Client::ServerBytes() const {
  std::lock_guard lock(keys_mutex_);
  return server_bytes_;
}

// ---- operations ----

Client::Sub& Client::AddServerSub(Op& op, MsgType type, int server) {
  Sub& sub = op.subs.emplace_back();
  sub.op = &op;
  sub.server = server;
  sub.member = layout_.server_member(server);
  sub.slot = kNoSlot;
  sub.header.type = static_cast<uint8_t>(type);
  sub.header.key = kAllKeys;
  return sub;
}

Client::Sub& Client::AddSub(Op& op, MsgType type, const Key& key, size_t slice) {
  const SliceSpec& s = key.placement[slice];
  Sub& sub = AddServerSub(op, type, s.server);
  sub.header.key = key.id;
  sub.header.dtype = static_cast<uint8_t>(key.spec.dtype);
  sub.header.offset = s.offset;
  sub.header.count = s.count;
  return sub;
}

WorkPtr Client::Submit(std::unique_ptr<Op> op, const std::string& description) {
  op->work = std::make_shared<Work>(description);
  const int subs = static_cast<int>(op->subs.size());
  if (subs == 0) {
    Status result = op->finish ? op->finish(*op) : Status::Ok();
    op->work->Complete(result);
    op->completion->Set(result);
    return op->work;
  }
  op->pending = op->live = subs;
  WorkPtr work = op->work;
  Op* owned = op.release();  // the progress thread deletes it once every message is retired
  {
    std::lock_guard lock(submit_mutex_);
    ++outstanding_;
    for (Sub& sub : owned->subs) submitted_.push_back(&sub);
    has_submitted_.store(true, std::memory_order_release);
  }
  endpoint_.Wake();
  return work;
}

Status Client::Run(std::unique_ptr<Op> op, const std::string& description) {
  std::shared_ptr<Completion> completion = op->completion;
  Submit(std::move(op), description);
  return completion->Wait();
}

Status Client::Flush() {
  const Deadline deadline = Deadline::After(endpoint_.config().timeout + std::chrono::seconds(10));
  std::unique_lock lock(submit_mutex_);
  while (outstanding_ > 0) {
    if (deadline.expired()) {
      return DeadlineExceededError("worker " + std::to_string(worker_) + " still has " +
                                   std::to_string(outstanding_) + " parameter-store calls pending");
    }
    idle_cv_.wait_for(lock, std::chrono::milliseconds(std::min(deadline.remaining_ms(), 1000)));
  }
  return Status::Ok();
}

Status Client::StoreAgreement(const std::string& what, const std::string& mine) {
  const auto timeout = endpoint_.config().timeout;
  COHORT_RETURN_IF_ERROR(store_->Set(what + "/" + std::to_string(worker_), ToBytes(mine)));
  for (int w = 0; w < layout_.num_workers; ++w) {
    if (w == worker_) continue;
    Result<Bytes> theirs = store_->Get(what + "/" + std::to_string(w), timeout);
    if (!theirs.ok()) {
      return theirs.status().WithContext(what + " on worker " + std::to_string(worker_) +
                                         ": worker " + std::to_string(w) + " did not make the same call: ");
    }
    if (ToString(*theirs) != mine) {
      return InvalidArgumentError(what + " differs between workers: worker " + std::to_string(worker_) +
                                  " has '" + FirstDifference(mine, ToString(*theirs)) + "' (worker " +
                                  std::to_string(w) + "); every worker must make the same calls in "
                                  "the same order");
    }
  }
  return Status::Ok();
}

Status Client::Declare(const std::vector<KeyDeclaration>& decls) {
  std::set<std::string> names;
  for (const KeyDeclaration& d : decls) {
    const std::string where = "init on worker " + std::to_string(worker_) + ": ";
    COHORT_RETURN_IF_ERROR(ValidateKeySpec(d.spec).WithContext(where));
    if (d.optimizer) {
      COHORT_RETURN_IF_ERROR(ValidateOptimizerSpec(*d.optimizer, where + "key '" + d.spec.name + "'"));
    }
    if (!names.insert(d.spec.name).second) {
      return InvalidArgumentError(where + "key '" + d.spec.name + "' appears twice");
    }
  }
  std::vector<const KeyDeclaration*> fresh;
  std::string description;
  {
    std::lock_guard lock(keys_mutex_);
    COHORT_RETURN_IF_ERROR(CheckUsable());
    for (const KeyDeclaration& d : decls) {
      auto it = key_ids_.find(d.spec.name);
      if (it == key_ids_.end()) {
        fresh.push_back(&d);
        const OptimizerSpec& o = d.optimizer ? *d.optimizer : options_.optimizer;
        description += DescribeKey(d.spec) + " " + DescribeOptimizer(o) + " init " +
                       std::to_string(static_cast<int>(d.values != nullptr ? Initializer::Kind::kValues
                                                                           : d.initializer.kind)) + "\n";
        continue;
      }
      const Key& have = keys_[it->second];
      if (have.spec != d.spec) {
        return InvalidArgumentError("init on worker " + std::to_string(worker_) + ": key '" +
                                    d.spec.name + "' is already declared as " + DescribeKey(have.spec) +
                                    ", not " + DescribeKey(d.spec));
      }
    }
    if (fresh.empty()) return Status::Ok();  // all declared already (e.g. by a load): keep them
  }
  COHORT_RETURN_IF_ERROR(StoreAgreement("init" + std::to_string(++inits_), description));

  auto op = std::make_unique<Op>();
  std::vector<uint32_t> ids;
  {
    std::lock_guard lock(keys_mutex_);
    std::vector<KeySpec> specs;
    for (const KeyDeclaration* d : fresh) specs.push_back(d->spec);
    std::vector<KeyPlacement> placements =
        PlaceKeys(specs, layout_.num_servers, options_.min_split_bytes, &server_bytes_);
    for (size_t i = 0; i < fresh.size(); ++i) {
      const KeyDeclaration& d = *fresh[i];
      Key& key = keys_.emplace_back();
      key.spec = d.spec;
      key.id = static_cast<uint32_t>(keys_.size() - 1);
      key.placement = std::move(placements[i]);
      key.optimizer = d.optimizer ? *d.optimizer : options_.optimizer;
      for (size_t j = 0; j < key.placement.size(); ++j) key.gates.push_back(std::make_unique<Gate>());
      key_ids_[key.spec.name] = key.id;
      ids.push_back(key.id);

      InitBody body;
      body.key = key.spec;
      body.optimizer = key.optimizer;
      body.initializer = d.values != nullptr ? Initializer{Initializer::Kind::kValues, 0, 0, 0} : d.initializer;
      body.rules = options_.rules;
      body.num_workers = layout_.num_workers;
      const size_t esize = DataTypeSize(key.spec.dtype);
      for (size_t j = 0; j < key.placement.size(); ++j) {
        body.slice = key.placement[j];
        Sub& sub = AddSub(*op, MsgType::kInit, key, j);
        ByteWriter w;
        PutInit(w, body);
        sub.body = std::move(w.bytes());
        sub.payload = sub.body.data();
        sub.header.payload_bytes = sub.body.size();
        if (worker_ == 0 && d.values != nullptr) {
          Sub& values = AddSub(*op, MsgType::kInitValues, key, j);
          values.payload = static_cast<const uint8_t*>(d.values) + body.slice.offset * esize;
          values.header.payload_bytes = body.slice.count * esize;
        }
      }
    }
  }
  if (worker_ == 0 && LogEnabled(LogLevel::kInfo)) {
    std::lock_guard lock(keys_mutex_);
    std::string bytes;
    for (size_t s = 0; s < server_bytes_.size(); ++s) bytes += (s ? ", " : "") + std::to_string(server_bytes_[s]);
    COHORT_LOG(kInfo) << "parameter store: declared " << fresh.size() << " keys (" << keys_.size()
                      << " in all); bytes per server: " << bytes;
  }
  op->finish = [this](Op& done) {
    std::lock_guard lock(keys_mutex_);
    for (const Sub& sub : done.subs) {
      if (sub.header.type == static_cast<uint8_t>(MsgType::kInit)) {
        keys_[sub.header.key].pushes = std::max(keys_[sub.header.key].pushes, sub.reply_step);
      }
    }
    return Status::Ok();
  };
  Status status = Run(std::move(op), "parameter store init");
  if (!status.ok()) {
    std::lock_guard lock(keys_mutex_);
    for (uint32_t id : ids) keys_[id].broken = status;
  }
  return status;
}

Result<WorkPtr> Client::Transfer(MsgType type, const std::vector<std::string>& names,
                                 const std::vector<BufferView>& grads,
                                 const std::vector<BufferView>& outs,
                                 const std::vector<int64_t>& steps) {
  const char* what = MsgTypeName(type).data();
  const bool pushes = type != MsgType::kPull;
  const bool pulls = type != MsgType::kPush;
  if ((pushes && grads.size() != names.size()) || (pulls && outs.size() != names.size()) ||
      (!steps.empty() && steps.size() != names.size())) {
    return InvalidArgumentError(std::string(what) + " on worker " + std::to_string(worker_) + ": " +
                                std::to_string(names.size()) + " keys but " +
                                std::to_string(pushes ? grads.size() : outs.size()) + " buffers" +
                                (steps.empty() ? "" : " and " + std::to_string(steps.size()) + " steps"));
  }
  auto op = std::make_unique<Op>();
  {
    std::lock_guard lock(keys_mutex_);
    COHORT_RETURN_IF_ERROR(CheckUsable());
    // Check everything before numbering any step, so a refused call changes nothing.
    std::vector<Key*> keys;
    for (size_t i = 0; i < names.size(); ++i) {
      COHORT_ASSIGN_OR_RETURN(const Key* key, Lookup(names[i], what));
      if (pushes) COHORT_RETURN_IF_ERROR(CheckBuffer(*key, grads[i], what, "gradient"));
      if (pulls) COHORT_RETURN_IF_ERROR(CheckBuffer(*key, outs[i], what, "output"));
      if (!steps.empty() && steps[i] < 1) {
        return InvalidArgumentError(std::string(what) + " of key '" + names[i] + "' on worker " +
                                    std::to_string(worker_) + ": step " + std::to_string(steps[i]) +
                                    " (steps count from 1)");
      }
      if (std::count(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) > 0) {
        return InvalidArgumentError(std::string(what) + " names key '" + names[i] + "' twice");
      }
      keys.push_back(const_cast<Key*>(key));
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      Key& key = *keys[i];
      const int64_t step = !pushes ? key.pushes : steps.empty() ? key.pushes + 1 : steps[i];
      const int64_t previous = key.pushes;
      if (pushes) key.pushes = step;
      const size_t esize = DataTypeSize(key.spec.dtype);
      for (size_t j = 0; j < key.placement.size(); ++j) {
        Sub& sub = AddSub(*op, type, key, j);
        const uint64_t at = key.placement[j].offset * esize;
        sub.header.step = step;
        sub.previous_pushes = previous;
        if (pushes) {
          sub.payload = static_cast<const uint8_t*>(grads[i].data) + at;
          sub.header.payload_bytes = key.placement[j].count * esize;
          sub.gate = key.gates[j].get();
        }
        if (pulls) sub.dest = static_cast<uint8_t*>(outs[i].data) + at;
      }
    }
  }
  return Submit(std::move(op), std::string("parameter store ") + what + " of " +
                                   (names.size() == 1 ? "'" + names[0] + "'"
                                                      : std::to_string(names.size()) + " keys"));
}

Result<WorkPtr> Client::Push(const std::vector<std::string>& keys, const std::vector<BufferView>& grads,
                             const std::vector<int64_t>& steps) {
  return Transfer(MsgType::kPush, keys, grads, {}, steps);
}

Result<WorkPtr> Client::Pull(const std::vector<std::string>& keys, const std::vector<BufferView>& outs) {
  return Transfer(MsgType::kPull, keys, {}, outs, {});
}

Result<WorkPtr> Client::PushPull(const std::vector<std::string>& keys,
                                 const std::vector<BufferView>& grads,
                                 const std::vector<BufferView>& outs) {
  return Transfer(MsgType::kPushPull, keys, grads, outs, {});
}

// ---- optimizer changes ----

Status Client::SetOptimizer(const std::string& name, const OptimizerSpec& spec) {
  return ChangeOptimizer(name, spec, false);
}

Status Client::SetLearningRate(const std::string& name, double lr) {
  OptimizerSpec spec;
  spec.lr = lr;
  return ChangeOptimizer(name, spec, true);
}

Status Client::ChangeOptimizer(const std::string& name, const OptimizerSpec& spec, bool lr_only) {
  const std::string what = std::string(lr_only ? "set_learning_rate" : "set_optimizer");
  COHORT_RETURN_IF_ERROR(ValidateOptimizerSpec(spec, what + " on worker " + std::to_string(worker_)));
  auto op = std::make_unique<Op>();
  std::vector<uint32_t> targets;
  {
    std::lock_guard lock(keys_mutex_);
    COHORT_RETURN_IF_ERROR(CheckUsable());
    if (name.empty()) {
      for (const Key& key : keys_) targets.push_back(key.id);
    } else {
      COHORT_ASSIGN_OR_RETURN(const Key* key, Lookup(name, what.c_str()));
      targets.push_back(key->id);
    }
    for (uint32_t id : targets) {
      if (lr_only) continue;
      COHORT_RETURN_IF_ERROR(CheckOptimizerChange(keys_[id].optimizer, spec,
                                                  what + " of key '" + keys_[id].spec.name +
                                                      "' on worker " + std::to_string(worker_)));
    }
    ByteWriter w;
    PutOptimizer(w, spec);
    std::set<int> servers;
    for (uint32_t id : targets) {
      for (const SliceSpec& s : keys_[id].placement) servers.insert(s.server);
    }
    for (int server : servers) {
      Sub& sub = AddServerSub(*op, MsgType::kSetOptimizer, server);
      sub.header.key = name.empty() ? kAllKeys : targets[0];
      sub.header.flags = lr_only ? kFlagLearningRateOnly : 0;
      sub.body = w.bytes();
      sub.payload = sub.body.data();
      sub.header.payload_bytes = sub.body.size();
    }
  }
  op->finish = [this, targets, spec, lr_only](Op&) {
    std::lock_guard lock(keys_mutex_);
    for (uint32_t id : targets) {
      if (lr_only) {
        keys_[id].optimizer.lr = spec.lr;
      } else {
        keys_[id].optimizer = spec;
      }
    }
    return Status::Ok();
  };
  return Run(std::move(op), "parameter store " + what);
}

// ---- checkpoints ----

Status Client::Save(const std::string& dir) {
  const std::string who = "save to '" + dir + "' on worker " + std::to_string(worker_);
  {
    std::lock_guard lock(keys_mutex_);
    COHORT_RETURN_IF_ERROR(CheckUsable());
  }
  COHORT_RETURN_IF_ERROR(Flush().WithContext(who + ": "));
  const std::string round = "save" + std::to_string(++saves_);
  const auto timeout = endpoint_.config().timeout;
  // Worker 0 names the checkpoint and creates the directory; everyone learns the name.
  std::string id;
  if (worker_ == 0) {
    uint8_t random[8];
    Status made = RandomBytes(random, sizeof(random));
    if (made.ok()) made = MakeDirectories(dir);
    char hex[17];
    for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", random[i]);
    id = made.ok() ? hex : "!" + made.message();
    COHORT_RETURN_IF_ERROR(store_->Set(round + "/id", ToBytes(id)));
  } else {
    Result<Bytes> got = store_->Get(round + "/id", timeout);
    if (!got.ok()) return got.status().WithContext(who + ": worker 0 did not start the save: ");
    id = ToString(*got);
  }
  if (!id.empty() && id[0] == '!') {
    return InvalidArgumentError(who + ": worker 0 could not create the checkpoint directory: " + id.substr(1));
  }

  auto op = std::make_unique<Op>();
  ByteWriter w;
  w.PutString(dir);
  w.PutString(id);
  for (int s = 0; s < layout_.num_servers; ++s) {
    Sub& sub = AddServerSub(*op, MsgType::kSave, s);
    sub.body = w.bytes();
    sub.payload = sub.body.data();
    sub.header.payload_bytes = sub.body.size();
  }
  auto replies = std::make_shared<std::vector<SaveReply>>(static_cast<size_t>(layout_.num_servers));
  op->finish = [replies](Op& done) {
    for (const Sub& sub : done.subs) {
      ByteReader r(sub.reply_body.data(), sub.reply_body.size());
      COHORT_RETURN_IF_ERROR(GetSaveReply(r, &(*replies)[static_cast<size_t>(sub.server)]));
    }
    return Status::Ok();
  };
  Status status = Run(std::move(op), "parameter store save");
  if (worker_ != 0) {
    if (!status.ok()) return status.WithContext(who + ": ");
    Result<Bytes> done = store_->Get(round + "/done", timeout);
    if (!done.ok()) return done.status().WithContext(who + ": worker 0 did not finish the manifest: ");
    const std::string text = ToString(*done);
    return text == "ok" ? Status::Ok()
                        : InternalError(who + ": worker 0 could not finish the checkpoint: " + text);
  }
  if (status.ok()) {
    std::vector<KeySpec> specs;
    {
      std::lock_guard lock(keys_mutex_);
      for (const Key& key : keys_) specs.push_back(key.spec);
    }
    Result<Manifest> manifest = BuildManifest(id, specs, options_.rules, layout_.num_workers, *replies);
    status = manifest.ok() ? CommitManifest(dir, *manifest) : manifest.status();
  }
  COHORT_RETURN_IF_ERROR(store_->Set(round + "/done", ToBytes(status.ok() ? "ok" : status.message())));
  return status.WithContext(who + ": ");
}

Status Client::Load(const std::string& dir) {
  const std::string who = "load from '" + dir + "' on worker " + std::to_string(worker_);
  COHORT_RETURN_IF_ERROR(Flush().WithContext(who + ": "));
  Result<Manifest> read = ReadCheckpoint(dir);
  if (!read.ok()) return read.status().WithContext(who + ": ");
  const Manifest manifest = std::move(*read);
  COHORT_RETURN_IF_ERROR(StoreAgreement("load" + std::to_string(++loads_), manifest.id));

  auto op = std::make_unique<Op>();
  {
    std::lock_guard lock(keys_mutex_);
    if (keys_.empty()) {
      // Nothing declared yet: the checkpoint's keys, placed on this store's servers.
      std::vector<KeySpec> specs;
      for (const ManifestKey& k : manifest.keys) specs.push_back(k.spec);
      std::vector<KeyPlacement> placements =
          PlaceKeys(specs, layout_.num_servers, options_.min_split_bytes, &server_bytes_);
      for (size_t i = 0; i < specs.size(); ++i) {
        Key& key = keys_.emplace_back();
        key.spec = specs[i];
        key.id = static_cast<uint32_t>(i);
        key.placement = std::move(placements[i]);
        key.optimizer = manifest.keys[i].optimizer;
        for (size_t j = 0; j < key.placement.size(); ++j) key.gates.push_back(std::make_unique<Gate>());
        key_ids_[key.spec.name] = key.id;
      }
    } else {
      std::string mismatch;
      if (keys_.size() != manifest.keys.size()) {
        mismatch = "it holds " + std::to_string(manifest.keys.size()) + " keys, this store " +
                   std::to_string(keys_.size());
      }
      for (size_t i = 0; mismatch.empty() && i < keys_.size(); ++i) {
        if (keys_[i].spec != manifest.keys[i].spec) {
          mismatch = "key " + std::to_string(i) + " is " + DescribeKey(manifest.keys[i].spec) +
                     " there but " + DescribeKey(keys_[i].spec) + " here";
        }
      }
      if (!mismatch.empty()) {
        return InvalidArgumentError(who + ": the checkpoint is from another model: " + mismatch +
                                    "; nothing was loaded");
      }
    }
    for (size_t i = 0; i < keys_.size(); ++i) {
      const Key& key = keys_[i];
      const ManifestKey& mk = manifest.keys[i];
      for (size_t j = 0; j < key.placement.size(); ++j) {
        LoadBody body;
        body.checkpoint_id = manifest.id;
        body.init.key = key.spec;
        body.init.slice = key.placement[j];
        body.init.optimizer = mk.optimizer;
        body.init.initializer = Initializer::Zeros();
        body.init.rules = options_.rules;
        body.init.num_workers = layout_.num_workers;
        body.step = mk.step;
        if (static_cast<int>(mk.worker_pushes.size()) == layout_.num_workers) body.worker_pushes = mk.worker_pushes;
        body.sources = SourcesFor(manifest, dir, key.id, key.placement[j].offset, key.placement[j].count);
        Sub& sub = AddSub(*op, MsgType::kLoad, key, j);
        ByteWriter w;
        PutLoad(w, body);
        sub.body = std::move(w.bytes());
        sub.payload = sub.body.data();
        sub.header.payload_bytes = sub.body.size();
      }
    }
  }
  op->finish = [this, &manifest](Op& done) {
    std::lock_guard lock(keys_mutex_);
    for (Key& key : keys_) {
      key.optimizer = manifest.keys[key.id].optimizer;
      key.pushes = 0;
      key.broken = Status::Ok();
    }
    for (const Sub& sub : done.subs) keys_[sub.header.key].pushes = sub.reply_step;
    return Status::Ok();
  };
  Status status = Run(std::move(op), "parameter store load");
  std::lock_guard lock(keys_mutex_);
  broken_ = status.ok() ? Status::Ok() : status.WithContext(who + ": ");
  return broken_;
}

Status Client::Goodbye() {
  Status flushed = Flush();
  auto op = std::make_unique<Op>();
  for (int s = 0; s < layout_.num_servers; ++s) AddServerSub(*op, MsgType::kBye, s);
  Status status = Run(std::move(op), "parameter store goodbye");
  return flushed.ok() ? status : flushed;
}

}  // namespace cohort::ps
