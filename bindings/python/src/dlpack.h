// The stable ABI of DLPack, declared here so that the bindings need no extra dependency.
//
// Only what a consumer of CPU/CUDA tensors needs: the structs of DLPack v0.x ("unversioned"
// DLManagedTensor, the one torch 1.13 and numpy 1.24 hand out through `__dlpack__()`), laid out
// exactly as in dlpack/include/dlpack/dlpack.h (https://github.com/dmlc/dlpack, and the Python
// protocol at https://dmlc.github.io/dlpack/latest/python_spec.html). A producer returns a
// PyCapsule named "dltensor" holding a DLManagedTensor*; the consumer renames it "used_dltensor"
// and calls `deleter` once it no longer needs the memory.
#pragma once

#include <cstdint>

extern "C" {

enum DLDeviceType : int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
};

struct DLDevice {
  DLDeviceType device_type;
  int32_t device_id;
};

enum DLDataTypeCode : uint8_t {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
};

struct DLDataType {
  uint8_t code;    // a DLDataTypeCode
  uint8_t bits;    // bits per lane
  uint16_t lanes;  // 1 for every tensor cohort accepts
};

struct DLTensor {
  void* data;  // base pointer; the first element is at data + byte_offset
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;    // ndim entries
  int64_t* strides;  // ndim entries, in elements; nullptr means compact row-major
  uint64_t byte_offset;
};

struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

}  // extern "C"
