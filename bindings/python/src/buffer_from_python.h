// Python objects -> cohort::BufferView, without copies.
//
// Accepts anything with `__dlpack__` (torch tensors, numpy arrays, ...) and, as a fallback, the
// Python buffer protocol (read-only numpy arrays, which numpy 1.24 refuses to export through
// DLPack; bytearray; memoryview). The memory must be C-contiguous; the element type one of
// float32/64/16, bfloat16, int8, uint8, int32, int64.
//
// Errors: an unsupported element type -> TypeError naming it; a non-contiguous or read-only
// (where written) buffer -> CohortValueError (a ValueError); a device other than CPU/CUDA ->
// CohortUnsupportedError. CUDA buffers convert to Device::Cuda(id); the communicator decides
// whether this build can move them.
//
// Ownership: ImportedBuffer::keep_alive owns the exporter's memory (the consumed DLPack tensor,
// whose deleter runs when keep_alive dies, or the Py_buffer) and a reference to the producer.
// Keep it until the collective that uses `view` has ended; destroy it with the GIL held.
#pragma once

#include <pybind11/pybind11.h>

#include "runtime/base/dtype.h"

namespace cohort::python {

enum class Access { kRead, kWrite };

struct ImportedBuffer {
  BufferView view;
  pybind11::object keep_alive;
};

// `role` names the argument in error messages ("send buffer", ...). Requires the GIL.
ImportedBuffer ImportBuffer(pybind11::handle obj, Access access, const char* role);

}  // namespace cohort::python
