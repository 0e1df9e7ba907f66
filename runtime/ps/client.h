// Client: a worker's side of the parameter store. User threads build an operation (one call:
// init, push, pull, push_pull, save, ...) out of one message per slice and server, and hand it to
// the endpoint's progress thread, which sends the messages, matches replies, and completes the
// operation's Work when every reply is in.
//
// Ordering: a worker's pushes of one slice go out one at a time (the next after the server's reply
// to the previous), which is what makes synchronous steps and bounded staleness hold without
// buffering on the server; pulls are sent at once and carry the worker's last pushed step, so a
// pull always sees this worker's earlier pushes. Each step of a key is numbered by the worker
// (1, 2, ...) unless the caller passes it.
//
// Failures: a server's refusal carries its message (naming key, worker and why); a server that
// dies or stops answering fails every pending and later call to it, naming the server and the key
// ranges it held. Replies that never come are bounded by COHORT_TIMEOUT (plus a grace, since the
// server itself answers waits that pass COHORT_TIMEOUT with its own explanation).
//
// Thread safety: every public method may be called from several threads; the progress thread runs
// the Sink callbacks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/base/dtype.h"
#include "runtime/comm/work.h"
#include "runtime/ps/endpoint.h"
#include "runtime/ps/manifest.h"

namespace cohort::ps {

// One key in an init call.
struct KeyDeclaration {
  KeySpec spec;
  const void* values = nullptr;  // worker 0's initial values (key dtype), or null to use `initializer`
  Initializer initializer;
  std::optional<OptimizerSpec> optimizer;  // default: the store's
};

struct ClientOptions {
  StoreRules rules;
  OptimizerSpec optimizer;  // for keys declared without one
  size_t min_split_bytes = kDefaultMinSplitBytes;
};

class Client final : public Endpoint::Sink {
 public:
  // `store` is the job's store (keys under "ps/<name>/client/").
  Client(Endpoint& endpoint, int worker, std::shared_ptr<Store> store, const std::string& name,
         ClientOptions options);
  ~Client() override;

  // ---- user threads ----
  Status Declare(const std::vector<KeyDeclaration>& keys);
  // keys[i] with buffers[i]; `steps` empty (next step of each key) or one explicit step per key.
  Result<WorkPtr> Push(const std::vector<std::string>& keys, const std::vector<BufferView>& grads,
                       const std::vector<int64_t>& steps);
  Result<WorkPtr> Pull(const std::vector<std::string>& keys, const std::vector<BufferView>& outs);
  Result<WorkPtr> PushPull(const std::vector<std::string>& keys, const std::vector<BufferView>& grads,
                           const std::vector<BufferView>& outs);
  // key empty: every key.
  Status SetOptimizer(const std::string& key, const OptimizerSpec& spec);
  Status SetLearningRate(const std::string& key, double lr);
  Status Save(const std::string& dir);
  Status Load(const std::string& dir);
  // Waits for this worker's pending calls, then tells every server it is done (bounded).
  Status Goodbye();

  bool HasKey(const std::string& key) const;
  Result<KeySpec> Spec(const std::string& key) const;
  Result<KeyPlacement> Placement(const std::string& key) const;
  Result<OptimizerSpec> Optimizer(const std::string& key) const;
  // Steps this worker has pushed of `key` (its next implicit push is step() + 1).
  Result<int64_t> Step(const std::string& key) const;
  std::vector<std::string> Keys() const;
  // Bytes of values each server holds (from the placement).
  std::vector<uint64_t> ServerBytes() const;

  // ---- progress thread (Endpoint::Sink) ----
  Result<void*> PayloadDestination(int from, const WireHeader& header) override;
  void OnMessage(int from, const WireHeader& header, const void* payload) override;
  void OnSent(uint64_t token, const Status& status) override;
  void OnPeerLost(int member, const Status& status) override;
  void Poll(bool tick) override;

 private:
  struct Op;
  struct Sub;
  struct Gate {  // one slice's pushes, sent one at a time (progress thread only)
    bool busy = false;
    std::deque<Sub*> queue;
  };
  struct Key {
    KeySpec spec;
    uint32_t id = 0;
    KeyPlacement placement;
    OptimizerSpec optimizer;
    int64_t pushes = 0;  // steps pushed by this worker (guarded by keys_mutex_)
    Status broken;       // its init or load failed
    std::vector<std::unique_ptr<Gate>> gates;  // per slice
  };
  struct Sub {
    Op* op = nullptr;
    int server = 0;
    int member = 0;
    WireHeader header;
    const void* payload = nullptr;
    std::vector<uint8_t> body;  // control request bodies
    void* dest = nullptr;       // values of a pull / push_pull reply
    Gate* gate = nullptr;       // pushes
    int64_t previous_pushes = 0;  // pushes: the key's step count before this push was numbered
    Deadline deadline = Deadline::Never();
    uint32_t slot = 0;
    bool sent = false, done = false;
    int64_t reply_step = 0;
    std::vector<uint8_t> reply_body;
  };
  // How a blocking call learns its result without going through Work's exceptions.
  struct Completion {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    Status status;
    void Set(Status s) {
      std::lock_guard lock(mutex);
      status = std::move(s);
      done = true;
      cv.notify_all();
    }
    Status Wait() {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return done; });
      return status;
    }
  };
  struct Op {
    WorkPtr work;
    std::shared_ptr<Completion> completion = std::make_shared<Completion>();
    std::deque<Sub> subs;
    int pending = 0;  // subs not done
    int live = 0;     // subs not retired (sent and done)
    Status error;
    std::function<Status(Op&)> finish;  // progress thread, before the Work completes
  };

  // `status` (a lost server) as the error of the call `sub` belongs to: "pull of key 'w' on
  // worker 2 failed: parameter server 3 (host h) is gone ...".
  Status ForCall(const Sub& sub, const Status& status) const;

  // User threads.
  Result<const Key*> Lookup(const std::string& name, const char* what) const;
  Status CheckBuffer(const Key& key, const BufferView& buffer, const char* what, const char* role) const;
  Result<WorkPtr> Transfer(MsgType type, const std::vector<std::string>& keys,
                           const std::vector<BufferView>& grads, const std::vector<BufferView>& outs,
                           const std::vector<int64_t>& steps);
  Sub& AddSub(Op& op, MsgType type, const Key& key, size_t slice);
  Sub& AddServerSub(Op& op, MsgType type, int server);
  WorkPtr Submit(std::unique_ptr<Op> op, const std::string& description);
  Status Run(std::unique_ptr<Op> op, const std::string& description);  // Submit and wait
  Status Flush();
  Status ChangeOptimizer(const std::string& key, const OptimizerSpec& spec, bool lr_only);
  Status CheckUsable() const;
  Status StoreAgreement(const std::string& what, const std::string& mine);
  std::string ServerName(int server) const;
  std::string KeyRanges(int server) const;  // what a server holds, for errors

  // Progress thread.
  void Dispatch(Sub* sub);
  void Send(Sub* sub);
  void CompleteSub(Sub* sub, Status status);
  void MaybeRetire(Sub* sub);
  Sub* SubFor(uint64_t request_id);
  void CheckDeadlines();

  Endpoint& endpoint_;
  const int worker_;
  const GroupLayout layout_;
  std::shared_ptr<Store> store_;
  const ClientOptions options_;

  mutable std::mutex keys_mutex_;
  std::deque<Key> keys_;
  std::unordered_map<std::string, uint32_t> key_ids_;
  std::vector<uint64_t> server_bytes_;
  Status broken_;           // a failed load: the store holds a mix of states
  int inits_ = 0, saves_ = 0, loads_ = 0;  // collective call counters (store key names)

  std::mutex submit_mutex_;
  std::vector<Sub*> submitted_;
  std::atomic<bool> has_submitted_{false};
  std::condition_variable idle_cv_;
  int outstanding_ = 0;     // ops not yet completed (guarded by submit_mutex_)

  // Progress thread only.
  std::vector<Sub*> dispatching_;
  std::vector<Sub*> slots_;           // in flight, by slot
  std::vector<uint32_t> slot_generation_;
  std::vector<uint32_t> free_slots_;
  std::vector<Status> server_lost_;   // per server
  std::vector<uint8_t> said_goodbye_; // per server
  std::vector<std::vector<uint8_t>> error_text_;  // per server: its error replies' text
};

}  // namespace cohort::ps
