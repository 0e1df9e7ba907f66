// Collective fingerprints for COHORT_DEBUG=DETAIL: what each rank believes the next collective
// is. Exchanged before the collective itself, so ranks that disagree fail alike with a message
// that names two ranks and both their calls, instead of hanging or exchanging wrong bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "collectives/collective_args.h"
#include "runtime/base/status.h"
#include "runtime/comm/op_summary.h"

namespace cohort {

struct Fingerprint {
  uint64_t sequence = 0;
  uint64_t count = 0;
  int32_t root = -1;  // -1 where the collective has no root
  uint8_t kind = 0;
  uint8_t dtype = 0;
  uint8_t op = 0;     // 0xff where the collective does not reduce
  uint8_t device_kind = 0;  // Device::Kind of the buffers (cpu, cuda)
};
static_assert(sizeof(Fingerprint) == 24, "fingerprints cross the wire as raw bytes");

Fingerprint MakeFingerprint(uint64_t sequence, const CollectiveArgs& args);
// The same for an operation on CPU buffers as the communicator summarizes it.
Fingerprint FingerprintOf(const OpSummary& what);
// "allreduce #5 (1000 x f32, sum)".
std::string DescribeFingerprint(const Fingerprint& fingerprint);
// Ok when every rank's fingerprint equals rank 0's; otherwise an InvalidArgumentError naming
// rank 0 and the first rank that differs, with both calls, and `found_by` (what compared them).
Status CompareFingerprints(std::span<const Fingerprint> all_ranks,
                           std::string_view found_by = "COHORT_DEBUG=DETAIL");

}  // namespace cohort
