#include "runtime/zero/sharded_optimizer.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cpu/reduce.h"
#include "runtime/base/errors.h"

namespace cohort {
namespace {

// Buckets whose reduction and allgather may be in flight at once (their buffers alternate).
constexpr size_t kInFlight = 2;

std::string Where(const Communicator& comm) { return "ShardedOptimizer on rank " + std::to_string(comm.rank()); }

}  // namespace

ShardedOptimizer::ShardedOptimizer(Communicator& comm, std::vector<BufferView> params,
                                   std::vector<BufferView> grads, const OptimizerSpec& optimizer,
                                   ShardedOptimizerOptions options)
    : comm_(comm), params_(std::move(params)), grads_(std::move(grads)), options_(options) {
  const std::string where = Where(comm);
  if (params_.empty() || params_.size() != grads_.size()) {
    ThrowIfError(InvalidArgumentError(where + ": " + std::to_string(params_.size()) + " parameters and " +
                                      std::to_string(grads_.size()) + " gradients (need one gradient per parameter)"));
  }
  if (options_.stage != 1 && options_.stage != 2) {
    ThrowIfError(InvalidArgumentError(where + ": ZeRO stage " + std::to_string(options_.stage) +
                                      " is not supported (1: optimizer state, 2: also gradients)"));
  }
  if (optimizer.type == OptimizerType::kAggregate) {
    ThrowIfError(InvalidArgumentError(where + ": needs an optimizer (sgd, adam, adamw), not aggregate"));
  }
  dtype_ = params_[0].dtype;
  esize_ = DataTypeSize(dtype_);
  for (size_t i = 0; i < params_.size(); ++i) {
    const BufferView &p = params_[i], &g = grads_[i];
    std::string problem;
    if (p.dtype != dtype_ || g.dtype != dtype_) problem = "dtypes differ (all parameters and gradients share one)";
    else if (p.count != g.count) problem = "the gradient has " + std::to_string(g.count) + " elements, the parameter " + std::to_string(p.count);
    else if (!p.device.is_cpu() || !g.device.is_cpu()) problem = "is not in host memory (CUDA tensors are not supported yet)";
    else if (p.count > 0 && (p.data == nullptr || g.data == nullptr)) problem = "is null";
    if (!problem.empty()) ThrowIfError(InvalidArgumentError(where + ": tensor " + std::to_string(i) + ": " + problem));
    offsets_.push_back(total_);
    total_ += p.count;
  }
  if (dtype_ != DataType::kF32 && dtype_ != DataType::kBF16 && dtype_ != DataType::kF16) {
    ThrowIfError(InvalidArgumentError(where + ": dtype " + std::string(DataTypeName(dtype_)) +
                                      " is not supported (f32, bf16 or f16)"));
  }

  // Every rank must describe the same model, or the collectives below would not match.
  int64_t mine[4] = {static_cast<int64_t>(total_), static_cast<int64_t>(dtype_), options_.stage,
                     static_cast<int64_t>(options_.bucket_bytes)};
  std::vector<int64_t> all(4 * static_cast<size_t>(comm.size()));
  comm.allgather({mine, 4, DataType::kI64}, {all.data(), all.size(), DataType::kI64});
  for (int r = 0; r < comm.size(); ++r) {
    const int64_t* theirs = &all[4 * static_cast<size_t>(r)];
    if (!std::equal(mine, mine + 4, theirs)) {
      ThrowIfError(InvalidArgumentError(
          where + " has " + std::to_string(mine[0]) + " " + std::string(DataTypeName(dtype_)) +
          " elements (stage " + std::to_string(mine[2]) + ", bucket " + std::to_string(mine[3]) +
          " bytes) but rank " + std::to_string(r) + " has " + std::to_string(theirs[0]) +
          " (stage " + std::to_string(theirs[2]) + ", bucket " + std::to_string(theirs[3]) + ")"));
    }
  }

  const size_t ranks = static_cast<size_t>(comm.size()), me = static_cast<size_t>(comm.rank());
  const size_t per_bucket = std::max<size_t>(options_.bucket_bytes / esize_, 1);
  size_t padded_total = 0;
  for (size_t begin = 0; begin < total_; begin += per_bucket) {
    Bucket b;
    b.begin = begin;
    b.count = std::min(per_bucket, total_ - begin);
    b.shard = (b.count + ranks - 1) / ranks;
    b.master_offset = partition_;
    b.padded_offset = padded_total;
    partition_ += b.shard;
    padded_total += b.shard * ranks;
    buckets_.push_back(b);
  }
  state_ = ValueOrThrow(ShardOptimizer::Make(optimizer, partition_, where));

  // The master copy of this rank's slices starts from its own parameters (padding stays 0).
  master_.assign(partition_, 0.0f);
  std::vector<uint8_t> slice;
  for (const Bucket& b : buckets_) {
    const size_t from = b.begin + me * b.shard;
    const size_t n = from >= b.begin + b.count ? 0 : std::min(b.shard, b.begin + b.count - from);
    slice.assign(n * esize_, 0);
    Pack(params_, from, n, slice.data());
    float* out = master_.data() + b.master_offset;
    const auto* halves = reinterpret_cast<const uint16_t*>(slice.data());
    if (dtype_ == DataType::kF32) {
      std::memcpy(out, slice.data(), n * sizeof(float));
    } else if (dtype_ == DataType::kBF16) {
      kernels::BFloat16ToFloat(out, halves, n);
    } else {
      kernels::HalfToFloat(out, halves, n);
    }
  }
  if (dtype_ != DataType::kF32) model_copy_.assign(partition_ * esize_, 0);
  const size_t largest = buckets_.empty() ? 0 : std::max_element(buckets_.begin(), buckets_.end(),
                                                   [](const Bucket& a, const Bucket& b) { return a.shard < b.shard; })->shard;
  const size_t in_flight = std::min(kInFlight, buckets_.size());
  gathered_.assign(in_flight, std::vector<uint8_t>(largest * ranks * esize_));
  if (options_.stage == 2) {
    packed_.assign(in_flight, std::vector<uint8_t>(largest * ranks * esize_));
    reduced_.assign(partition_ * esize_, 0);
  } else {
    reduced_.assign(padded_total * esize_, 0);
  }
}

size_t ShardedOptimizer::gradient_bytes() const { return reduced_.size(); }

size_t ShardedOptimizer::staging_bytes() const {
  size_t bytes = 0;
  for (const auto& b : packed_) bytes += b.size();
  for (const auto& b : gathered_) bytes += b.size();
  return bytes;
}

void ShardedOptimizer::Pack(const std::vector<BufferView>& tensors, size_t begin, size_t count,
                            uint8_t* out) const {
  size_t t = static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), begin) - offsets_.begin()) - 1;
  for (size_t done = 0; done < count && t < tensors.size(); ++t) {
    const size_t at = begin + done - offsets_[t];
    const size_t n = std::min(tensors[t].count - at, count - done);
    std::memcpy(out + done * esize_, static_cast<const uint8_t*>(tensors[t].data) + at * esize_, n * esize_);
    done += n;
  }
}

void ShardedOptimizer::Unpack(const uint8_t* in, size_t begin, size_t count,
                              const std::vector<BufferView>& tensors) const {
  size_t t = static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), begin) - offsets_.begin()) - 1;
  for (size_t done = 0; done < count && t < tensors.size(); ++t) {
    const size_t at = begin + done - offsets_[t];
    const size_t n = std::min(tensors[t].count - at, count - done);
    std::memcpy(static_cast<uint8_t*>(tensors[t].data) + at * esize_, in + done * esize_, n * esize_);
    done += n;
  }
}

void ShardedOptimizer::step() {
  const size_t ranks = static_cast<size_t>(comm_.size()), me = static_cast<size_t>(comm_.rank());
  const size_t nb = buckets_.size();
  std::vector<WorkPtr>& reductions = reductions_;
  std::vector<WorkPtr>& gathers = gathers_;
  reductions.assign(nb, nullptr);
  gathers.assign(nb, nullptr);
  auto reduce = [&](size_t b) {
    const Bucket& k = buckets_[b];
    const size_t padded = k.shard * ranks;
    uint8_t* buffer = options_.stage == 1 ? reduced_.data() + k.padded_offset * esize_ : packed_[b % kInFlight].data();
    Pack(grads_, k.begin, k.count, buffer);
    std::memset(buffer + k.count * esize_, 0, (padded - k.count) * esize_);
    const BufferView all{buffer, padded, dtype_};
    reductions[b] = options_.stage == 1
                        ? comm_.allreduce_async(all, all, ReduceOp::kAvg)
                        : comm_.reduce_scatter_async(all, {reduced_.data() + k.master_offset * esize_, k.shard, dtype_},
                                                     ReduceOp::kAvg);
  };
  auto unpack = [&](size_t b) {
    gathers[b]->wait();
    Unpack(gathered_[b % kInFlight].data(), buckets_[b].begin, buckets_[b].count, params_);
  };

  state_.BeginStep();
  for (size_t b = 0; b < std::min(kInFlight, nb); ++b) reduce(b);
  for (size_t b = 0; b < nb; ++b) {
    const Bucket& k = buckets_[b];
    reductions[b]->wait();
    const uint8_t* grad = options_.stage == 1 ? reduced_.data() + (k.padded_offset + me * k.shard) * esize_
                                              : reduced_.data() + k.master_offset * esize_;
    void* model = model_copy_.empty() ? nullptr : model_copy_.data() + k.master_offset * esize_;
    ThrowIfError(state_.Apply(k.master_offset, k.shard, master_.data() + k.master_offset, grad, dtype_,
                              model, dtype_, 1.0));
    if (b >= kInFlight) unpack(b - kInFlight);  // frees that gather buffer
    const void* mine = model != nullptr ? model : static_cast<const void*>(master_.data() + k.master_offset);
    gathers[b] = comm_.allgather_async({const_cast<void*>(mine), k.shard, dtype_},
                                       {gathered_[b % kInFlight].data(), k.shard * ranks, dtype_});
    if (b + kInFlight < nb) reduce(b + kInFlight);  // its pack buffer was freed by reductions[b]
  }
  for (size_t b = nb > kInFlight ? nb - kInFlight : 0; b < nb; ++b) unpack(b);
}

void ShardedOptimizer::set_optimizer(const OptimizerSpec& optimizer) {
  ThrowIfError(state_.SetSpec(optimizer, Where(comm_)));
}

void ShardedOptimizer::set_learning_rate(double lr) {
  OptimizerSpec spec = state_.spec();
  spec.lr = lr;
  set_optimizer(spec);
}

}  // namespace cohort
