// CPU references for the multi-tensor kernels. Elements are read and written with memcpy (no
// alignment needed); f16/bf16 convert with kernels/cpu/half.h, which the CUDA kernels match
// bit for bit. Loops are typed per dtype pair and blocked so that the compiler can keep them
// tight: these run over gigabytes in the GPU tests.
#include "kernels/cpu/multi_tensor_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "cohort/build_config.h"
#include "kernels/cpu/half.h"

namespace cohort::kernels::reference {
namespace {

struct F16 {
  uint16_t bits;
};
struct BF16 {
  uint16_t bits;
};

template <typename T>
using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

inline float Widen(float x) { return x; }
inline double Widen(double x) { return x; }
inline float Widen(F16 x) { return HalfBitsToFloat(x.bits); }
inline float Widen(BF16 x) { return BFloat16BitsToFloat(x.bits); }

template <typename T>
T Narrow(Compute<T> x) {
  if constexpr (std::is_same_v<T, F16>) {
    return F16{FloatToHalfBits(x)};
  } else if constexpr (std::is_same_v<T, BF16>) {
    return BF16{FloatToBFloat16Bits(x)};
  } else {
    return x;
  }
}

template <typename T>
T Load(const void* base, size_t i) {
  T value;
  std::memcpy(&value, static_cast<const char*>(base) + i * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
void Store(void* base, size_t i, T value) {
  std::memcpy(static_cast<char*>(base) + i * sizeof(T), &value, sizeof(T));
}

template <typename In, typename Out>
void CastSegment(const void* src, void* dst, size_t count, double scale) {
  using C = Compute<In>;
  const C factor = static_cast<C>(scale);
  for (size_t i = 0; i < count; ++i) {
    const C wide = Widen(Load<In>(src, i));
    Store<Out>(dst, i, Narrow<Out>(std::isnan(wide) ? wide : wide * factor));
  }
}

template <typename F>
void WithCastType(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kF32: return f(float{});
    case DataType::kF16: return f(F16{});
    case DataType::kBF16: return f(BF16{});
    default: return;  // CheckCopyTypes refused the rest
  }
}

template <ReduceOp Op, typename C>
inline C Combine(C a, C b) {
  if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kAvg) {
    return a + b;
  } else if constexpr (Op == ReduceOp::kProd) {
    return a * b;
  } else if constexpr (Op == ReduceOp::kMin) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
    return b < a ? b : a;
  } else {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
    return b > a ? b : a;
  }
}

// Blocks of kBlock elements: every source of a block is read before the block's dst is written,
// which is what lets dst alias a source.
template <typename T, ReduceOp Op>
void ReduceKTyped(void* dst, std::span<const void* const> srcs, size_t count) {
  using C = Compute<T>;
  constexpr size_t kBlock = 1024;
  C acc[kBlock];
  const C k = static_cast<C>(srcs.size());
  for (size_t base = 0; base < count; base += kBlock) {
    const size_t n = std::min(kBlock, count - base);
    for (size_t i = 0; i < n; ++i) acc[i] = Widen(Load<T>(srcs[0], base + i));
    for (size_t j = 1; j < srcs.size(); ++j) {
      for (size_t i = 0; i < n; ++i) acc[i] = Combine<Op>(acc[i], Widen(Load<T>(srcs[j], base + i)));
    }
    for (size_t i = 0; i < n; ++i) {
      Store<T>(dst, base + i, Narrow<T>(Op == ReduceOp::kAvg ? acc[i] / k : acc[i]));
    }
  }
}

template <typename T>
void ReduceKForOp(ReduceOp op, void* dst, std::span<const void* const> srcs, size_t count) {
  switch (op) {
    case ReduceOp::kSum: return ReduceKTyped<T, ReduceOp::kSum>(dst, srcs, count);
    case ReduceOp::kProd: return ReduceKTyped<T, ReduceOp::kProd>(dst, srcs, count);
    case ReduceOp::kMin: return ReduceKTyped<T, ReduceOp::kMin>(dst, srcs, count);
    case ReduceOp::kMax: return ReduceKTyped<T, ReduceOp::kMax>(dst, srcs, count);
    case ReduceOp::kAvg: return ReduceKTyped<T, ReduceOp::kAvg>(dst, srcs, count);
  }
}

// Sum of squares of one tensor: per chunk in A over 32 lanes (independent chains the compiler
// can vectorise), chunk sums in double, as the GPU combines them.
template <typename T, typename A>
double SumSquares(const void* data, size_t count, bool& non_finite) {
  constexpr size_t kLanes = 32;
  double total = 0;
  for (size_t first = 0; first < count; first += kMultiTensorChunkElements) {
    const size_t last = std::min(count, first + kMultiTensorChunkElements);
    A lanes[kLanes] = {};
    bool bad = false;
    size_t i = first;
    for (; i + kLanes <= last; i += kLanes) {
      for (size_t l = 0; l < kLanes; ++l) {
        const A w = static_cast<A>(Widen(Load<T>(data, i + l)));
        bad |= !std::isfinite(w);
        lanes[l] += w * w;
      }
    }
    for (; i < last; ++i) {
      const A w = static_cast<A>(Widen(Load<T>(data, i)));
      bad |= !std::isfinite(w);
      lanes[0] += w * w;
    }
    A chunk = 0;
    for (A lane : lanes) chunk += lane;
    total += static_cast<double>(chunk);
    non_finite |= bad;
  }
  return total;
}

template <typename T>
double SumSquaresIn(DataType accum_dtype, const void* data, size_t count, bool& non_finite) {
  return accum_dtype == DataType::kF64 ? SumSquares<T, double>(data, count, non_finite)
                                       : SumSquares<T, float>(data, count, non_finite);
}

}  // namespace

Status MultiTensorCopy(std::span<const CopySegment> segments, DataType src_dtype,
                       DataType dst_dtype, double scale) {
  COHORT_RETURN_IF_ERROR(CheckCopyTypes(src_dtype, dst_dtype, scale));
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].count > 0 && (segments[i].src == nullptr || segments[i].dst == nullptr)) {
      return InvalidArgumentError("multi-tensor copy: segment " + std::to_string(i) + " has " +
                                  std::to_string(segments[i].count) +
                                  " elements but a null pointer");
    }
  }
  for (const CopySegment& s : segments) {
    if (s.count == 0) continue;
    if (src_dtype == dst_dtype && scale == 1.0) {
      std::memcpy(s.dst, s.src, s.count * DataTypeSize(src_dtype));
    } else if (src_dtype == DataType::kF64) {
      CastSegment<double, double>(s.src, s.dst, s.count, scale);
    } else {
      WithCastType(src_dtype, [&](auto in) {
        WithCastType(dst_dtype, [&](auto out) {
          CastSegment<decltype(in), decltype(out)>(s.src, s.dst, s.count, scale);
        });
      });
    }
  }
  return Status::Ok();
}

Status PackFusionBuffer(std::span<const FusionEntry> tensors, DataType tensor_dtype,
                        void* buffer, size_t buffer_count, DataType buffer_dtype, double scale) {
  std::vector<CopySegment> segments;
  segments.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    COHORT_RETURN_IF_ERROR(CheckFusionEntry(i, tensors[i], buffer_count));
    if (tensors[i].count == 0) continue;
    if (buffer == nullptr) return InvalidArgumentError("fusion buffer pointer is null");
    segments.push_back({tensors[i].tensor,
                        static_cast<char*>(buffer) + tensors[i].offset * DataTypeSize(buffer_dtype),
                        tensors[i].count});
  }
  return MultiTensorCopy(segments, tensor_dtype, buffer_dtype, scale);
}

Status UnpackFusionBuffer(const void* buffer, size_t buffer_count, DataType buffer_dtype,
                          std::span<const FusionEntry> tensors, DataType tensor_dtype,
                          double scale) {
  std::vector<CopySegment> segments;
  segments.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    COHORT_RETURN_IF_ERROR(CheckFusionEntry(i, tensors[i], buffer_count));
    if (tensors[i].count == 0) continue;
    if (buffer == nullptr) return InvalidArgumentError("fusion buffer pointer is null");
    segments.push_back(
        {static_cast<const char*>(buffer) + tensors[i].offset * DataTypeSize(buffer_dtype),
         tensors[i].tensor, tensors[i].count});
  }
  return MultiTensorCopy(segments, buffer_dtype, tensor_dtype, scale);
}

Status ReduceK(void* dst, std::span<const void* const> srcs, size_t count, DataType dtype,
               ReduceOp op) {
  COHORT_RETURN_IF_ERROR(CheckReduceKArgs(srcs.size(), dtype, op));
  if (count == 0) return Status::Ok();
  if (dst == nullptr || std::find(srcs.begin(), srcs.end(), nullptr) != srcs.end()) {
    return InvalidArgumentError("reduce-k of " + std::to_string(count) +
                                " elements: a null pointer");
  }
  switch (dtype) {
    case DataType::kF32: ReduceKForOp<float>(op, dst, srcs, count); break;
    case DataType::kF64: ReduceKForOp<double>(op, dst, srcs, count); break;
    case DataType::kF16: ReduceKForOp<F16>(op, dst, srcs, count); break;
    case DataType::kBF16: ReduceKForOp<BF16>(op, dst, srcs, count); break;
    default: break;
  }
  return Status::Ok();
}

Result<L2NormResult> MultiTensorL2Norm(std::span<const NormTensor> tensors, DataType dtype,
                                       DataType accum_dtype, float* per_tensor_norms) {
  COHORT_RETURN_IF_ERROR(CheckL2NormTypes(dtype, accum_dtype));
  double total = 0;
  bool non_finite = false;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const NormTensor& tensor = tensors[t];
    if (tensor.count > 0 && tensor.data == nullptr) {
      return InvalidArgumentError("L2 norm: tensor " + std::to_string(t) + " has " +
                                  std::to_string(tensor.count) + " elements but a null pointer");
    }
    double sum = 0;
    switch (dtype) {
      case DataType::kF32: sum = SumSquaresIn<float>(accum_dtype, tensor.data, tensor.count, non_finite); break;
      case DataType::kF64: sum = SumSquaresIn<double>(accum_dtype, tensor.data, tensor.count, non_finite); break;
      case DataType::kF16: sum = SumSquaresIn<F16>(accum_dtype, tensor.data, tensor.count, non_finite); break;
      case DataType::kBF16: sum = SumSquaresIn<BF16>(accum_dtype, tensor.data, tensor.count, non_finite); break;
      default: break;
    }
    if (per_tensor_norms != nullptr) per_tensor_norms[t] = static_cast<float>(std::sqrt(sum));
    total += sum;
  }
  L2NormResult result;
  result.norm = std::sqrt(total);
  result.sum_of_squares = total;
  result.non_finite = non_finite ? 1 : 0;
  return result;
}

}  // namespace cohort::kernels::reference

// Built without CUDA, the GPU entry points of kernels/cuda/multi_tensor.h still exist (as the
// runtime's device functions do) and say why they cannot run, so CPU-only builds link code
// that merely mentions them.
#if !COHORT_HAVE_CUDA
namespace cohort::kernels::cuda {
namespace detail {
struct WorkspaceState {
  int device = -1;
};
}  // namespace detail
namespace {
Status NotBuilt() {
  return UnimplementedError("multi-tensor CUDA kernels: cohort was built without CUDA");
}
}  // namespace

Result<MultiTensorWorkspace> MultiTensorWorkspace::Create(int) { return NotBuilt(); }
MultiTensorWorkspace::MultiTensorWorkspace() = default;
MultiTensorWorkspace::MultiTensorWorkspace(MultiTensorWorkspace&&) noexcept = default;
MultiTensorWorkspace& MultiTensorWorkspace::operator=(MultiTensorWorkspace&&) noexcept = default;
MultiTensorWorkspace::~MultiTensorWorkspace() = default;
int MultiTensorWorkspace::device() const { return -1; }
Status MultiTensorWorkspace::Reserve(size_t, size_t) { return NotBuilt(); }
Status MultiTensorCopy(MultiTensorWorkspace&, std::span<const CopySegment>, DataType, DataType,
                       double, void*) {
  return NotBuilt();
}
Status PackFusionBuffer(MultiTensorWorkspace&, std::span<const FusionEntry>, DataType, void*,
                        size_t, DataType, double, void*) {
  return NotBuilt();
}
Status UnpackFusionBuffer(MultiTensorWorkspace&, const void*, size_t, DataType,
                          std::span<const FusionEntry>, DataType, double, void*) {
  return NotBuilt();
}
Status ReduceK(void*, std::span<const void* const>, size_t, DataType, ReduceOp, void*) {
  return NotBuilt();
}
Status MultiTensorL2Norm(MultiTensorWorkspace&, std::span<const NormTensor>, DataType, DataType,
                         L2NormResult*, float*, void*) {
  return NotBuilt();
}
Result<L2NormResult> CopyL2NormToHost(const L2NormResult*, void*) { return NotBuilt(); }
}  // namespace cohort::kernels::cuda
#endif  // !COHORT_HAVE_CUDA
