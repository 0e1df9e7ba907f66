#include "runtime/store/store.h"

#include <condition_variable>
#include <map>
#include <mutex>

namespace cohort {

Status Store::Barrier(const std::string& name, int world_size, std::chrono::milliseconds timeout) {
  const std::string count_key = "barrier/" + name + "/count";
  const std::string done_key = "barrier/" + name + "/done";
  COHORT_ASSIGN_OR_RETURN(int64_t arrived, Add(count_key, 1));
  if (arrived == world_size) COHORT_RETURN_IF_ERROR(Set(done_key, ToBytes("1")));
  Status waited = Wait({done_key}, timeout);
  if (waited.code() == StatusCode::kDeadlineExceeded) {
    auto now = Add(count_key, 0);
    std::string seen = now.ok() ? std::to_string(*now) : "?";
    return DeadlineExceededError("store barrier '" + name + "' timed out: " + seen + " of " +
                            std::to_string(world_size) + " ranks arrived");
  }
  return waited;
}

// ---- PrefixStore ----

Status PrefixStore::Set(const std::string& key, const Bytes& value) {
  return base_->Set(prefix_ + key, value);
}
Result<Bytes> PrefixStore::Get(const std::string& key, std::chrono::milliseconds timeout) {
  return base_->Get(prefix_ + key, timeout);
}
Result<int64_t> PrefixStore::Add(const std::string& key, int64_t delta) {
  return base_->Add(prefix_ + key, delta);
}
Result<Bytes> PrefixStore::CompareSet(const std::string& key, const Bytes& expected,
                                      const Bytes& desired) {
  return base_->CompareSet(prefix_ + key, expected, desired);
}
Result<bool> PrefixStore::Delete(const std::string& key) { return base_->Delete(prefix_ + key); }
Result<bool> PrefixStore::Check(const std::string& key) { return base_->Check(prefix_ + key); }
Status PrefixStore::Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  std::vector<std::string> full;
  full.reserve(keys.size());
  for (const auto& key : keys) full.push_back(prefix_ + key);
  return base_->Wait(full, timeout);
}

// ---- MemoryStore ----

struct MemoryStore::State {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, Bytes> data;
};

MemoryStore::MemoryStore() : state_(std::make_unique<State>()) {}
MemoryStore::~MemoryStore() = default;

namespace {
Status CheckKey(const std::string& key) {
  if (key.empty() || key.size() > kMaxStoreKeyBytes) {
    return InvalidArgumentError("store key of " + std::to_string(key.size()) +
                           " bytes; keys must have 1 to " + std::to_string(kMaxStoreKeyBytes));
  }
  return Status::Ok();
}
Status CheckValue(const Bytes& value) {
  if (value.size() > kMaxStoreValueBytes) {
    return InvalidArgumentError("store value of " + std::to_string(value.size()) +
                           " bytes exceeds the limit of " + std::to_string(kMaxStoreValueBytes));
  }
  return Status::Ok();
}
}  // namespace

Status MemoryStore::Set(const std::string& key, const Bytes& value) {
  COHORT_RETURN_IF_ERROR(CheckKey(key));
  COHORT_RETURN_IF_ERROR(CheckValue(value));
  std::lock_guard lock(state_->mutex);
  state_->data[key] = value;
  state_->changed.notify_all();
  return Status::Ok();
}

Result<Bytes> MemoryStore::Get(const std::string& key, std::chrono::milliseconds timeout) {
  COHORT_RETURN_IF_ERROR(Wait({key}, timeout));
  std::lock_guard lock(state_->mutex);
  auto it = state_->data.find(key);
  if (it == state_->data.end()) return UnavailableError("store key '" + key + "' was deleted");
  return it->second;
}

Result<int64_t> MemoryStore::Add(const std::string& key, int64_t delta) {
  COHORT_RETURN_IF_ERROR(CheckKey(key));
  std::lock_guard lock(state_->mutex);
  int64_t value = 0;
  auto it = state_->data.find(key);
  if (it != state_->data.end()) {
    try {
      value = std::stoll(ToString(it->second));
    } catch (...) {
      return InvalidArgumentError("store key '" + key + "' does not hold an integer");
    }
  }
  value += delta;
  state_->data[key] = ToBytes(std::to_string(value));
  state_->changed.notify_all();
  return value;
}

Result<Bytes> MemoryStore::CompareSet(const std::string& key, const Bytes& expected,
                                      const Bytes& desired) {
  COHORT_RETURN_IF_ERROR(CheckKey(key));
  COHORT_RETURN_IF_ERROR(CheckValue(desired));
  std::lock_guard lock(state_->mutex);
  auto it = state_->data.find(key);
  bool matches = it == state_->data.end() ? expected.empty() : it->second == expected;
  if (!matches) return it == state_->data.end() ? Bytes{} : it->second;
  state_->data[key] = desired;
  state_->changed.notify_all();
  return desired;
}

Result<bool> MemoryStore::Delete(const std::string& key) {
  std::lock_guard lock(state_->mutex);
  return state_->data.erase(key) > 0;
}

Result<bool> MemoryStore::Check(const std::string& key) {
  std::lock_guard lock(state_->mutex);
  return state_->data.count(key) > 0;
}

Status MemoryStore::Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  for (const auto& key : keys) COHORT_RETURN_IF_ERROR(CheckKey(key));
  std::unique_lock lock(state_->mutex);
  auto all_present = [&] {
    for (const auto& key : keys) {
      if (state_->data.count(key) == 0) return false;
    }
    return true;
  };
  if (!state_->changed.wait_for(lock, timeout, all_present)) {
    std::string missing;
    for (const auto& key : keys) {
      if (state_->data.count(key) == 0) missing += (missing.empty() ? "" : ", ") + key;
    }
    return DeadlineExceededError("timed out after " + std::to_string(timeout.count()) +
                            " ms waiting for store keys: " + missing);
  }
  return Status::Ok();
}

}  // namespace cohort
