#include "runtime/comm/op_history.h"

namespace cohort {

namespace {
const char* StateName(OpHistory::State state) {
  switch (state) {
    case OpHistory::State::kQueued: return "queued";
    case OpHistory::State::kRunning: return "running";
    case OpHistory::State::kDone: return "done";
    case OpHistory::State::kFailed: return "failed";
  }
  return "?";
}
}  // namespace

size_t OpHistory::Begin(const OpSummary& what, State state) {
  std::lock_guard lock(mutex_);
  uint64_t id = next_id_++;
  Entry& entry = entries_[id % kCapacity];
  entry.id = id;
  entry.what = what;
  entry.state = state;
  return static_cast<size_t>(id);
}

void OpHistory::SetState(size_t handle, State state) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[handle % kCapacity];
  if (entry.id == handle) entry.state = state;
}

std::string OpHistory::Describe() const {
  std::lock_guard lock(mutex_);
  std::string out = "recent operations on this rank (oldest first):";
  uint64_t first = next_id_ > kCapacity ? next_id_ - kCapacity : 1;
  for (uint64_t id = first; id < next_id_; ++id) {
    const Entry& entry = entries_[id % kCapacity];
    if (entry.id != id) continue;
    out += "\n  " + entry.what.Describe() + ": " + StateName(entry.state);
  }
  return out;
}

}  // namespace cohort
