// Portable kernels: the generic loops compiled for the baseline ISA (SSE2 on x86-64).
#include "kernels/cpu/generic_loops.h"

namespace cohort::kernels::detail {

KernelTable PortableKernels() { return GenericKernels("portable"); }

}  // namespace cohort::kernels::detail
