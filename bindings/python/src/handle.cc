// Handle and the interruptible wait (see handle.h).
#include "handle.h"

#include <algorithm>
#include <chrono>

#include "runtime/comm/communicator.h"

namespace py = pybind11;

namespace cohort::python {
namespace {

constexpr std::chrono::milliseconds kSlice{100};

// Runs Python's signal handlers; on an exception, aborts the job's communicator so that `work`
// (and every peer waiting on us) ends promptly, waits for it and re-raises.
void CheckSignals(Work& work) {
  if (PyErr_CheckSignals() == 0) return;
  py::error_already_set interrupted;  // takes the pending KeyboardInterrupt
  {
    py::gil_scoped_release release;
    if (cohort::is_initialized()) cohort::init().abort("interrupted by signal");
    try {
      work.wait();  // abort ends it at once; the buffers must not be released before
    } catch (const std::exception&) {
    }
  }
  throw interrupted;
}

}  // namespace

void WaitInterruptibly(Work& work) {
  for (;;) {
    {
      py::gil_scoped_release release;
      if (work.wait_for(kSlice)) return;
    }
    CheckSignals(work);
  }
}

Handle::Handle(WorkPtr work, std::vector<py::object> buffers)
    : work_(std::move(work)), buffers_(std::move(buffers)) {}

Handle::~Handle() {
  if (!work_->test()) {
    py::gil_scoped_release release;
    try {
      work_->wait();
    } catch (const std::exception&) {
      // Dropped without wait(): nobody asked for the error.
    }
  }
  // buffers_ die after this body, with the GIL held again.
}

void Handle::wait() {
  try {
    WaitInterruptibly(*work_);
  } catch (...) {
    if (work_->test()) ReleaseBuffers();
    throw;
  }
  ReleaseBuffers();
}

bool Handle::wait_for(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(std::max(timeout_s, 0.0)));
  try {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      bool done;
      {
        py::gil_scoped_release release;
        done = work_->wait_for(std::clamp(left, std::chrono::milliseconds(0), kSlice));
      }
      if (done) break;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      CheckSignals(*work_);
    }
  } catch (...) {
    if (work_->test()) ReleaseBuffers();
    throw;
  }
  ReleaseBuffers();
  return true;
}

bool Handle::test() {
  if (!work_->test()) return false;
  ReleaseBuffers();
  return true;
}

void Handle::ReleaseBuffers() { buffers_.clear(); }

}  // namespace cohort::python
