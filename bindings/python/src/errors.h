// The Python exceptions of cohort._C and how C++ errors become them.
//
//   cohort::Error            -> CohortError            (RuntimeError)
//   cohort::TimeoutError     -> CohortTimeoutError     (CohortError, TimeoutError)
//   cohort::PeerError        -> CohortPeerError        (CohortError, ConnectionError)
//   cohort::InvalidArgument  -> CohortValueError       (CohortError, ValueError)
//   cohort::AuthError        -> CohortAuthError        (CohortError, PermissionError)
//   cohort::UnsupportedError -> CohortUnsupportedError (CohortError, NotImplementedError)
//
// Every exception carries the complete C++ message. `except cohort.CohortError` catches all of
// them, and each is also the builtin a Python user would expect (TimeoutError, ValueError, ...).
#pragma once

#include <pybind11/pybind11.h>

namespace cohort::python {

// Creates the exception classes in `m` and registers the C++ -> Python translation.
void RegisterExceptions(pybind11::module_& m);

// Throws CohortError: "cohort is not initialized: call cohort.torch.init() (or cohort.init())
// first".
[[noreturn]] void ThrowNotInitialized();

}  // namespace cohort::python
