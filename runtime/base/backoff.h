// How cohort waits for another process without a file descriptor to block on (shared memory):
// spin for a few microseconds (a peer in a latency-bound exchange usually answers within that),
// then yield the CPU (ranks that share a core must get to run), then nap. Shared by the shm link
// waits and the shared-memory collectives so both behave alike on oversubscribed hosts.
//
// How long a caller's thread keeps yielding before sleeping: long, as MPI implementations poll.
// A rank whose threads all sleep hands its CPU back to the machine, and on the virtual machines
// measured here its next compute phase then ran slower (2 ranks training with a barrier per
// step: 1.42x faster with the barrier yielding than sleeping; README "Waiting"). Yielding,
// unlike spinning, still lets a rank that shares the CPU run (4 ranks on 2 CPUs gained too).
#pragma once

#include <chrono>
#include <optional>

namespace cohort::backoff {

// After the last progress: spin this long, then yield until the yield budget, then nap kNap at
// a time.
inline constexpr std::chrono::microseconds kSpinFor{20};
// Yield budget of waits that are not told otherwise (the progress thread's: the caller may be
// computing on the same CPU meanwhile).
inline constexpr std::chrono::microseconds kYieldFor{500};
// Yield budget of a caller's thread that waits for a collective (COHORT_BUSY_WAIT=auto).
inline constexpr std::chrono::microseconds kCallerYieldFor{100'000};
inline constexpr std::chrono::microseconds kNap{50};
// How often a stalled wait asks whether the peers it waits for still exist.
inline constexpr std::chrono::milliseconds kAliveEvery{100};

// CPUs this process may run on (its affinity mask).
int UsableCpus();

// The yield budget of a caller's thread that waits for a collective: `configured`
// (COHORT_BUSY_WAIT) when set, else kCallerYieldFor.
std::chrono::microseconds CallerYieldFor(std::optional<std::chrono::milliseconds> configured);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace cohort::backoff
