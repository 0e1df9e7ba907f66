#include "runtime/ps/server_slice.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/reduce.h"

namespace cohort::ps {
namespace {

constexpr uint64_t kSegmentMagic = 0x3130474553535043ull;  // "CPSSEG01"

// The fixed part of a slice's checkpoint record; worker_pushes follow, then padding to 64 bytes,
// then the f32 values and each f32 state buffer.
struct SegmentHeader {
  uint64_t magic;
  uint32_t key;
  uint32_t state_buffers;
  uint64_t key_offset;
  uint64_t count;
  int64_t step;
  uint32_t workers;
  uint32_t reserved;
};
static_assert(sizeof(SegmentHeader) == 48);

uint64_t PaddedHeaderBytes(uint64_t workers) {
  return (sizeof(SegmentHeader) + workers * 8 + 63) / 64 * 64;
}

// f32 -> key dtype (f16/bf16); f32 keys keep no copy.
void Narrow(uint16_t* dst, const float* src, size_t count, DataType dtype) {
  if (dtype == DataType::kF16) {
    kernels::FloatToHalf(dst, src, count);
  } else {
    kernels::FloatToBFloat16(dst, src, count);
  }
}

void Widen(float* dst, const void* src, size_t count, DataType dtype) {
  if (dtype == DataType::kF32) {
    std::memcpy(dst, src, count * sizeof(float));
  } else if (dtype == DataType::kF16) {
    kernels::HalfToFloat(dst, static_cast<const uint16_t*>(src), count);
  } else {
    kernels::BFloat16ToFloat(dst, static_cast<const uint16_t*>(src), count);
  }
}

}  // namespace

Result<std::unique_ptr<ServerSlice>> ServerSlice::Make(uint32_t id, const InitBody& init) {
  std::unique_ptr<ServerSlice> slice(new ServerSlice(id, init));
  COHORT_ASSIGN_OR_RETURN(slice->optimizer_,
                          ShardOptimizer::Make(init.optimizer, init.slice.count, slice->Describe()));
  const size_t n = init.slice.count;
  slice->master_.resize(n);
  const bool generated = init.initializer.kind != Initializer::Kind::kValues;
  if (generated) {
    for (size_t i = 0; i < n; ++i) {
      slice->master_[i] = InitialValue(init.initializer, init.slice.offset + i);
    }
  }
  if (init.key.dtype != DataType::kF32) {
    slice->model_.resize(n);
    // Generated values are rounded to the key's dtype once, so that master == widen(model).
    slice->UpdateModelCopy();
    Widen(slice->master_.data(), slice->model_.data(), n, init.key.dtype);
  }
  slice->values_set = generated;
  const size_t workers = static_cast<size_t>(std::max(init.num_workers, 0));
  slice->worker_pushes.assign(workers, 0);
  slice->arrived.assign(workers, 0);
  slice->declared.assign(workers, 0);
  return slice;
}

std::string ServerSlice::Describe() const {
  return "key '" + key().name + "' elements [" + std::to_string(init.slice.offset) + ", " +
         std::to_string(init.slice.offset + init.slice.count) + ")";
}

const void* ServerSlice::values() const {
  return model_.empty() ? static_cast<const void*>(master_.data()) : model_.data();
}

void ServerSlice::UpdateModelCopy() {
  if (!model_.empty()) Narrow(model_.data(), master_.data(), count(), key().dtype);
  ++version_;
}

void ServerSlice::SetValues(const void* data) {
  Widen(master_.data(), data, count(), key().dtype);
  if (!model_.empty()) std::memcpy(model_.data(), data, count() * sizeof(uint16_t));
  ++version_;
  values_set = true;
}

void ServerSlice::Accumulate(const void* grad, bool first, float* scratch) {
  const size_t n = count();
  if (sum_.size() != n) sum_.resize(n);
  const DataType dtype = key().dtype;
  if (first) {
    Widen(sum_.data(), grad, n, dtype);
  } else if (dtype == DataType::kF32) {
    kernels::Reduce(sum_.data(), grad, n, DataType::kF32, ReduceOp::kSum);
  } else {
    Widen(scratch, grad, n, dtype);
    kernels::Reduce(sum_.data(), scratch, n, DataType::kF32, ReduceOp::kSum);
  }
}

Status ServerSlice::ApplyAccumulated(double scale) {
  const size_t n = count();
  optimizer_.BeginStep();
  if (optimizer_.spec().type == OptimizerType::kAggregate) {
    std::memcpy(master_.data(), sum_.data(), n * sizeof(float));
    if (scale != 1.0) kernels::Scale(master_.data(), n, DataType::kF32, scale);
    UpdateModelCopy();
    return Status::Ok();
  }
  Status status = optimizer_.Apply(0, n, master_.data(), sum_.data(), DataType::kF32,
                                   model_.empty() ? nullptr : model_.data(), key().dtype, scale);
  ++version_;
  return status;
}

Status ServerSlice::ApplyPush(const void* grad, float* scratch) {
  const size_t n = count();
  const DataType dtype = key().dtype;
  optimizer_.BeginStep();
  if (optimizer_.spec().type == OptimizerType::kAggregate) {
    const void* add = grad;
    if (dtype != DataType::kF32) {
      Widen(scratch, grad, n, dtype);
      add = scratch;
    }
    kernels::Reduce(master_.data(), add, n, DataType::kF32, ReduceOp::kSum);
    UpdateModelCopy();
    return Status::Ok();
  }
  Status status = optimizer_.Apply(0, n, master_.data(), grad, dtype,
                                   model_.empty() ? nullptr : model_.data(), dtype, 1.0);
  ++version_;
  return status;
}

const void* ServerSlice::Snapshot() {
  if (snapshot_.size() != value_bytes()) snapshot_.resize(value_bytes());
  if (snapshot_version_ != version_) {
    std::memcpy(snapshot_.data(), values(), value_bytes());
    snapshot_version_ = version_;
  }
  return snapshot_.data();
}

Status ServerSlice::WriteSegment(AtomicFileWriter& file, SegmentInfo* info) const {
  const uint64_t workers = worker_pushes.size();
  const uint64_t header_bytes = PaddedHeaderBytes(workers);
  std::vector<uint8_t> header(header_bytes, 0);
  SegmentHeader fixed{kSegmentMagic, id, static_cast<uint32_t>(optimizer_.state_buffer_count()),
                      init.slice.offset, count(), step(), static_cast<uint32_t>(workers), 0};
  std::memcpy(header.data(), &fixed, sizeof(fixed));
  std::memcpy(header.data() + sizeof(fixed), worker_pushes.data(), workers * 8);

  info->key = id;
  info->key_offset = init.slice.offset;
  info->count = count();
  info->segment_offset = file.bytes_written();
  info->values_offset = info->segment_offset + header_bytes;
  Hash64 hash;
  auto write = [&](const void* data, size_t bytes) {
    hash.Update(data, bytes);
    return file.Write(data, bytes);
  };
  COHORT_RETURN_IF_ERROR(write(header.data(), header.size()));
  COHORT_RETURN_IF_ERROR(write(master_.data(), count() * sizeof(float)));
  for (int i = 0; i < optimizer_.state_buffer_count(); ++i) {
    COHORT_RETURN_IF_ERROR(write(optimizer_.state_buffer(i), count() * sizeof(float)));
  }
  info->segment_bytes = file.bytes_written() - info->segment_offset;
  info->hash = hash.value();
  return Status::Ok();
}

Status ServerSlice::LoadFrom(const LoadBody& body) {
  const int buffers = optimizer_.state_buffer_count();
  uint64_t covered = 0;
  std::vector<uint8_t> segment;
  for (const LoadSource& source : body.sources) {
    const std::string where = "checkpoint file " + source.file + " (" + Describe() + ")";
    const uint64_t begin = init.slice.offset, end = begin + count();
    if (source.key_offset < begin || source.key_offset > end ||
        source.count > end - source.key_offset || source.file_offset < source.segment_offset) {
      return InvalidArgumentError(where + ": the manifest's byte ranges do not fit the slice");
    }
    if (source.segment_bytes > (uint64_t{1} << 40)) {
      return InvalidArgumentError(where + ": segment of " + std::to_string(source.segment_bytes) +
                                  " bytes is implausible");
    }
    segment.resize(source.segment_bytes);
    COHORT_RETURN_IF_ERROR(
        ReadFileRange(source.file, source.segment_offset, segment.data(), segment.size()));
    Hash64 hash;
    hash.Update(segment.data(), segment.size());
    if (hash.value() != source.segment_hash) {
      return InvalidArgumentError(where + ": its contents do not match the manifest's hash "
                                  "(corrupted, or written by another save)");
    }
    const uint64_t at = source.file_offset - source.segment_offset;
    const uint64_t bytes = source.count * sizeof(float);
    for (int i = -1; i < buffers; ++i) {
      const uint64_t from = at + static_cast<uint64_t>(i + 1) * source.stride_bytes;
      if (from + bytes > segment.size()) {
        return InvalidArgumentError(where + ": state buffer " + std::to_string(i + 1) +
                                    " lies outside its record");
      }
      float* into = i < 0 ? master_.data() : optimizer_.state_buffer(i);
      std::memcpy(into + (source.key_offset - begin), segment.data() + from, bytes);
    }
    covered += source.count;
  }
  if (covered != count()) {
    return InvalidArgumentError("checkpoint covers " + std::to_string(covered) + " of the " +
                                std::to_string(count()) + " elements of " + Describe());
  }
  optimizer_.set_step(body.step);
  if (body.worker_pushes.size() == worker_pushes.size()) {
    worker_pushes = body.worker_pushes;
  } else {
    // Another number of workers: per-worker counts cannot carry over; staleness starts afresh.
    std::fill(worker_pushes.begin(), worker_pushes.end(), 0);
  }
  UpdateModelCopy();
  values_set = true;
  return Status::Ok();
}

}  // namespace cohort::ps
