// Fused optimizer steps over a flat parameter shard on a CUDA device: one kernel launch per step
// reads gradient and state once, updates parameters and state in place and writes the optional
// bf16/f16 model copy, so the step moves the minimum bytes (AdamW f32: 28 per element).
//
// Contract (formulas, dtypes, alignment and aliasing in kernels/cpu/optimizer_params.h):
// - Every pointer in `shard` and the state is device memory of the current device (or managed
//   memory); found_nonfinite, when set, is read on the device, so the host never waits for it.
// - Asynchronous: the step is enqueued on `stream` (a cudaStream_t; nullptr is the legacy default
//   stream) and the function returns without waiting. Buffers must stay alive until it ran.
// - Invalid input returns InvalidArgument before anything is enqueued; a failed launch returns a
//   Status naming the call and CUDA's error text. Faults inside the kernel surface, as with any
//   CUDA work, at the next synchronising call on that stream.
// - Results equal kernels/cpu/optimizer.h's bit for bit in practice (same f32 constants, same
//   operation order, no fma contraction, IEEE division and sqrt); the tests allow 1e-6 relative.
// - Defined only in builds with CUDA (COHORT_HAVE_CUDA in cohort/build_config.h); such a build
//   still runs on hosts without a GPU, where cohort::cuda::DeviceCount() is 0.
#pragma once

#include "kernels/cpu/optimizer_params.h"
#include "runtime/base/status.h"

namespace cohort::kernels {

// One SGD step; `momentum_buffer` is required when momentum != 0.
Status SgdStepCuda(const SgdParams& params, const OptimizerShard& shard, float* momentum_buffer,
                   void* stream);

// One Adam / AdamW step; max_exp_avg_sq only with amsgrad.
Status AdamStepCuda(const AdamParams& params, const OptimizerShard& shard, float* exp_avg,
                    float* exp_avg_sq, float* max_exp_avg_sq, void* stream);

}  // namespace cohort::kernels
