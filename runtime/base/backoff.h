// How cohort waits for another process without a file descriptor to block on (shared memory):
// spin for a few microseconds (a peer in a latency-bound exchange usually answers within that),
// then yield the CPU (ranks that share a core must get to run), then nap. Shared by the shm link
// waits and the shared-memory collectives so both behave alike on oversubscribed hosts.
#pragma once

#include <chrono>

namespace cohort::backoff {

// After the last progress: spin this long, then yield until kYieldFor, then nap kNap at a time.
inline constexpr std::chrono::microseconds kSpinFor{20};
inline constexpr std::chrono::microseconds kYieldFor{500};
inline constexpr std::chrono::microseconds kNap{50};
// How often a stalled wait asks whether the peers it waits for still exist.
inline constexpr std::chrono::milliseconds kAliveEvery{100};

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace cohort::backoff
