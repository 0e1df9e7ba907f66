# Resolves the AUTO/ON/OFF feature options into COHORT_HAVE_* variables.
# AUTO: on when the dependency is found. ON: an error when it is not. OFF: never looked for.

function(cohort_resolve_feature option found what)
  if(${option} STREQUAL "OFF")
    set(_have OFF)
  elseif(${found})
    set(_have ON)
  elseif(${option} STREQUAL "ON")
    message(FATAL_ERROR "${option}=ON but ${what} was not found; install it or set ${option}=OFF")
  else()
    set(_have OFF)
  endif()
  string(REPLACE "COHORT_WITH_" "COHORT_HAVE_" _have_var ${option})
  set(${_have_var} ${_have} PARENT_SCOPE)
endfunction()

# CUDA: nvcc on PATH or under /usr/local/cuda.
set(_cuda_found OFF)
if(NOT COHORT_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_cuda_found ON)
  endif()
endif()
cohort_resolve_feature(COHORT_WITH_CUDA _cuda_found "a CUDA compiler (nvcc)")

# UCX: Debian's libucx-dev ships a CMake package.
set(_ucx_found OFF)
if(NOT COHORT_WITH_UCX STREQUAL "OFF")
  find_package(ucx QUIET)
  if(ucx_FOUND)
    set(_ucx_found ON)
  endif()
endif()
cohort_resolve_feature(COHORT_WITH_UCX _ucx_found "UCX (libucx-dev)")

# MPI: for bootstrap under mpirun and for the benchmark baselines.
set(_mpi_found OFF)
if(NOT COHORT_WITH_MPI STREQUAL "OFF")
  find_package(MPI QUIET COMPONENTS C)
  if(MPI_C_FOUND)
    set(_mpi_found ON)
  endif()
endif()
cohort_resolve_feature(COHORT_WITH_MPI _mpi_found "MPI (libopenmpi-dev)")

# NCCL: only its header is needed at build time; libnccl.so.2 is loaded at run time. Looked for
# under NCCL_HOME, the CUDA toolkit, the system, and a Python environment's nvidia-nccl wheel.
# The backend drives CUDA streams, so it needs CUDA too.
set(_nccl_found OFF)
if(NOT COHORT_WITH_NCCL STREQUAL "OFF" AND COHORT_HAVE_CUDA)
  set(_nccl_hints $ENV{NCCL_HOME}/include /usr/local/cuda/include /usr/include)
  foreach(_python python3 /usr/bin/python3)
    execute_process(COMMAND ${_python} -c
        "import nvidia.nccl as n; print(list(n.__path__)[0] + '/include')"
      OUTPUT_VARIABLE _wheel_include OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_wheel_include)
      list(APPEND _nccl_hints ${_wheel_include})
    endif()
  endforeach()
  find_path(COHORT_NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints})
  if(COHORT_NCCL_INCLUDE_DIR)
    set(_nccl_found ON)
  endif()
endif()
cohort_resolve_feature(COHORT_WITH_NCCL _nccl_found "nccl.h (set NCCL_HOME) and CUDA")
