// Fused optimizer steps over a flat parameter shard on the CPU: one pass reads the gradient and
// the state, updates parameters and state in place and writes the optional bf16/f16 model copy.
// The sharded optimizer and the parameter server use these for shards in host memory; the CUDA
// kernels (kernels/cuda/optimizer.h) compute the same expressions and are tested against them.
//
// Contract (see optimizer_params.h for the formulas, dtypes, alignment and aliasing rules):
// - Invalid input returns InvalidArgument and writes nothing.
// - A set found_nonfinite flag makes the call a no-op that returns Ok.
// - Single-threaded and synchronous; concurrent calls on disjoint shards are safe.
#pragma once

#include "kernels/cpu/optimizer_params.h"
#include "runtime/base/status.h"

namespace cohort::kernels {

// One SGD step. `momentum_buffer` (f32, shard.count elements) is required when momentum != 0 and
// ignored otherwise.
Status SgdStep(const SgdParams& params, const OptimizerShard& shard, float* momentum_buffer);

// One Adam / AdamW step. exp_avg and exp_avg_sq (f32) are required; max_exp_avg_sq only with
// amsgrad. State starts at zero, as PyTorch's does.
Status AdamStep(const AdamParams& params, const OptimizerShard& shard, float* exp_avg,
                float* exp_avg_sq, float* max_exp_avg_sq);

}  // namespace cohort::kernels
