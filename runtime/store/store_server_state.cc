// Request execution and parked waits of the TCP store server (see store_server_state.h).
#include "runtime/store/store_server_state.h"

#include <algorithm>
#include <charconv>

namespace cohort {
namespace {

// Longest server-side wait honoured; keeps deadline arithmetic far from overflow.
constexpr int64_t kMaxWaitMs = int64_t{30} * 24 * 3600 * 1000;

StoreReply ErrorReply(StatusCode code, std::string message) {
  if (message.size() > kMaxStoreMessageBytes) {
    message.resize(kMaxStoreMessageBytes - 3);
    message += "...";
  }
  StoreReply reply;
  reply.code = code;
  reply.fields.push_back(ToBytes(message));
  return reply;
}

StoreReply NumberReply(int64_t number) {
  StoreReply reply;
  reply.number = number;
  return reply;
}

StoreReply ValueReply(Bytes value) {
  StoreReply reply;
  reply.fields.push_back(std::move(value));
  return reply;
}

}  // namespace

std::optional<StoreReply> StoreServerState::Execute(uint64_t client, StoreRequest request,
                                                    Clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::string key = ToString(request.fields[0]);
  switch (request.op) {
    case StoreOp::kSet:
      SetLocked(key, std::move(request.fields[1]));
      return StoreReply{};
    case StoreOp::kAdd: {
      int64_t value = 0;
      auto it = data_.find(key);
      if (it != data_.end()) {
        const char* begin = reinterpret_cast<const char*>(it->second.data());
        const char* end = begin + it->second.size();
        auto [ptr, ec] = std::from_chars(begin, end, value);
        if (ec != std::errc() || ptr != end || begin == end) {
          return ErrorReply(StatusCode::kInvalidArgument,
                            "store key '" + key + "' does not hold an integer");
        }
      }
      if (__builtin_add_overflow(value, request.number, &value)) {
        return ErrorReply(StatusCode::kInvalidArgument,
                          "adding " + std::to_string(request.number) + " to store key '" + key +
                              "' overflows a 64-bit integer");
      }
      SetLocked(key, ToBytes(std::to_string(value)));
      return NumberReply(value);
    }
    case StoreOp::kCompareSet: {
      auto it = data_.find(key);
      const Bytes& expected = request.fields[1];
      bool matches = it == data_.end() ? expected.empty() : it->second == expected;
      if (!matches) return ValueReply(it == data_.end() ? Bytes{} : it->second);
      SetLocked(key, request.fields[2]);
      return ValueReply(std::move(request.fields[2]));
    }
    case StoreOp::kDelete:
      return NumberReply(data_.erase(key) > 0 ? 1 : 0);
    case StoreOp::kCheck:
      return NumberReply(data_.count(key) > 0 ? 1 : 0);
    case StoreOp::kGet:
    case StoreOp::kWait: {
      Waiter waiter;
      waiter.op = request.op;
      for (auto& field : request.fields) waiter.keys.push_back(ToString(field));
      waiter.timeout_ms = std::min(request.number, kMaxWaitMs);
      waiter.deadline = now + std::chrono::milliseconds(waiter.timeout_ms);
      if (AllPresentLocked(waiter.keys)) return SuccessLocked(waiter);
      if (waiter.timeout_ms == 0) return TimeoutLocked(waiter);
      RemoveWaiterLocked(client);
      for (const auto& k : waiter.keys) waiters_by_key_[k].insert(client);
      waiters_.emplace(client, std::move(waiter));
      return std::nullopt;
    }
  }
  return ErrorReply(StatusCode::kInternal, "unhandled store op");
}

void StoreServerState::SetLocal(const std::string& key, const Bytes& value) {
  bool woke = false;
  {
    std::lock_guard lock(mutex_);
    size_t before = ready_.size();
    SetLocked(key, value);
    woke = ready_.size() > before;
  }
  if (woke && wake_) wake_();
}

std::optional<Bytes> StoreServerState::GetLocal(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

void StoreServerState::Unpark(uint64_t client) {
  std::lock_guard lock(mutex_);
  RemoveWaiterLocked(client);
  std::erase_if(ready_, [&](const Answer& answer) { return answer.client == client; });
}

std::vector<StoreServerState::Answer> StoreServerState::TakeAnswers() {
  std::lock_guard lock(mutex_);
  return std::exchange(ready_, {});
}

std::vector<StoreServerState::Answer> StoreServerState::ExpireWaits(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::vector<Answer> expired;
  for (const auto& [client, waiter] : waiters_) {
    if (waiter.deadline <= now) expired.push_back({client, TimeoutLocked(waiter)});
  }
  for (const auto& answer : expired) RemoveWaiterLocked(answer.client);
  return expired;
}

Clock::time_point StoreServerState::NextDeadline() const {
  std::lock_guard lock(mutex_);
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [client, waiter] : waiters_) next = std::min(next, waiter.deadline);
  return next;
}

void StoreServerState::SetLocked(const std::string& key, Bytes value) {
  data_[key] = std::move(value);
  WakeLocked(key);
}

void StoreServerState::WakeLocked(const std::string& key) {
  auto it = waiters_by_key_.find(key);
  if (it == waiters_by_key_.end()) return;
  std::vector<uint64_t> candidates(it->second.begin(), it->second.end());
  for (uint64_t client : candidates) {
    const Waiter& waiter = waiters_.at(client);
    if (!AllPresentLocked(waiter.keys)) continue;
    ready_.push_back({client, SuccessLocked(waiter)});
    RemoveWaiterLocked(client);
  }
}

bool StoreServerState::AllPresentLocked(const std::vector<std::string>& keys) const {
  return std::all_of(keys.begin(), keys.end(), [&](const auto& k) { return data_.count(k) > 0; });
}

StoreReply StoreServerState::SuccessLocked(const Waiter& waiter) const {
  if (waiter.op == StoreOp::kGet) return ValueReply(data_.at(waiter.keys[0]));
  return StoreReply{};
}

StoreReply StoreServerState::TimeoutLocked(const Waiter& waiter) const {
  std::string prefix = "timed out after " + std::to_string(waiter.timeout_ms) + " ms waiting for ";
  if (waiter.op == StoreOp::kGet) {
    return ErrorReply(StatusCode::kDeadlineExceeded, prefix + "store key '" + waiter.keys[0] + "'");
  }
  std::string missing;
  size_t listed = 0, unlisted = 0;
  for (const auto& k : waiter.keys) {
    if (data_.count(k)) continue;
    if (listed < 16 && missing.size() < 2048) {
      missing += (listed++ ? ", '" : "'") + k + "'";
    } else {
      ++unlisted;
    }
  }
  if (unlisted) missing += " and " + std::to_string(unlisted) + " more";
  return ErrorReply(StatusCode::kDeadlineExceeded, prefix + "store keys: " + missing);
}

void StoreServerState::RemoveWaiterLocked(uint64_t client) {
  auto it = waiters_.find(client);
  if (it == waiters_.end()) return;
  for (const auto& k : it->second.keys) {
    auto by_key = waiters_by_key_.find(k);
    if (by_key == waiters_by_key_.end()) continue;
    by_key->second.erase(client);
    if (by_key->second.empty()) waiters_by_key_.erase(by_key);
  }
  waiters_.erase(it);
}

}  // namespace cohort
