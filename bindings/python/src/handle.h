// Handle: the Python face of an async collective (cohort::Work), and the interruptible wait that
// every blocking call of cohort._C uses.
//
// A Handle owns the Python buffers its operation reads and writes (see ImportedBuffer) until the
// operation has ended, so the producer's memory outlives every access by the progress thread.
// Dropping a Handle that is still running waits for the operation (GIL released; bounded by
// COHORT_TIMEOUT) before the buffers are released: never a use-after-free.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "runtime/comm/work.h"

namespace cohort::python {

// Waits until `work` ends, with the GIL released, in slices of at most 100 ms; between slices it
// re-acquires the GIL and runs Python's signal handlers. If a handler raises (Ctrl-C ->
// KeyboardInterrupt), aborts the default communicator, waits for `work` to end and re-raises.
// Otherwise throws the operation's error, if it failed. Requires the GIL.
void WaitInterruptibly(Work& work);

class Handle {
 public:
  Handle(WorkPtr work, std::vector<pybind11::object> buffers);
  ~Handle();
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  // Blocks until the operation ends; raises its error (CohortTimeoutError, CohortPeerError, ...).
  void wait();
  // Waits at most `timeout_s` seconds; false if still running; raises the error if it failed.
  bool wait_for(double timeout_s);
  // True once the operation has ended, successfully or not. Never raises.
  bool test();
  const std::string& description() const { return work_->description(); }

 private:
  void ReleaseBuffers();  // once the operation has ended; GIL held

  WorkPtr work_;
  std::vector<pybind11::object> buffers_;
};

}  // namespace cohort::python
