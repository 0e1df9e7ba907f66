// Multi-tensor fused CUDA kernels: pack/unpack of a fusion buffer with scale and cast, reduction
// of k buffers into one, and the L2 norm of a list of tensors (gradient clipping).
//
// Contract shared by the GPU kernels (kernels/cuda/*.cu) and their CPU references
// (kernels/cpu/multi_tensor_reference.h), which the tests compare bit for bit where the
// arithmetic allows it:
//   - Casts go through f32: f16/bf16 widen exactly, the result rounds to nearest-even once, NaN
//     stays NaN (payload's top bits kept, quiet bit set) exactly as kernels/cpu/half.h does.
//   - Scaling computes out = in * scale in f32 (f64 for f64 data); a NaN input passes through
//     unscaled, so NaN payloads survive the scale.
//   - Every pointer is device memory of the current device, aligned to its element size (not
//     necessarily to 16 bytes: misaligned tensors take a slower scalar path), and ranges that
//     are written never partially overlap ranges that are read.
//
// Launches: each call enqueues its work on `stream` (a cudaStream_t passed as void*; nullptr is
// the legacy default stream) and returns without waiting for the device. Pack, unpack and
// multi-tensor copy are one kernel launch whatever the number of tensors; the L2 norm is one, and
// a second when per-tensor norms are asked for.
//
// Workspace: a MultiTensorWorkspace holds the device-side tensor table and the norm's partial
// sums, allocated on first use and grown (never shrunk) as needed, then reused. Lists of at
// most 48 tensors travel inside the kernel parameters and never touch the table. Calls that
// share a workspace must be ordered on the device (the same stream, or streams the caller
// orders); concurrent streams need one workspace each. Objects are not thread-safe.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort::kernels {

// Elements per unit of work: each tensor is cut into chunks of this many elements, and blocks
// take chunks from the flattened list of every tensor's chunks.
inline constexpr size_t kMultiTensorChunkElements = 16384;
// Most inputs ReduceK takes (their pointers travel in the kernel parameters).
inline constexpr size_t kMaxReduceInputs = 16;

// Copy `count` elements from src to dst (converting dtypes as the call says).
struct CopySegment {
  const void* src = nullptr;
  void* dst = nullptr;
  size_t count = 0;
};

// One tensor's place in a fusion buffer: `count` elements at `tensor`, stored at element
// `offset` of the buffer (in elements of the buffer's dtype). Pack reads `tensor`, unpack
// writes it.
struct FusionEntry {
  void* tensor = nullptr;
  size_t count = 0;
  size_t offset = 0;
};

// One input of the multi-tensor L2 norm.
struct NormTensor {
  const void* data = nullptr;
  size_t count = 0;
};

// What MultiTensorL2Norm writes (to device memory): the norm over every element of every
// tensor, and whether any element was NaN or +-Inf. With f32 accumulation a finite input can
// still overflow to an infinite norm (|x| > ~1.8e19); non_finite stays 0 then.
struct L2NormResult {
  double norm = 0;            // sqrt(sum_of_squares)
  double sum_of_squares = 0;
  uint32_t non_finite = 0;    // 1 when any input element was NaN or Inf, else 0
  uint32_t reserved = 0;
};

// Which dtype pairs a multi-tensor copy supports: any dtype to itself with scale 1 (a bitwise
// copy), casts among f32, f16 and bf16 with any finite scale, and f64 to f64 with any finite
// scale.
inline Status CheckCopyTypes(DataType src, DataType dst, double scale) {
  if (!std::isfinite(scale)) {
    return InvalidArgumentError("multi-tensor copy: scale " + std::to_string(scale) +
                                " is not finite");
  }
  if (src == dst && scale == 1.0) return Status::Ok();
  const auto castable = [](DataType t) {
    return t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16;
  };
  if ((castable(src) && castable(dst)) || (src == DataType::kF64 && dst == DataType::kF64)) {
    return Status::Ok();
  }
  return UnimplementedError(
      "multi-tensor copy from " + std::string(DataTypeName(src)) + " to " +
      std::string(DataTypeName(dst)) + " with scale " + std::to_string(scale) +
      " is not supported: casts are among f32, f16 and bf16, f64 scales only to f64, and other "
      "dtypes copy to themselves with scale 1");
}

// Entry `index` of a pack/unpack must lie inside the fusion buffer of `buffer_count` elements.
inline Status CheckFusionEntry(size_t index, const FusionEntry& entry, size_t buffer_count) {
  if (entry.offset > buffer_count || entry.count > buffer_count - entry.offset) {
    return InvalidArgumentError("fusion buffer entry " + std::to_string(index) +
                                ": elements [" + std::to_string(entry.offset) + ", " +
                                std::to_string(entry.offset) + " + " +
                                std::to_string(entry.count) + ") run past the buffer's " +
                                std::to_string(buffer_count) + " elements");
  }
  if (entry.count > 0 && entry.tensor == nullptr) {
    return InvalidArgumentError("fusion buffer entry " + std::to_string(index) + " has " +
                                std::to_string(entry.count) + " elements but a null tensor");
  }
  return Status::Ok();
}

// ReduceK takes 1..16 inputs of a floating-point dtype and any op (avg divides the sum by k).
inline Status CheckReduceKArgs(size_t k, DataType dtype, ReduceOp op) {
  if (k == 0 || k > kMaxReduceInputs) {
    return InvalidArgumentError("reduce-k: " + std::to_string(k) + " inputs; expected 1 to " +
                                std::to_string(kMaxReduceInputs) + " (reduce in several calls)");
  }
  if (!IsFloatingPoint(dtype)) {
    return UnimplementedError("reduce-k of dtype " + std::string(DataTypeName(dtype)) + " (op " +
                              std::string(ReduceOpName(op)) +
                              ") is not supported; use f32, f64, f16 or bf16");
  }
  return Status::Ok();
}

// The L2 norm reads f32, f64, f16 or bf16 and accumulates in f32 or f64.
inline Status CheckL2NormTypes(DataType dtype, DataType accum_dtype) {
  if (!IsFloatingPoint(dtype)) {
    return UnimplementedError("L2 norm of dtype " + std::string(DataTypeName(dtype)) +
                              " is not supported; use f32, f64, f16 or bf16");
  }
  if (accum_dtype != DataType::kF32 && accum_dtype != DataType::kF64) {
    return InvalidArgumentError("L2 norm accumulation dtype " +
                                std::string(DataTypeName(accum_dtype)) + "; expected f32 or f64");
  }
  return Status::Ok();
}

namespace cuda {

namespace detail {
struct WorkspaceState;
}

// Device-side scratch for multi-tensor calls on one device (see the file comment). Creating it
// allocates nothing on the device; the first calls do, and Reserve can do it up front. Growth
// waits for the workspace's previous work on the device to finish.
class MultiTensorWorkspace {
 public:
  // A workspace for CUDA device `device`; calls must run with that device current.
  static Result<MultiTensorWorkspace> Create(int device);
  MultiTensorWorkspace();
  MultiTensorWorkspace(MultiTensorWorkspace&&) noexcept;
  MultiTensorWorkspace& operator=(MultiTensorWorkspace&&) noexcept;
  MultiTensorWorkspace(const MultiTensorWorkspace&) = delete;
  MultiTensorWorkspace& operator=(const MultiTensorWorkspace&) = delete;
  // Waits for the workspace's last enqueued use, then frees its memory.
  ~MultiTensorWorkspace();

  int device() const;
  // Allocates for calls of up to `tensors` tensors and `chunks` total chunks (see
  // kMultiTensorChunkElements), so that such calls never allocate or wait.
  Status Reserve(size_t tensors, size_t chunks);

  detail::WorkspaceState* state() const { return state_.get(); }

 private:
  std::unique_ptr<detail::WorkspaceState> state_;
};

// dst_i = cast(src_i * scale) for every segment, in one kernel launch. Segments with count 0
// are skipped (their pointers may be null).
Status MultiTensorCopy(MultiTensorWorkspace& workspace, std::span<const CopySegment> segments,
                       DataType src_dtype, DataType dst_dtype, double scale, void* stream);

// buffer[offset_i ...] = cast(tensor_i * scale): gathers tensors into a fusion buffer of
// `buffer_count` elements. Elements of the buffer that no tensor covers are left unchanged.
Status PackFusionBuffer(MultiTensorWorkspace& workspace, std::span<const FusionEntry> tensors,
                        DataType tensor_dtype, void* buffer, size_t buffer_count,
                        DataType buffer_dtype, double scale, void* stream);

// tensor_i = cast(buffer[offset_i ...] * scale): scatters a fusion buffer back into tensors.
Status UnpackFusionBuffer(MultiTensorWorkspace& workspace, const void* buffer,
                          size_t buffer_count, DataType buffer_dtype,
                          std::span<const FusionEntry> tensors, DataType tensor_dtype,
                          double scale, void* stream);

// dst[i] = op(srcs[0][i], ..., srcs[k-1][i]) for 1 <= k <= 16 inputs, one launch, no
// workspace. f16/bf16 accumulate in f32 and round once; sources combine in order
// (((s0 op s1) op s2) ...); avg is that sum divided by k; min/max return the first NaN met.
// dst may alias any source exactly.
Status ReduceK(void* dst, std::span<const void* const> srcs, size_t count, DataType dtype,
               ReduceOp op, void* stream);

// Writes the L2 norm of all tensors to `result` (device memory) and, when `per_tensor_norms`
// (device memory, one float per tensor) is not null, each tensor's own norm. Squares are
// summed in `accum_dtype` (f32 or f64) within each chunk; chunk sums combine in f64 in a fixed
// order, so the result does not depend on the launch configuration. Two launches; an empty
// list gives norm 0.
Status MultiTensorL2Norm(MultiTensorWorkspace& workspace, std::span<const NormTensor> tensors,
                         DataType dtype, DataType accum_dtype, L2NormResult* result,
                         float* per_tensor_norms, void* stream);

// Copies an L2NormResult from device memory after the work on `stream` finished (waits for
// `stream`).
Result<L2NormResult> CopyL2NormToHost(const L2NormResult* device_result, void* stream);

}  // namespace cuda
}  // namespace cohort::kernels
