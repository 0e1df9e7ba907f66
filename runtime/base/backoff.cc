#include "runtime/base/backoff.h"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace cohort::backoff {

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  return std::max(1, CPU_COUNT(&set));
}

std::chrono::microseconds CallerYieldFor(std::optional<std::chrono::milliseconds> configured) {
  if (configured) return std::chrono::duration_cast<std::chrono::microseconds>(*configured);
  return kCallerYieldFor;
}

}  // namespace cohort::backoff
