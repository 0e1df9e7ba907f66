#include "runtime/comm/op_summary.h"

namespace cohort {

std::string OpSummary::Describe() const {
  const std::string bytes = std::to_string(count * DataTypeSize(dtype));
  if (type == Type::kSend || type == Type::kRecv) {
    const bool sending = type == Type::kSend;
    return std::string(sending ? "send #" : "recv #") + std::to_string(sequence) +
           (sending ? " to rank " : " from rank ") + std::to_string(peer) + " (" + bytes +
           " bytes)";
  }
  std::string out = std::string(CollectiveName(kind)) + " #" + std::to_string(sequence) + " (";
  if (kind == CollectiveKind::kBarrier) {
    out += "no data)";
  } else {
    out += std::to_string(count) + " x " + std::string(DataTypeName(dtype)) + " = " + bytes +
           " bytes";
    if (IsReduction(kind)) out += ", " + std::string(ReduceOpName(op));
    if (HasRoot(kind)) out += ", root " + std::to_string(root);
    out += ")";
  }
  return type == Type::kFingerprintCheck ? "fingerprint check before " + out : out;
}

}  // namespace cohort
