// Fuzz target: cohortrun's host lists (launcher/hosts.h): `-H a:2,b` and hostfiles, then the
// placement of ranks on what they name. Properties: a parsed list names each host once, with a
// valid name and at least one slot; a placement that succeeds starts exactly the ranks asked for
// (one per slot when -np is 0), numbered contiguously host after host, never more than a host's
// slots without --oversubscribe, and leaves out only hosts that get no rank.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "launcher/hosts.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort::launcher {
namespace {

bool ValidHostName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

void CheckHosts(const std::vector<HostSlots>& hosts) {
  FUZZ_CHECK(!hosts.empty(), "an empty host list parsed");
  std::set<std::string> seen;
  for (const HostSlots& h : hosts) {
    FUZZ_CHECK(ValidHostName(h.host), "host '%s' parsed", h.host.c_str());
    FUZZ_CHECK(seen.insert(h.host).second, "host '%s' listed twice", h.host.c_str());
    FUZZ_CHECK(h.slots >= 1 && h.slots <= 1'000'000, "host '%s' has %d slots", h.host.c_str(),
               h.slots);
  }
}

void CheckPlacement(const std::vector<HostSlots>& hosts, int np, bool oversubscribe) {
  Result<std::vector<HostPlacement>> placed = PlaceRanks(hosts, np, oversubscribe);
  long total = 0;
  for (const HostSlots& h : hosts) total += h.slots;
  if (!placed.ok()) {
    // Refused only for more ranks than slots, or one rank per slot beyond cohortrun's -np limit.
    FUZZ_CHECK((np > total && !oversubscribe) || (np == 0 && total > 1'000'000),
               "placing %d ranks on %ld slots failed: %s", np, total,
               placed.status().ToString().c_str());
    return;
  }
  const long want = np == 0 ? total : np;
  long next = 0;
  size_t host = 0;
  for (size_t i = 0; i < placed->size(); ++i) {
    const HostPlacement& p = (*placed)[i];
    FUZZ_CHECK(p.node_rank == static_cast<int>(i) && p.first_rank == next && p.count >= 1,
               "placement %zu: node %d, ranks %d+%d after %ld", i, p.node_rank, p.first_rank,
               p.count, next);
    while (host < hosts.size() && hosts[host].host != p.host) ++host;
    FUZZ_CHECK(host < hosts.size(), "host '%s' placed out of order or not listed", p.host.c_str());
    FUZZ_CHECK(oversubscribe || p.count <= hosts[host].slots, "%d ranks on %d slots", p.count,
               hosts[host].slots);
    ++host;
    next += p.count;
  }
  FUZZ_CHECK(next == want, "placed %ld ranks, %ld asked for", next, want);
}

}  // namespace
}  // namespace cohort::launcher

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::launcher;
  FuzzInput in(data, size);
  const bool hostfile = in.ConsumeBool();
  const bool oversubscribe = in.ConsumeBool();
  // cohortrun's -np is 1..1'000'000, or 0 (one rank per slot) with hosts.
  const int np = in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange<int>(1, 1'000'000);
  const std::string text = in.ConsumeRemainingBytesAsString();
  cohort::Result<std::vector<HostSlots>> hosts =
      hostfile ? ParseHostfile(text, "fuzz-hostfile") : ParseHostList(text);
  if (!hosts.ok()) return 0;
  CheckHosts(*hosts);
  CheckPlacement(*hosts, np, oversubscribe);
  return 0;
}
