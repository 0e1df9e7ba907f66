// Deadline: an absolute point on the monotonic clock. Every blocking wait in cohort takes one, so
// nothing waits forever.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace cohort {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  static Deadline After(std::chrono::milliseconds timeout) { return Deadline(Clock::now() + timeout); }
  static Deadline Never() { return Deadline(Clock::time_point::max()); }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  bool expired() const { return Clock::now() >= at_; }
  Clock::time_point at() const { return at_; }
  // Milliseconds left, clamped to [0, INT32_MAX], as poll() wants.
  int remaining_ms() const {
    if (at_ == Clock::time_point::max()) return INT32_MAX;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, INT32_MAX));
  }
  Deadline Earlier(Deadline other) const { return Deadline(std::min(at_, other.at_)); }

 private:
  Clock::time_point at_;
};

}  // namespace cohort
