// Server: one parameter server's protocol. It owns the slices placed on it (ServerSlice) and
// answers workers' requests on its endpoint's progress thread:
//
// - init / load: a slice becomes usable once every worker declared it (a per-slice barrier), so
//   no push can meet a key that is not there yet. Worker 0's values (or a seeded initializer)
//   fill it; a load reads the checkpoint's bytes from the shard files.
// - synchronous mode: a push for step t is added to the step's sum; when every worker's push for
//   t is in, the optimizer applies it once, then pushes and pulls waiting for t are answered.
//   Pushes for a step already applied, twice from one worker, or ahead of the current step are
//   refused and change nothing.
// - asynchronous mode: a push is applied at once. With staleness s, the reply to a worker's push
//   of its step t is held until every worker has pushed step t - s; the client sends its next
//   push only after that reply, so no worker's push t+1 is applied while another has not pushed
//   t - s (a worker is at most s steps ahead of the slowest).
// - replies carrying values are sent straight from the slice (sync: the next update waits for
//   those sends) or from a snapshot (async, where pushes must not wait).
// - every held request fails after COHORT_TIMEOUT naming what it waits for; a worker that
//   vanishes fails the requests that need it.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/ps/endpoint.h"
#include "runtime/ps/server_slice.h"

namespace cohort::ps {

class Server final : public Endpoint::Sink {
 public:
  Server(Endpoint& endpoint, int index);
  ~Server() override;

  Result<void*> PayloadDestination(int from, const WireHeader& header) override;
  void OnMessage(int from, const WireHeader& header, const void* payload) override;
  void OnSent(uint64_t token, const Status& status) override;
  void OnPeerLost(int member, const Status& status) override;
  void Poll(bool tick) override;

  // Any thread: waits until every worker said goodbye or is gone, and the last replies are sent.
  Status WaitUntilFinished(Deadline deadline);
  int index() const { return index_; }

 private:
  enum class Source : uint8_t { kNone, kValues, kSnapshot };
  struct ReplySlot {
    std::vector<uint8_t> body;  // error text or a control reply
    ServerSlice* slice = nullptr;
    Source source = Source::kNone;
  };
  struct SaveBarrier {
    std::string dir, id;
    std::vector<uint8_t> arrived;
    int count = 0;
    std::vector<Waiter> waiters;
  };

  std::string Name() const;  // "server 1 (host h)"
  std::string WorkerName(int worker) const;
  ServerSlice* Find(uint32_t key) const;
  // Checks that a push/pull header addresses `slice` as it is.
  Status CheckAddress(const ServerSlice& slice, const WireHeader& h, int worker, bool with_payload) const;

  void Reply(int member, uint64_t request_id, uint32_t key, const Status& status, int64_t step,
             ServerSlice* slice, Source source);
  void ReplyBody(int member, uint64_t request_id, uint32_t key, std::vector<uint8_t> body);
  void Fail(int member, const WireHeader& h, const Status& status);
  ReplySlot* NewSlot(uint64_t* token);

  Result<ServerSlice*> CreateSlice(uint32_t id, const InitBody& init);
  void HandleInit(int from, int worker, const WireHeader& h, const void* payload);
  void HandleInitValues(int from, int worker, const WireHeader& h, const void* payload);
  void HandleLoad(int from, int worker, const WireHeader& h, const void* payload);
  void HandlePush(int from, int worker, const WireHeader& h, const void* payload);
  void HandlePull(int from, int worker, const WireHeader& h);
  void HandleSetOptimizer(int from, const WireHeader& h, const void* payload);
  void HandleSave(int from, int worker, const WireHeader& h, const void* payload);
  void HandleBye(int from, int worker, const WireHeader& h);

  // Declaration barrier: answers every waiter once all workers declared and values are set.
  void MaybeReady(ServerSlice& slice);
  int64_t WorkerStep(const ServerSlice& slice, int worker) const;
  void TryApply(ServerSlice& slice);
  // Answers every waiter of `slice` that can be answered now.
  void Serve(ServerSlice& slice);
  void WriteCheckpoint();
  void FailWaiters(const Status& status);
  void CheckDeadlines();
  std::string Missing(const std::vector<uint8_t>& have) const;  // "workers 2, 3"
  void UpdateFinished();

  Endpoint& endpoint_;
  const int index_;
  const GroupLayout layout_;
  const int num_workers_;
  std::vector<std::unique_ptr<ServerSlice>> slices_;  // by key id; null: not on this server
  std::vector<std::unique_ptr<LoadBody>> pending_loads_;  // by key id, while a load's barrier fills
  uint64_t largest_slice_bytes_ = 0;
  std::vector<std::vector<uint8_t>> staging_;  // per member: pushed gradients and bodies
  std::vector<float> scratch_;                 // f32 widening of 16-bit gradients

  std::vector<std::unique_ptr<ReplySlot>> slots_;
  std::vector<uint64_t> free_slots_;
  int sends_in_flight_ = 0;

  SaveBarrier save_;
  std::vector<uint8_t> said_bye_;
  std::vector<Status> lost_;  // per worker: why it is gone (Ok while alive)

  std::mutex finished_mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
};

}  // namespace cohort::ps
