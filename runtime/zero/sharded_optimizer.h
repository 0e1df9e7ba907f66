// ShardedOptimizer: ZeRO stages 1 and 2 over a communicator (DeepSpeed's partitioned optimizer).
// The parameters, a flat list of tensors, are laid end to end and cut into buckets; every bucket
// is split evenly over the ranks, and rank r owns slice r of each bucket: its f32 master copy and
// its optimizer state (momentum, or Adam's two moments) -- 1/N of the whole per rank.
//
// step(), after backward has filled the gradients on every rank:
//   1. per bucket, the gradients are packed and reduced across ranks (averaged): stage 2
//      reduce-scatters them, so a rank only ever holds its own slice of the reduced gradients;
//      stage 1 allreduces them into a full-size gradient buffer and uses its slice of it;
//   2. each rank updates its slice of the parameters and state with the fused CPU kernel
//      (kernels/cpu/optimizer.h), writing the bf16/f16 model copy for low-precision parameters;
//   3. an allgather of the updated slices refreshes every rank's parameters.
// Reductions are issued for every bucket before any update, so updates overlap communication.
// The result equals unsharded data-parallel training (allreduce, then the same optimizer on the
// whole) up to the order of floating-point sums.
//
// Buffers are host memory (f32, bf16 or f16; gradients in the parameters' dtype), all allocated
// once at construction. Collective: every rank constructs it over the same shapes and calls step()
// the same number of times. Not thread-safe. Errors are typed exceptions (InvalidArgument for bad
// buffers, and the communicator's own on failures).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/base/dtype.h"
#include "runtime/comm/communicator.h"
#include "runtime/optim/shard_optimizer.h"

namespace cohort {

struct ShardedOptimizerOptions {
  int stage = 2;                     // 1: optimizer state partitioned; 2: gradients too
  size_t bucket_bytes = 16u << 20;   // gradient bytes reduced per collective
};

class ShardedOptimizer {
 public:
  // params[i] and grads[i] describe the same tensor (same count and dtype); they must stay valid
  // for the optimizer's life. Every rank's parameters should start equal (broadcast them first):
  // each rank's master copy of its slice starts from its own values.
  ShardedOptimizer(Communicator& comm, std::vector<BufferView> params, std::vector<BufferView> grads,
                   const OptimizerSpec& optimizer, ShardedOptimizerOptions options = {});

  // One optimizer step (collective).
  void step();
  // Hyperparameter changes (the type and the state it keeps are fixed).
  void set_optimizer(const OptimizerSpec& optimizer);
  void set_learning_rate(double lr);
  const OptimizerSpec& optimizer() const { return state_.spec(); }
  int64_t steps() const { return state_.step(); }

  // Memory this rank holds, for the measurements ZeRO is about.
  size_t total_elements() const { return total_; }
  size_t partition_elements() const { return partition_; }   // this rank's slices (with padding)
  size_t state_bytes() const { return state_.state_bytes(); }  // optimizer state
  size_t master_bytes() const { return master_.size() * sizeof(float); }
  size_t gradient_bytes() const;   // reduced-gradient buffers (full size in stage 1)
  size_t staging_bytes() const;    // pack and gather buffers (bucket-sized)

 private:
  struct Bucket {
    size_t begin = 0, count = 0;  // flat elements
    size_t shard = 0;             // elements per rank (count rounded up to the ranks, divided)
    size_t master_offset = 0;     // of this rank's slice in master_
    size_t padded_offset = 0;     // of the bucket in the padded flat space (stage 1's buffer)
  };
  // Copies flat elements [begin, begin + count) between the tensors and a contiguous buffer.
  void Pack(const std::vector<BufferView>& tensors, size_t begin, size_t count, uint8_t* out) const;
  void Unpack(const uint8_t* in, size_t begin, size_t count, const std::vector<BufferView>& tensors) const;

  Communicator& comm_;
  std::vector<BufferView> params_, grads_;
  std::vector<size_t> offsets_;  // flat offset of each tensor
  DataType dtype_;
  size_t esize_;
  ShardedOptimizerOptions options_;
  size_t total_ = 0, partition_ = 0;
  std::vector<Bucket> buckets_;
  ShardOptimizer state_;
  std::vector<float> master_;                 // this rank's slices, f32
  std::vector<uint8_t> model_copy_;           // bf16/f16 parameters: this rank's slices, narrowed
  std::vector<std::vector<uint8_t>> packed_;  // one per bucket in flight: packed gradients
  std::vector<uint8_t> reduced_;              // stage 2: every bucket's reduced slice; stage 1: all
  std::vector<std::vector<uint8_t>> gathered_;  // allgather targets, one per bucket in flight
  std::vector<WorkPtr> reductions_, gathers_;   // step()'s handles, kept to reuse their storage
};

}  // namespace cohort
