// ReduceK: dst = op(src_0, ..., src_{k-1}) for up to 16 float buffers in one launch (contract
// in multi_tensor.h).
//
// The k source pointers travel in the kernel parameters; __grid_constant__ lets the kernel
// index them with a run-time k without copying the array to local memory. Each thread takes
// two 16-byte vectors per pass and loads them from every source before it stores, so dst may
// alias any source exactly and 2k loads are in flight. The arithmetic follows
// kernels/cpu/reference.cc operation for operation (same order, f32 for f16/bf16, one
// rounding), so results match the CPU reference bit for bit except for NaN payloads of
// sum/prod/avg (the GPU returns a canonical NaN).
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/multi_tensor.h"
#include "kernels/cuda/multi_tensor_table.cuh"

namespace cohort::kernels::cuda {
namespace detail {
namespace {

struct ReduceKParams {
  const void* src[kMaxReduceInputs];
  void* dst;
  uint64_t count;
  uint32_t k;
  uint32_t head;  // first element where every pointer is 16-byte aligned, or kNoVector
};

template <typename T, ReduceOp Op>
__device__ __forceinline__ Compute<T> Finish(Compute<T> acc, uint32_t k) {
  if constexpr (Op == ReduceOp::kAvg) {
    return acc / static_cast<Compute<T>>(k);
  } else {
    return acc;
  }
}

template <typename T, ReduceOp Op>
__device__ __forceinline__ void ReduceElement(const ReduceKParams& p, uint64_t i) {
  Compute<T> acc = Widen(static_cast<const T*>(p.src[0])[i]);
  for (uint32_t j = 1; j < p.k; ++j) {
    acc = Combine<Op>(acc, Widen(static_cast<const T*>(p.src[j])[i]));
  }
  static_cast<T*>(p.dst)[i] = Narrow<T>(Finish<T, Op>(acc, p.k));
}

template <typename T, ReduceOp Op>
__global__ void __launch_bounds__(kBlockThreads)
    ReduceKKernel(const __grid_constant__ ReduceKParams p) {
  using C = Compute<T>;
  constexpr int V = static_cast<int>(16 / sizeof(T));
  constexpr int U = 2;
  const uint64_t threads = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  const uint64_t tid = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p.head == kNoVector) {
    for (uint64_t i = tid; i < p.count; i += threads) ReduceElement<T, Op>(p, i);
    return;
  }
  const uint64_t aligned = p.head < p.count ? p.head : p.count;
  const uint64_t vectors = (p.count - aligned) / V;
  const uint64_t tail = aligned + vectors * V;
  if (tid < aligned) ReduceElement<T, Op>(p, tid);  // fewer than V elements on either side
  if (tid < p.count - tail) ReduceElement<T, Op>(p, tail + tid);
  for (uint64_t v = tid; v < vectors; v += U * threads) {
    C acc[U][V];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (v + u * threads < vectors) {
        Vec<T, V> x;
        LoadVec(x, static_cast<const T*>(p.src[0]) + aligned + (v + u * threads) * V);
#pragma unroll
        for (int e = 0; e < V; ++e) acc[u][e] = Widen(x.v[e]);
      }
    }
#pragma unroll 4
    for (uint32_t j = 1; j < p.k; ++j) {
      const T* src = static_cast<const T*>(p.src[j]) + aligned;
#pragma unroll
      for (int u = 0; u < U; ++u) {
        if (v + u * threads < vectors) {
          Vec<T, V> x;
          LoadVec(x, src + (v + u * threads) * V);
#pragma unroll
          for (int e = 0; e < V; ++e) acc[u][e] = Combine<Op>(acc[u][e], Widen(x.v[e]));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (v + u * threads < vectors) {
        Vec<T, V> out;
#pragma unroll
        for (int e = 0; e < V; ++e) out.v[e] = Narrow<T>(Finish<T, Op>(acc[u][e], p.k));
        StoreVec(static_cast<T*>(p.dst) + aligned + (v + u * threads) * V, out);
      }
    }
  }
}

template <typename T, ReduceOp Op>
Status Launch(const ReduceKParams& p, int sm_count, cudaStream_t stream) {
  constexpr uint64_t V = 16 / sizeof(T);
  const uint64_t items = p.head == kNoVector ? p.count : (p.count + V - 1) / V;
  const uint64_t wanted = (items + 2 * kBlockThreads - 1) / (2 * kBlockThreads);
  const uint64_t most = static_cast<uint64_t>(std::max(sm_count, 1)) * kBlocksPerSm;
  const int grid = static_cast<int>(std::clamp<uint64_t>(wanted, 1, most));
  ReduceKKernel<T, Op><<<grid, kBlockThreads, 0, stream>>>(p);
  COHORT_CUDA_RETURN_IF_LAUNCH_FAILED("ReduceKKernel");
  return Status::Ok();
}

template <typename T>
Status LaunchForOp(ReduceOp op, const ReduceKParams& p, int sm_count, cudaStream_t stream) {
  switch (op) {
    case ReduceOp::kSum: return Launch<T, ReduceOp::kSum>(p, sm_count, stream);
    case ReduceOp::kProd: return Launch<T, ReduceOp::kProd>(p, sm_count, stream);
    case ReduceOp::kMin: return Launch<T, ReduceOp::kMin>(p, sm_count, stream);
    case ReduceOp::kMax: return Launch<T, ReduceOp::kMax>(p, sm_count, stream);
    case ReduceOp::kAvg: return Launch<T, ReduceOp::kAvg>(p, sm_count, stream);
  }
  return InternalError("reduce-k: unknown op");
}

bool PartiallyOverlap(const void* a, const void* b, size_t bytes) {
  const uintptr_t x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x != y && x < y + bytes && y < x + bytes;
}

}  // namespace
}  // namespace detail

Status ReduceK(void* dst, std::span<const void* const> srcs, size_t count, DataType dtype,
               ReduceOp op, void* stream) {
  COHORT_RETURN_IF_ERROR(CheckReduceKArgs(srcs.size(), dtype, op));
  if (count == 0) return Status::Ok();
  const size_t size = DataTypeSize(dtype);
  const size_t bytes = count * size;
  detail::ReduceKParams p{};
  p.dst = dst;
  p.count = count;
  p.k = static_cast<uint32_t>(srcs.size());
  const void* pointers[kMaxReduceInputs + 1];
  size_t sizes[kMaxReduceInputs + 1];
  for (size_t j = 0; j <= srcs.size(); ++j) {
    const void* ptr = j < srcs.size() ? srcs[j] : dst;
    const std::string name = j < srcs.size() ? "source " + std::to_string(j) : "dst";
    if (ptr == nullptr || reinterpret_cast<uintptr_t>(ptr) % size != 0) {
      return InvalidArgumentError("reduce-k of " + std::to_string(count) + " " +
                                  std::string(DataTypeName(dtype)) + " elements: " + name +
                                  " is null or not aligned to " + std::to_string(size) +
                                  " bytes");
    }
    if (j < srcs.size()) {
      p.src[j] = ptr;
      if (detail::PartiallyOverlap(ptr, dst, bytes)) {
        return InvalidArgumentError("reduce-k: " + name +
                                    " partially overlaps dst; dst may only alias a source "
                                    "exactly");
      }
    }
    pointers[j] = ptr;
    sizes[j] = size;
  }
  p.head = detail::VectorHead(pointers, sizes, srcs.size() + 1, static_cast<uint32_t>(16 / size));

  int device = 0, sm_count = 0;
  COHORT_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  COHORT_CUDA_RETURN_IF_ERROR(
      cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DataType::kF32: return detail::LaunchForOp<float>(op, p, sm_count, s);
    case DataType::kF64: return detail::LaunchForOp<double>(op, p, sm_count, s);
    case DataType::kF16: return detail::LaunchForOp<detail::F16>(op, p, sm_count, s);
    case DataType::kBF16: return detail::LaunchForOp<detail::BF16>(op, p, sm_count, s);
    default: break;
  }
  return InternalError("reduce-k: no kernel for " + std::string(DataTypeName(dtype)));
}

}  // namespace cohort::kernels::cuda
