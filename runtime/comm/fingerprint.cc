#include "runtime/comm/fingerprint.h"

#include <cstring>

namespace cohort {

Fingerprint MakeFingerprint(uint64_t sequence, const CollectiveArgs& args) {
  Fingerprint fp;
  fp.sequence = sequence;
  fp.count = args.count;
  fp.kind = static_cast<uint8_t>(args.kind);
  fp.dtype = static_cast<uint8_t>(args.dtype);
  fp.op = IsReduction(args.kind) ? static_cast<uint8_t>(args.op) : 0xff;
  fp.root = HasRoot(args.kind) ? args.root : -1;
  fp.device_kind = static_cast<uint8_t>(args.device.kind);
  return fp;
}

Fingerprint FingerprintOf(const OpSummary& what) {
  CollectiveArgs args;
  args.kind = what.kind;
  args.count = what.count;
  args.dtype = what.dtype;
  args.op = what.op;
  args.root = what.root;
  return MakeFingerprint(what.sequence, args);
}

std::string DescribeFingerprint(const Fingerprint& fp) {
  auto kind = static_cast<CollectiveKind>(fp.kind);
  std::string out = std::string(CollectiveName(kind)) + " #" + std::to_string(fp.sequence);
  if (kind == CollectiveKind::kBarrier) return out;
  out += " (" + std::to_string(fp.count) + " x " +
         std::string(DataTypeName(static_cast<DataType>(fp.dtype)));
  if (fp.op != 0xff) out += ", " + std::string(ReduceOpName(static_cast<ReduceOp>(fp.op)));
  if (fp.root >= 0) out += ", root " + std::to_string(fp.root);
  if (fp.device_kind == static_cast<uint8_t>(Device::Kind::kCuda)) out += ", CUDA buffers";
  return out + ")";
}

Status CompareFingerprints(std::span<const Fingerprint> all_ranks, std::string_view found_by) {
  for (size_t r = 1; r < all_ranks.size(); ++r) {
    if (std::memcmp(&all_ranks[r], &all_ranks[0], sizeof(Fingerprint)) == 0) continue;
    return InvalidArgumentError(
        "collective mismatch (found by " + std::string(found_by) + "): rank 0 called " +
        DescribeFingerprint(all_ranks[0]) + " but rank " + std::to_string(r) + " called " +
        DescribeFingerprint(all_ranks[r]) +
        "; every rank must call the same collectives in the same order with the same count, "
        "dtype, op, root and device kind");
  }
  return Status::Ok();
}

}  // namespace cohort
