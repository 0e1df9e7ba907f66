// Exception classes of cohort._C (see errors.h for the mapping).
#include "errors.h"

#include "runtime/base/errors.h"

namespace py = pybind11;

namespace cohort::python {

void RegisterExceptions(py::module_& m) {
  // Base first: pybind11 tries the most recently registered translator first, so the subclasses
  // registered below win for their own C++ types.
  py::handle base = py::register_exception<cohort::Error>(m, "CohortError", PyExc_RuntimeError);
  auto both = [&](PyObject* builtin) { return py::make_tuple(base, py::handle(builtin)); };
  py::register_exception<cohort::TimeoutError>(m, "CohortTimeoutError", both(PyExc_TimeoutError));
  py::register_exception<cohort::PeerError>(m, "CohortPeerError", both(PyExc_ConnectionError));
  py::register_exception<cohort::InvalidArgument>(m, "CohortValueError", both(PyExc_ValueError));
  py::register_exception<cohort::AuthError>(m, "CohortAuthError", both(PyExc_PermissionError));
  py::register_exception<cohort::UnsupportedError>(m, "CohortUnsupportedError",
                                                   both(PyExc_NotImplementedError));
}

void ThrowNotInitialized() {
  throw cohort::Error(StatusCode::kInvalidArgument,
                      "cohort is not initialized: call cohort.torch.init() (or cohort.init()) "
                      "first");
}

}  // namespace cohort::python
