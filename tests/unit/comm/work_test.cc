// Work's waits: they return as soon as another thread completes the operation, whether the
// waiter is still polling (inside its yield budget) or already asleep; wait_for keeps its
// timeout; errors arrive from either phase.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "runtime/base/errors.h"
#include "runtime/comm/work.h"

namespace cohort {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Completes `work` with `status` after `delay`, on another thread.
std::thread CompleteLater(Work& work, std::chrono::milliseconds delay, Status status = Status::Ok()) {
  return std::thread([&work, delay, status] {
    std::this_thread::sleep_for(delay);
    work.Complete(status);
  });
}

TEST(Work, WaitEndsWhileStillPolling) {
  Work work("allreduce #1", 10s);  // budget far longer than the operation
  std::thread completer = CompleteLater(work, 20ms);
  const Clock::time_point start = Clock::now();
  work.wait();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(work.test());
  completer.join();
}

TEST(Work, WaitEndsAfterTheBudgetPassedAndTheWaiterSlept) {
  Work work("allreduce #2", 1ms);
  std::thread completer = CompleteLater(work, 50ms);
  work.wait();
  EXPECT_TRUE(work.test());
  completer.join();
}

TEST(Work, WaitForKeepsItsTimeoutInsideTheBudget) {
  Work work("allreduce #3", 10s);
  const Clock::time_point start = Clock::now();
  EXPECT_FALSE(work.wait_for(30ms));
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 30ms);
  EXPECT_LT(took, 5s);
  std::thread completer = CompleteLater(work, 10ms);
  EXPECT_TRUE(work.wait_for(10s));
  completer.join();
}

TEST(Work, ErrorsArriveFromThePollingPhase) {
  Work work("broadcast #4", 10s);
  std::thread completer = CompleteLater(work, 5ms, UnavailableError("rank 3 is gone"));
  try {
    work.wait();
    ADD_FAILURE() << "wait() returned after a failed operation";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("rank 3 is gone"), std::string::npos) << e.what();
  }
  completer.join();
}

TEST(Work, NoBudgetSleepsAtOnce) {
  Work work("barrier #5");
  std::thread completer = CompleteLater(work, 5ms);
  work.wait();
  EXPECT_TRUE(work.test());
  completer.join();
}

}  // namespace
}  // namespace cohort
