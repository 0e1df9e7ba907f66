// Message tags: every message carries the operation it belongs to, so the receiving side can
// tell "rank 2 is in allreduce #7 on f32 but I am in broadcast #7" instead of exchanging wrong
// bytes. Checked on every message at no extra cost, so mismatched collectives, dtypes and ops are
// always caught; counts show up as differing message sizes.
// Layout (low to high bits): CollectiveKind 8, dtype+1 4 (0: none), op+1 4 (0: none), sequence 48.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/base/collective_kind.h"
#include "runtime/base/dtype.h"

namespace cohort {

constexpr uint64_t MakeTag(CollectiveKind kind, uint64_t sequence,
                           std::optional<DataType> dtype = std::nullopt,
                           std::optional<ReduceOp> op = std::nullopt) {
  uint64_t dtype_bits = dtype ? static_cast<uint64_t>(*dtype) + 1 : 0;
  uint64_t op_bits = op ? static_cast<uint64_t>(*op) + 1 : 0;
  return (sequence << 16) | (op_bits << 12) | (dtype_bits << 8) | static_cast<uint64_t>(kind);
}

// "allreduce (f32, sum)": what the tag says apart from its sequence number (the ucx transport
// carries only these 16 bits on the wire; runtime/transport/ucx/ucx_link.h).
inline std::string DescribeTagKind(uint64_t tag) {
  auto kind = static_cast<CollectiveKind>(tag & 0xff);
  uint64_t dtype_bits = (tag >> 8) & 0xf;
  uint64_t op_bits = (tag >> 12) & 0xf;
  if (kind == CollectiveKind::kSendRecv) return "point-to-point message";
  std::string out(CollectiveName(kind));
  std::string details;
  if (dtype_bits != 0) details += DataTypeName(static_cast<DataType>(dtype_bits - 1));
  if (op_bits != 0) {
    details += (details.empty() ? "" : ", ") + std::string(ReduceOpName(static_cast<ReduceOp>(op_bits - 1)));
  }
  return details.empty() ? out : out + " (" + details + ")";
}

// "allreduce #7 (f32, sum)", or "point-to-point message #3" for send/recv traffic.
inline std::string DescribeTag(uint64_t tag) {
  std::string kind = DescribeTagKind(tag);
  const std::string seq = " #" + std::to_string(tag >> 16);
  const size_t details = kind.find(" (");
  return details == std::string::npos ? kind + seq : kind.insert(details, seq);
}

}  // namespace cohort
