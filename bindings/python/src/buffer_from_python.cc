// DLPack and buffer-protocol import (see buffer_from_python.h).
#include "buffer_from_python.h"

#include <string>

#include "dlpack.h"
#include "runtime/base/errors.h"

namespace py = pybind11;

namespace cohort::python {
namespace {

constexpr const char* kSupported =
    "supported: float32, float64, float16, bfloat16, int8, uint8, int32, int64";

std::string Shape(const int64_t* values, int32_t ndim) {
  std::string out = "[";
  for (int32_t i = 0; i < ndim; ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

[[noreturn]] void ThrowBadType(const char* role, const std::string& type_name) {
  throw py::type_error(std::string(role) + " has dtype " + type_name +
                       ", which cohort cannot reduce or move; " + kSupported);
}

[[noreturn]] void ThrowNotContiguous(const char* role, const std::string& detail) {
  throw InvalidArgument(StatusCode::kInvalidArgument,
                        std::string(role) + ": tensor is not contiguous" + detail +
                            "; call .contiguous() (torch) or numpy.ascontiguousarray() first");
}

[[noreturn]] void ThrowReadOnly(const char* role) {
  throw InvalidArgument(StatusCode::kInvalidArgument,
                        std::string(role) +
                            " is read-only, but this operation writes "
                            "its result there; pass a writable array (e.g. numpy: arr.copy())");
}

DataType FromDlpackType(const DLDataType& t, const char* role) {
  if (t.lanes == 1) {
    switch (t.code) {
      case kDLFloat:
        if (t.bits == 32) return DataType::kF32;
        if (t.bits == 64) return DataType::kF64;
        if (t.bits == 16) return DataType::kF16;
        break;
      case kDLBfloat:
        if (t.bits == 16) return DataType::kBF16;
        break;
      case kDLInt:
        if (t.bits == 8) return DataType::kI8;
        if (t.bits == 32) return DataType::kI32;
        if (t.bits == 64) return DataType::kI64;
        break;
      case kDLUInt:
        if (t.bits == 8) return DataType::kU8;
        break;
      default:
        break;
    }
  }
  static const char* const kCodeNames[] = {"int",    "uint",    "float", "opaque",
                                           "bfloat", "complex", "bool"};
  std::string name = t.code < 7 ? kCodeNames[t.code] : "code" + std::to_string(t.code) + "_";
  if (t.code != kDLBool) name += std::to_string(t.bits);
  if (t.lanes != 1) name += "x" + std::to_string(t.lanes);
  ThrowBadType(role, name);
}

Device FromDlpackDevice(const DLDevice& d, const char* role) {
  switch (d.device_type) {
    case kDLCPU:
    case kDLCUDAHost:  // pinned host memory: ordinary CPU memory for us
      return Device::Cpu();
    case kDLCUDA:
    case kDLCUDAManaged:
      return Device::Cuda(d.device_id);
    default:
      throw UnsupportedError(StatusCode::kUnimplemented,
                             std::string(role) + " is on DLPack device type " +
                                 std::to_string(d.device_type) +
                                 "; cohort moves CPU and CUDA buffers only");
  }
}

ImportedBuffer FromDlpack(py::handle producer, py::object capsule, const char* role) {
  if (!PyCapsule_IsValid(capsule.ptr(), "dltensor")) {
    throw py::type_error(std::string(role) +
                         ": __dlpack__() did not return a \"dltensor\" "
                         "capsule (already consumed?)");
  }
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  // Consume per the DLPack Python protocol: from now on we, not the capsule, call the deleter.
  if (PyCapsule_SetName(capsule.ptr(), "used_dltensor") != 0) throw py::error_already_set();
  py::capsule owner(managed, [](void* p) {
    auto* m = static_cast<DLManagedTensor*>(p);
    if (m->deleter != nullptr) m->deleter(m);
  });
  ImportedBuffer out{{}, py::make_tuple(owner, producer)};

  const DLTensor& t = managed->dl_tensor;
  out.view.dtype = FromDlpackType(t.dtype, role);
  out.view.device = FromDlpackDevice(t.device, role);
  size_t count = 1;
  for (int32_t i = 0; i < t.ndim; ++i) count *= static_cast<size_t>(t.shape[i]);
  if (t.strides != nullptr && count > 1) {
    int64_t expected = 1;  // in elements; dimensions of extent 1 may carry any stride
    for (int32_t i = t.ndim - 1; i >= 0; --i) {
      if (t.shape[i] != 1 && t.strides[i] != expected) {
        ThrowNotContiguous(role, " (shape " + Shape(t.shape, t.ndim) + ", strides " +
                                     Shape(t.strides, t.ndim) + " elements)");
      }
      expected *= t.shape[i];
    }
  }
  out.view.count = count;
  out.view.data = static_cast<char*>(t.data) + t.byte_offset;
  return out;
}

DataType FromBufferFormat(const Py_buffer& b, const char* role) {
  std::string format = b.format != nullptr ? b.format : "B";
  char order = format.empty() ? '@' : format[0];
  if (order == '@' || order == '=' || order == '<' || order == '>' || order == '!') {
    format.erase(0, 1);
  }
  if (order == '>' || order == '!')
    ThrowBadType(role, "big-endian '" + std::string(b.format) + "'");
  if (format.size() == 1) {
    const char c = format[0];
    const auto size = b.itemsize;
    if (c == 'f' && size == 4) return DataType::kF32;
    if (c == 'd' && size == 8) return DataType::kF64;
    if (c == 'e' && size == 2) return DataType::kF16;
    if (c == '?') ThrowBadType(role, "bool");
    if (std::string("bhilqn").find(c) != std::string::npos) {
      if (size == 1) return DataType::kI8;
      if (size == 4) return DataType::kI32;
      if (size == 8) return DataType::kI64;
      ThrowBadType(role, "int" + std::to_string(size * 8));
    }
    if (std::string("BHILQN").find(c) != std::string::npos) {
      if (size == 1) return DataType::kU8;
      ThrowBadType(role, "uint" + std::to_string(size * 8));
    }
  }
  ThrowBadType(role, "'" + std::string(b.format ? b.format : "") + "' (buffer-protocol format)");
}

ImportedBuffer FromBufferProtocol(py::handle producer, Access access, const char* role) {
  auto* b = new Py_buffer();
  if (PyObject_GetBuffer(producer.ptr(), b, PyBUF_STRIDES | PyBUF_FORMAT) != 0) {
    delete b;
    throw py::error_already_set();
  }
  py::capsule owner(b, [](void* p) {
    auto* view = static_cast<Py_buffer*>(p);
    PyBuffer_Release(view);
    delete view;
  });
  ImportedBuffer out{{}, py::make_tuple(owner, producer)};
  if (access == Access::kWrite && b->readonly) ThrowReadOnly(role);
  out.view.dtype = FromBufferFormat(*b, role);
  if (!PyBuffer_IsContiguous(b, 'C')) ThrowNotContiguous(role, "");
  out.view.count = static_cast<size_t>(b->len / b->itemsize);
  out.view.data = b->buf;
  out.view.device = Device::Cpu();
  return out;
}

bool IsBoolDtype(py::handle obj) {
  if (!py::hasattr(obj, "dtype")) return false;
  const std::string name = py::str(obj.attr("dtype"));
  return name == "torch.bool" || name == "bool";
}

}  // namespace

ImportedBuffer ImportBuffer(py::handle obj, Access access, const char* role) {
  if (obj.is_none()) throw py::type_error(std::string(role) + " is None");
  // torch refuses to export bool through DLPack with a RuntimeError; say what is wrong instead.
  if (IsBoolDtype(obj)) ThrowBadType(role, "bool");
  py::object producer = py::reinterpret_borrow<py::object>(obj);
  // torch refuses to export tensors that require grad; .detach() shares the same memory.
  if (py::hasattr(producer, "requires_grad") && producer.attr("requires_grad").cast<bool>() &&
      py::hasattr(producer, "detach")) {
    producer = producer.attr("detach")();
  }
  if (py::hasattr(producer, "__dlpack__")) {
    py::object capsule;
    try {
      capsule = producer.attr("__dlpack__")();
    } catch (py::error_already_set& e) {
      // numpy refuses read-only and some strided arrays; the buffer protocol describes them.
      if (!e.matches(PyExc_BufferError) || !PyObject_CheckBuffer(producer.ptr())) throw;
      return FromBufferProtocol(producer, access, role);
    }
    return FromDlpack(producer, std::move(capsule), role);
  }
  if (PyObject_CheckBuffer(producer.ptr())) return FromBufferProtocol(producer, access, role);
  throw py::type_error(std::string(role) +
                       " must be a torch.Tensor, a numpy.ndarray or "
                       "another object with __dlpack__ or the buffer protocol; got " +
                       std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

}  // namespace cohort::python
