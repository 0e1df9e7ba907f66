// OpSummary: what one communicator operation is (a collective with its sequence number, count,
// dtype, op and root, or a message to / from a peer). Plain data, so recording it for every call
// (the op history, the peer io's error context) costs no allocation; it becomes words only when
// a message needs them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/base/collective_kind.h"
#include "runtime/base/dtype.h"

namespace cohort {

struct OpSummary {
  enum class Type : uint8_t {
    kCollective,
    kSend,
    kRecv,
    kFingerprintCheck,  // COHORT_DEBUG=DETAIL's exchange before the collective described
  };
  Type type = Type::kCollective;
  CollectiveKind kind = CollectiveKind::kAllreduce;
  uint64_t sequence = 0;  // collectives: call order; messages: per-peer counter
  size_t count = 0;
  DataType dtype = DataType::kF32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;
  int peer = -1;  // messages only

  // "allreduce #12 (1000 x f32 = 4000 bytes, sum)", "barrier #3 (no data)",
  // "send #2 to rank 1 (64 bytes)", "fingerprint check before allreduce #12 (...)".
  std::string Describe() const;
};

}  // namespace cohort
