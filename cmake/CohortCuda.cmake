# CUDA language and toolkit when COHORT_HAVE_CUDA (see CohortOptions.cmake).
# Kernels are built as sm_80 and sm_90 machine code plus compute_90 PTX, so Ampere and Hopper run
# native code and newer GPUs JIT the PTX. The CUDA runtime is linked statically (see the root).
if(NOT COHORT_HAVE_CUDA)
  return()
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 90-virtual)
endif()
set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
enable_language(CUDA)
# CMake 3.25 does not know nvcc's C++20 flag (nvcc has it since 12.0), so tell it.
set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
find_package(CUDAToolkit REQUIRED)

# cohort_cuda_headers(target): host C++ code that calls the CUDA runtime API (no nvcc needed).
function(cohort_cuda_headers target)
  target_include_directories(${target} PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
endfunction()
