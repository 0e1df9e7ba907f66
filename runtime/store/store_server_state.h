// The TCP store server's data and parked waits, apart from any socket: executes decoded requests,
// parks Get/Wait whose keys are missing, and hands back answers when keys appear or deadlines
// pass. Thread-safe: the serving thread calls everything; SetLocal may come from any thread and
// then fires the wake callback so that the serving thread collects the answers.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/store/store_protocol.h"

namespace cohort {

class StoreServerState {
 public:
  struct Answer {
    uint64_t client = 0;
    StoreReply reply;
  };

  // Called (outside the lock) after SetLocal woke a parked wait.
  void SetWakeCallback(std::function<void()> wake) { wake_ = std::move(wake); }

  // Runs a validated request from `client`. Returns its reply, or nothing when the request is
  // parked (a Get or Wait whose keys are missing); its answer comes later from TakeAnswers or
  // ExpireWaits. Changes made here may wake other clients: call TakeAnswers afterwards.
  std::optional<StoreReply> Execute(uint64_t client, StoreRequest request, Clock::time_point now);
  void SetLocal(const std::string& key, const Bytes& value);
  std::optional<Bytes> GetLocal(const std::string& key) const;
  // Forgets the parked request of a client that went away.
  void Unpark(uint64_t client);

  // Answers for parked requests whose keys all exist now.
  std::vector<Answer> TakeAnswers();
  // kDeadlineExceeded answers for parked requests whose deadline passed.
  std::vector<Answer> ExpireWaits(Clock::time_point now);
  // The earliest deadline of a parked request (time_point::max() when none).
  Clock::time_point NextDeadline() const;

 private:
  struct Waiter {
    StoreOp op = StoreOp::kWait;
    std::vector<std::string> keys;
    int64_t timeout_ms = 0;
    Clock::time_point deadline;
  };

  void SetLocked(const std::string& key, Bytes value);
  void WakeLocked(const std::string& key);
  bool AllPresentLocked(const std::vector<std::string>& keys) const;
  StoreReply SuccessLocked(const Waiter& waiter) const;
  StoreReply TimeoutLocked(const Waiter& waiter) const;
  void RemoveWaiterLocked(uint64_t client);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bytes> data_;
  std::unordered_map<uint64_t, Waiter> waiters_;
  std::unordered_map<std::string, std::unordered_set<uint64_t>> waiters_by_key_;
  std::vector<Answer> ready_;
  std::function<void()> wake_;
};

}  // namespace cohort
