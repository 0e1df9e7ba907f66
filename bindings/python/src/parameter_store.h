// Registers cohort._C.ParameterStore and cohort._C.ShardedOptimizer (parameter_store.cc).
#pragma once

#include <pybind11/pybind11.h>

namespace cohort::python {

void DefParameterStore(pybind11::module_& m);

}  // namespace cohort::python
