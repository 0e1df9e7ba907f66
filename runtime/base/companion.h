// Companion libraries: parts of cohort that link something libcohort must not depend on (MPI,
// UCX) live in their own shared libraries next to libcohort and are loaded at run time, so the
// same libcohort runs on hosts without them.
#pragma once

#include <string>

#include "runtime/base/status.h"

namespace cohort {

// Loads `library` (a file name such as "libcohort_ucx.so") from libcohort's own folder, else
// through the dynamic loader's search path, and returns the address of `symbol` in it. The
// error names every path tried and what the loader said about each.
Result<void*> LoadCompanionSymbol(const std::string& library, const char* symbol);

}  // namespace cohort
