// The collective operations, as one vocabulary for the communicator, algorithms, tags and logs.
#pragma once

#include <cstdint>
#include <string_view>

namespace cohort {

enum class CollectiveKind : uint8_t {
  kAllreduce = 1,
  kReduceScatter,
  kAllgather,
  kBroadcast,
  kReduce,
  kAlltoall,
  kBarrier,
  kSendRecv,
  kInternal,  // communicator bookkeeping (split, fingerprints)
};

constexpr std::string_view CollectiveName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllreduce: return "allreduce";
    case CollectiveKind::kReduceScatter: return "reduce_scatter";
    case CollectiveKind::kAllgather: return "allgather";
    case CollectiveKind::kBroadcast: return "broadcast";
    case CollectiveKind::kReduce: return "reduce";
    case CollectiveKind::kAlltoall: return "alltoall";
    case CollectiveKind::kBarrier: return "barrier";
    case CollectiveKind::kSendRecv: return "send/recv";
    case CollectiveKind::kInternal: return "internal";
  }
  return "?";
}

constexpr bool IsReduction(CollectiveKind kind) {
  return kind == CollectiveKind::kAllreduce || kind == CollectiveKind::kReduceScatter ||
         kind == CollectiveKind::kReduce;
}

constexpr bool HasRoot(CollectiveKind kind) {
  return kind == CollectiveKind::kBroadcast || kind == CollectiveKind::kReduce;
}

}  // namespace cohort
