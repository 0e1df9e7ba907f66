// OpHistory: a small ring of this communicator's recent operations (what, sequence, bytes, peers,
// state), printed when a wait times out so the user sees where each rank stopped. Recording is
// a lock and a copy of plain data: it runs on every call, the latency path included.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "runtime/comm/op_summary.h"

namespace cohort {

class OpHistory {
 public:
  enum class State { kQueued, kRunning, kDone, kFailed };

  // Records a new operation; returns its slot handle for later updates.
  size_t Begin(const OpSummary& what, State state = State::kQueued);
  void SetState(size_t handle, State state);
  // "recent operations (oldest first): allreduce #3 ... done; allreduce #4 ... running".
  std::string Describe() const;

 private:
  static constexpr size_t kCapacity = 16;
  struct Entry {
    uint64_t id = 0;
    OpSummary what;
    State state = State::kQueued;
  };
  mutable std::mutex mutex_;
  std::array<Entry, kCapacity> entries_;
  uint64_t next_id_ = 1;
};

}  // namespace cohort
