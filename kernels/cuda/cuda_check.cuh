// CUDA error codes to cohort::Status, for the kernels' host code (private to kernels/cuda; the
// .cuh suffix keeps it out of the installed headers, which must not need CUDA's).
//
// The message names the failed call and keeps CUDA's own name and text for the error.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "runtime/base/status.h"

namespace cohort::kernels::cuda::detail {

inline Status CudaStatus(const char* call, cudaError_t error) {
  std::string message = std::string(call) + " failed: " + cudaGetErrorName(error) + " (" +
                        cudaGetErrorString(error) + ")";
  switch (error) {
    case cudaErrorInvalidValue:
    case cudaErrorInvalidDevicePointer:
    case cudaErrorInvalidResourceHandle:
    case cudaErrorInvalidDevice:
      return InvalidArgumentError(std::move(message));
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorDevicesUnavailable:
    case cudaErrorMemoryAllocation:
      return UnavailableError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

}  // namespace cohort::kernels::cuda::detail

// Returns a Status naming `call` from the enclosing function when the CUDA call failed.
#define COHORT_CUDA_RETURN_IF_ERROR(call)                                     \
  do {                                                                        \
    const cudaError_t _cohort_cuda_error = (call);                            \
    if (_cohort_cuda_error != cudaSuccess) {                                  \
      return ::cohort::kernels::cuda::detail::CudaStatus(#call, _cohort_cuda_error); \
    }                                                                         \
  } while (0)

// After a <<<...>>> launch (`what` is a string literal naming the kernel): a bad configuration
// or a missing kernel image for this GPU shows up here.
#define COHORT_CUDA_RETURN_IF_LAUNCH_FAILED(what)                                         \
  do {                                                                                    \
    const cudaError_t _cohort_launch_error = cudaGetLastError();                          \
    if (_cohort_launch_error != cudaSuccess) {                                            \
      return ::cohort::kernels::cuda::detail::CudaStatus("launch of " what, _cohort_launch_error); \
    }                                                                                     \
  } while (0)
