// fault_kill: the last rank SIGKILLs itself 100 ms into a 256 MiB f32 allreduce; every other
// rank must get a cohort::Error naming that rank, within 30 s. Run through cohortrun by
// fault_kill_test.sh. Each survivor prints one line
//   "fault_kill: rank R error after S s, names rank V: yes|no: <message>"
// and exits 3 when the error named the dead rank within 30 s, 4 when it did not, 5 when no
// error came at all. Options: --mib N (buffer size, default 256); --no-kill: nobody dies, the
// ranks allreduce until an error stops them (a test takes a link down meanwhile) and each prints
//   "fault_kill: rank R error after S s: <message>"   (exit 3), after "allreducing" on rank 0.
#include <signal.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cohort.h"

namespace {

// True if `message` says "rank V" (or "rank=V", "rank: V") with no further digit after V.
bool NamesRank(const std::string& message, int rank) {
  const std::string number = std::to_string(rank);
  for (size_t at = message.find("rank"); at != std::string::npos;
       at = message.find("rank", at + 1)) {
    size_t p = at + 4;
    while (p < message.size() && (message[p] == ' ' || message[p] == '=' || message[p] == ':')) ++p;
    if (message.compare(p, number.size(), number) == 0 &&
        (p + number.size() == message.size() || !std::isdigit(static_cast<unsigned char>(message[p + number.size()])))) {
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 256;
  bool kill = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
      mib = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--no-kill") == 0) {
      kill = false;
    } else {
      std::printf("fault_kill: unknown argument '%s' (--mib N, --no-kill)\n", argv[i]);
      return 2;
    }
  }
  try {
    cohort::Communicator& comm = cohort::init();
    const int me = comm.rank(), victim = kill ? comm.size() - 1 : -1;
    if (comm.size() < 2) {
      std::printf("fault_kill: needs at least 2 ranks\n");
      return 2;
    }
    std::vector<float> data(mib * (1u << 20) / sizeof(float), 1.0f);  // touched before timing
    comm.barrier();
    if (me == victim) {
      std::thread([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        raise(SIGKILL);
      }).detach();
    }
    const auto start = std::chrono::steady_clock::now();
    const auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    if (!kill && me == 0) {
      std::printf("fault_kill: allreducing\n");
      std::fflush(stdout);
    }
    try {
      // Repeat in case one allreduce finishes within 100 ms on a fast machine.
      while (seconds() < 120) comm.allreduce({data.data(), data.size(), cohort::DataType::kF32},
                                             cohort::ReduceOp::kSum);
      std::printf("fault_kill: rank %d got no error in %.1f s\n", me, seconds());
      return 5;
    } catch (const cohort::Error& e) {
      const double elapsed = seconds();
      if (!kill) {
        std::printf("fault_kill: rank %d error after %.2f s: %s\n", me, elapsed, e.what());
        std::fflush(stdout);
        return 3;
      }
      const bool named = NamesRank(e.what(), victim);
      std::printf("fault_kill: rank %d error after %.2f s, names rank %d: %s: %s\n", me, elapsed,
                  victim, named ? "yes" : "no", e.what());
      std::fflush(stdout);
      return named && elapsed <= 30 ? 3 : 4;
    }
  } catch (const cohort::Error& e) {
    std::printf("fault_kill: set-up failed: %s\n", e.what());
    return 1;
  }
}
