// Message tags: every message carries the operation it belongs to, so the receiving side can
// tell "rank 2 is in allreduce #7 but I am in broadcast #7" instead of exchanging wrong bytes.
// Layout: sequence number in the high 56 bits, CollectiveKind in the low 8.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/base/collective_kind.h"

namespace cohort {

constexpr uint64_t MakeTag(CollectiveKind kind, uint64_t sequence) {
  return (sequence << 8) | static_cast<uint64_t>(kind);
}

// "allreduce #7", or "message #3 (send/recv)" for point-to-point traffic.
inline std::string DescribeTag(uint64_t tag) {
  auto kind = static_cast<CollectiveKind>(tag & 0xff);
  std::string seq = std::to_string(tag >> 8);
  if (kind == CollectiveKind::kSendRecv) return "point-to-point message #" + seq;
  return std::string(CollectiveName(kind)) + " #" + seq;
}

}  // namespace cohort
