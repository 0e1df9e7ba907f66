// Sizes, buffer layouts and bandwidth factors of cohort-bench (see bench_math.h).
#include "benchmarks/cohort_bench/bench_math.h"

#include <algorithm>

namespace cohort::bench {

std::optional<CollectiveKind> ParseCollective(std::string_view name) {
  struct Alias { std::string_view name; CollectiveKind kind; };
  static constexpr Alias kAliases[] = {
      {"allreduce", CollectiveKind::kAllreduce},          {"all_reduce", CollectiveKind::kAllreduce},
      {"reduce_scatter", CollectiveKind::kReduceScatter}, {"reducescatter", CollectiveKind::kReduceScatter},
      {"allgather", CollectiveKind::kAllgather},          {"all_gather", CollectiveKind::kAllgather},
      {"broadcast", CollectiveKind::kBroadcast},          {"reduce", CollectiveKind::kReduce},
      {"alltoall", CollectiveKind::kAlltoall},            {"all_to_all", CollectiveKind::kAlltoall},
  };
  for (const Alias& alias : kAliases) {
    if (alias.name == name) return alias.kind;
  }
  return std::nullopt;
}

BufferLayout LayoutFor(CollectiveKind kind, size_t size_bytes, size_t element_bytes, int nranks) {
  const size_t n = static_cast<size_t>(nranks);
  const size_t total = size_bytes / element_bytes;
  BufferLayout layout;
  switch (kind) {
    case CollectiveKind::kReduceScatter:
      layout.count = total / n;
      layout.send_count = layout.count * n;
      layout.recv_count = layout.count;
      layout.recv_inplace_offset = layout.count;
      break;
    case CollectiveKind::kAllgather:
      layout.count = total / n;
      layout.send_count = layout.count;
      layout.recv_count = layout.count * n;
      layout.send_inplace_offset = layout.count;
      break;
    case CollectiveKind::kAlltoall:
      layout.count = total / n;
      layout.send_count = layout.recv_count = layout.count * n;
      break;
    default:  // allreduce, broadcast, reduce
      layout.count = layout.send_count = layout.recv_count = total;
      break;
  }
  layout.bytes = std::max(layout.send_count, layout.recv_count) * element_bytes;
  return layout;
}

double BusBwFactor(CollectiveKind kind, int nranks) {
  const double n = nranks;
  switch (kind) {
    case CollectiveKind::kAllreduce: return 2.0 * (n - 1) / n;
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllgather:
    case CollectiveKind::kAlltoall: return (n - 1) / n;
    default: return 1.0;
  }
}

double AlgBwGBs(size_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1.0e9 / seconds : 0.0;
}

std::vector<size_t> SizeList(size_t min_bytes, size_t max_bytes, size_t step_factor,
                             size_t step_bytes) {
  std::vector<size_t> sizes;
  size_t size = min_bytes;
  while (size <= max_bytes) {
    sizes.push_back(size);
    const size_t next = step_factor > 1 ? size * step_factor : size + step_bytes;
    if (next <= size) break;  // no progress (size 0, step 0) or overflow
    size = next;
  }
  return sizes;
}

}  // namespace cohort::bench
