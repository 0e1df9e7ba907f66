// CPU references for the multi-tensor CUDA kernels (kernels/cuda/multi_tensor.h): the same
// contract, argument checks and arithmetic, in plain C++ over host memory.
//
// The GPU tests compare against these: casts, copies and min/max bit for bit; sum/prod/avg bit
// for bit except NaN payloads (the GPU's arithmetic returns a canonical NaN); norms within a
// tight relative tolerance (summation order differs). They are written for speed where that is
// cheap (blocked loops, no per-element dispatch), so CPU paths may use them too. Pointers need
// no alignment here. Thread-compatible: calls share no state.
#pragma once

#include <cstddef>
#include <span>

#include "kernels/cuda/multi_tensor.h"
#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort::kernels::reference {

// dst_i = cast(src_i * scale) for every segment (see CheckCopyTypes for the dtype pairs).
Status MultiTensorCopy(std::span<const CopySegment> segments, DataType src_dtype,
                       DataType dst_dtype, double scale);

// Gathers tensors into a fusion buffer of `buffer_count` elements (PackFusionBuffer).
Status PackFusionBuffer(std::span<const FusionEntry> tensors, DataType tensor_dtype,
                        void* buffer, size_t buffer_count, DataType buffer_dtype, double scale);

// Scatters a fusion buffer back into tensors (UnpackFusionBuffer).
Status UnpackFusionBuffer(const void* buffer, size_t buffer_count, DataType buffer_dtype,
                          std::span<const FusionEntry> tensors, DataType tensor_dtype,
                          double scale);

// dst[i] = op(srcs[0][i], ..., srcs[k-1][i]); dst may alias a source exactly (ReduceK).
Status ReduceK(void* dst, std::span<const void* const> srcs, size_t count, DataType dtype,
               ReduceOp op);

// The L2 norm of all tensors and the non-finite flag; per-tensor norms into
// `per_tensor_norms` (host memory, one per tensor) unless it is null (MultiTensorL2Norm).
// Squares are summed in `accum_dtype` per chunk of kMultiTensorChunkElements, chunks in f64.
Result<L2NormResult> MultiTensorL2Norm(std::span<const NormTensor> tensors, DataType dtype,
                                       DataType accum_dtype, float* per_tensor_norms);

}  // namespace cohort::kernels::reference
