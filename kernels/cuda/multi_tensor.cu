// Multi-tensor copy with scale and cast, and fusion-buffer pack/unpack built on it: one launch
// for any number of tensors (see multi_tensor.h for the contract, multi_tensor_table.cuh for
// how blocks find their tensor).
//
// Each block takes whole chunks (16384 elements). Within a chunk, each thread stores 16-byte
// vectors (4 f32 or 8 f16/bf16 elements) and loads what they are made from (8 bytes of bf16 for
// an unpack to f32, 32 bytes of f32 for a pack to bf16), several per thread in flight, from the
// first element where both sides are 16-byte aligned; the few elements before and after go one
// by one. A tensor whose source and destination can never be
// aligned together (their addresses differ by a non-multiple of 16 in the element phase) is
// copied element by element, still coalesced.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/multi_tensor.h"
#include "kernels/cuda/multi_tensor_table.cuh"

namespace cohort::kernels::cuda {
namespace detail {
namespace {

struct CopyParams {
  ChunkTable table;
  double scale;
};

// Same dtype, scale 1: bits move unchanged (T is an unsigned integer of the element's size).
struct RawOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T x) const {
    return x;
  }
};

// out = narrow(widen(in) * scale), NaN passing through unscaled (multi_tensor.h).
template <typename In, typename Out>
struct CastOp {
  Compute<In> scale;
  __device__ __forceinline__ Out operator()(In x) const {
    const Compute<In> wide = Widen(x);
    return Narrow<Out>(isnan(wide) ? wide : wide * scale);
  }
};

template <typename In, typename Out, typename Op>
__device__ __forceinline__ void CopyChunk(const In* src, Out* dst, uint64_t first, uint64_t last,
                                          uint32_t head, const Op& op) {
  // Elements per vector: 16 bytes of the output, so that each warp's store instruction writes
  // 512 contiguous bytes, whole 32-byte sectors. (Vectors of 16 bytes of the input made a
  // widening unpack store 32 bytes per thread as two 16-byte halves 32 bytes apart: each store
  // instruction then wrote half of 32 sectors, and bf16 -> f32 unpack reached 0.71-0.74 of copy
  // bandwidth on an H100 (2026-11-24) while packs, whose loads have that shape, reached 0.87+.)
  constexpr int V = static_cast<int>(16 / sizeof(Out));
  // Vectors per thread per pass: 64 bytes of loads in flight on the wider side. (Sizing by the
  // input side instead, for widening casts, measured slower on an H100 with the old vectors:
  // bf16 -> f32 unpack fell from 0.71 to 0.53 of copy bandwidth.)
  constexpr int U = static_cast<int>(64 / (V * (sizeof(In) > sizeof(Out) ? sizeof(In) : sizeof(Out))));
  constexpr int kScalarUnroll = 4;
  const uint32_t tid = threadIdx.x;
  if (head == kNoVector) {
    for (uint64_t i = first + tid; i < last; i += kScalarUnroll * kBlockThreads) {
      In x[kScalarUnroll] = {};
#pragma unroll
      for (int u = 0; u < kScalarUnroll; ++u) {
        if (i + u * kBlockThreads < last) x[u] = src[i + u * kBlockThreads];
      }
#pragma unroll
      for (int u = 0; u < kScalarUnroll; ++u) {
        if (i + u * kBlockThreads < last) dst[i + u * kBlockThreads] = op(x[u]);
      }
    }
    return;
  }
  // first is a multiple of kChunk (a multiple of V), so first + head is aligned on both sides.
  const uint64_t aligned = first + head < last ? first + head : last;
  const uint64_t vectors = (last - aligned) / V;
  const uint64_t tail = aligned + vectors * V;
  if (tid < aligned - first) dst[first + tid] = op(src[first + tid]);  // fewer than V < 256
  if (tid < last - tail) dst[tail + tid] = op(src[tail + tid]);
  const In* vsrc = src + aligned;
  Out* vdst = dst + aligned;
  for (uint64_t v = tid; v < vectors; v += U * kBlockThreads) {
    Vec<In, V> in[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (v + u * kBlockThreads < vectors) LoadVec(in[u], vsrc + (v + u * kBlockThreads) * V);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (v + u * kBlockThreads < vectors) {
        Vec<Out, V> out;
#pragma unroll
        for (int e = 0; e < V; ++e) out.v[e] = op(in[u].v[e]);
        StoreVec(vdst + (v + u * kBlockThreads) * V, out);
      }
    }
  }
}

template <typename In, typename Out, typename Op>
__global__ void __launch_bounds__(kBlockThreads)
    MultiTensorCopyKernel(const __grid_constant__ CopyParams p, const Op op) {
  const TensorEntry* entries = p.table.Entries();
  const uint64_t* begins = p.table.ChunkBegins();
  for (uint64_t c = blockIdx.x; c < p.table.total_chunks; c += gridDim.x) {
    const uint32_t t = FindTensor(begins, p.table.num_tensors, c);
    const TensorEntry e = entries[t];
    const uint64_t first = (c - begins[t]) * kChunk;
    const uint64_t last = first + kChunk < e.count ? first + kChunk : e.count;
    CopyChunk<In, Out>(static_cast<const In*>(e.src), static_cast<Out*>(e.dst), first, last,
                       e.head, op);
  }
}

template <typename In, typename Out, typename Op>
Status Launch(const CopyParams& p, const Op& op, int grid, cudaStream_t stream) {
  MultiTensorCopyKernel<In, Out, Op><<<grid, kBlockThreads, 0, stream>>>(p, op);
  COHORT_CUDA_RETURN_IF_LAUNCH_FAILED("MultiTensorCopyKernel");
  return Status::Ok();
}

template <typename F>
Status WithRawType(size_t element_size, F&& f) {
  switch (element_size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
  }
  return InternalError("multi-tensor copy: element size " + std::to_string(element_size));
}

template <typename F>
Status WithCastType(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kF32: return f(float{});
    case DataType::kF16: return f(F16{});
    case DataType::kBF16: return f(BF16{});
    default: break;
  }
  return InternalError("multi-tensor copy: no cast kernel for " +
                       std::string(DataTypeName(dtype)));
}

Status CopySegments(WorkspaceState& ws, std::span<const CopySegment> segments,
                    DataType src_dtype, DataType dst_dtype, double scale, cudaStream_t stream) {
  COHORT_RETURN_IF_ERROR(CheckCopyTypes(src_dtype, dst_dtype, scale));
  const size_t in_size = DataTypeSize(src_dtype);
  const size_t out_size = DataTypeSize(dst_dtype);
  const uint32_t per_vector = static_cast<uint32_t>(16 / std::min(in_size, out_size));
  const size_t sizes[2] = {in_size, out_size};
  ws.entries.clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    const CopySegment& s = segments[i];
    if (s.count == 0) continue;
    const uintptr_t src = reinterpret_cast<uintptr_t>(s.src);
    const uintptr_t dst = reinterpret_cast<uintptr_t>(s.dst);
    if (src == 0 || dst == 0 || src % in_size != 0 || dst % out_size != 0) {
      return InvalidArgumentError(
          "multi-tensor copy: segment " + std::to_string(i) + " (" + std::to_string(s.count) +
          " elements) has src " + std::to_string(src) + " and dst " + std::to_string(dst) +
          "; both must be non-null and aligned to their element size (" +
          std::to_string(in_size) + " and " + std::to_string(out_size) + " bytes)");
    }
    const void* pointers[2] = {s.src, s.dst};
    ws.entries.push_back(
        {s.src, s.dst, s.count, VectorHead(pointers, sizes, 2, per_vector), 0});
  }
  if (ws.entries.empty()) return Status::Ok();

  CopyParams p;
  p.scale = scale;
  COHORT_RETURN_IF_ERROR(BuildChunkTable(ws, ws.entries, p.table, stream));
  const int grid = ws.GridFor(p.table.total_chunks);
  // (A lambda, not `launched = ...`: nvcc warns that an assignment discards a [[nodiscard]]
  // Status& result.)
  const auto launch = [&]() -> Status {
    if (src_dtype == dst_dtype && scale == 1.0) {
      return WithRawType(in_size, [&](auto raw) {
        using T = decltype(raw);
        return Launch<T, T>(p, RawOp{}, grid, stream);
      });
    }
    if (src_dtype == DataType::kF64) {
      return Launch<double, double>(p, CastOp<double, double>{scale}, grid, stream);
    }
    return WithCastType(src_dtype, [&](auto in) {
      return WithCastType(dst_dtype, [&](auto out) {
        using In = decltype(in);
        using Out = decltype(out);
        return Launch<In, Out>(p, CastOp<In, Out>{static_cast<float>(scale)}, grid, stream);
      });
    });
  };
  const Status launched = launch();
  COHORT_RETURN_IF_ERROR(launched);
  return p.table.is_inline ? Status::Ok() : ws.MarkUsed(stream);
}

Status PackOrUnpack(MultiTensorWorkspace& workspace, bool pack, const void* buffer,
                    size_t buffer_count, DataType buffer_dtype,
                    std::span<const FusionEntry> tensors, DataType tensor_dtype, double scale,
                    void* stream) {
  COHORT_ASSIGN_OR_RETURN(WorkspaceState* ws, UsableState(workspace));
  const size_t buffer_size = DataTypeSize(buffer_dtype);
  ws->segments.clear();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const FusionEntry& entry = tensors[i];
    COHORT_RETURN_IF_ERROR(CheckFusionEntry(i, entry, buffer_count));
    if (entry.count == 0) continue;
    if (buffer == nullptr) return InvalidArgumentError("fusion buffer pointer is null");
    char* slot = const_cast<char*>(static_cast<const char*>(buffer)) + entry.offset * buffer_size;
    if (pack) {
      ws->segments.push_back({entry.tensor, slot, entry.count});
    } else {
      ws->segments.push_back({slot, entry.tensor, entry.count});
    }
  }
  // CopySegments reuses ws->entries, not ws->segments, so passing the latter is safe.
  return pack ? CopySegments(*ws, ws->segments, tensor_dtype, buffer_dtype, scale,
                             static_cast<cudaStream_t>(stream))
              : CopySegments(*ws, ws->segments, buffer_dtype, tensor_dtype, scale,
                             static_cast<cudaStream_t>(stream));
}

}  // namespace
}  // namespace detail

Status MultiTensorCopy(MultiTensorWorkspace& workspace, std::span<const CopySegment> segments,
                       DataType src_dtype, DataType dst_dtype, double scale, void* stream) {
  COHORT_ASSIGN_OR_RETURN(detail::WorkspaceState* ws, detail::UsableState(workspace));
  return detail::CopySegments(*ws, segments, src_dtype, dst_dtype, scale,
                              static_cast<cudaStream_t>(stream));
}

Status PackFusionBuffer(MultiTensorWorkspace& workspace, std::span<const FusionEntry> tensors,
                        DataType tensor_dtype, void* buffer, size_t buffer_count,
                        DataType buffer_dtype, double scale, void* stream) {
  return detail::PackOrUnpack(workspace, /*pack=*/true, buffer, buffer_count, buffer_dtype,
                              tensors, tensor_dtype, scale, stream);
}

Status UnpackFusionBuffer(MultiTensorWorkspace& workspace, const void* buffer,
                          size_t buffer_count, DataType buffer_dtype,
                          std::span<const FusionEntry> tensors, DataType tensor_dtype,
                          double scale, void* stream) {
  return detail::PackOrUnpack(workspace, /*pack=*/false, buffer, buffer_count, buffer_dtype,
                              tensors, tensor_dtype, scale, stream);
}

}  // namespace cohort::kernels::cuda
