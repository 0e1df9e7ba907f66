// Fuzz target: who a process is, from whichever launcher's variables the environment holds
// (runtime/config/identity.h), plus the address and interface parsers those values feed
// (ParseHostPort, SelectInterfaceAddress). Properties: an accepted identity has 0 <= rank <
// size, a local size within the world, local and node ranks below their bounds, and a store
// address "host:port" with a port from 1 to 65535; a parsed address prints back to itself; a
// chosen interface address is one of the host's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/config/identity.h"
#include "runtime/net/interface_select.h"
#include "runtime/net/socket.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort {
namespace {

const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {
      "COHORT_RANK", "COHORT_WORLD_SIZE", "COHORT_LOCAL_RANK", "COHORT_LOCAL_SIZE",
      "COHORT_NODE_RANK", "COHORT_STORE_ADDR", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
      "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_RANK", "PMI_RANK",
      "PMI_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NODEID", "RANK",
      "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
      "TORCHELASTIC_USE_AGENT_STORE"};
  return names;
}

void CheckIdentity(const Identity& id) {
  FUZZ_CHECK(id.size >= 1 && id.rank >= 0 && id.rank < id.size, "rank %d of %d", id.rank,
             id.size);
  if (id.local_size) {
    FUZZ_CHECK(*id.local_size >= 1 && *id.local_size <= id.size, "local size %d of %d",
               *id.local_size, id.size);
  }
  if (id.local_rank) {
    const int bound = id.local_size ? *id.local_size : id.size;
    FUZZ_CHECK(*id.local_rank >= 0 && *id.local_rank < bound, "local rank %d of %d",
               *id.local_rank, bound);
  }
  if (id.node_rank) {
    FUZZ_CHECK(*id.node_rank >= 0 && *id.node_rank < id.size, "node %d", *id.node_rank);
  }
  if (!id.store_addr.empty()) {
    const size_t colon = id.store_addr.rfind(':');
    FUZZ_CHECK(colon != std::string::npos && colon > 0, "store address '%s'",
               id.store_addr.c_str());
    const long port = std::strtol(id.store_addr.c_str() + colon + 1, nullptr, 10);
    FUZZ_CHECK(port >= 1 && port <= 65535, "store address '%s'", id.store_addr.c_str());
  }
}

void CheckHostPort(const std::string& text) {
  Result<HostPort> hp = ParseHostPort(text);
  if (!hp.ok()) return;
  FUZZ_CHECK(!hp->host.empty(), "'%s' parsed without a host", text.c_str());
  if (hp->host.find_first_of("[]") != std::string::npos) return;  // brackets inside: no canon
  Result<HostPort> again = ParseHostPort(hp->ToString());
  FUZZ_CHECK(again.ok() && again->host == hp->host && again->port == hp->port,
             "'%s' does not print back (as '%s')", text.c_str(), hp->ToString().c_str());
}

void CheckInterface(const std::string& spec) {
  const InterfaceList interfaces = {{"lo", "127.0.0.1"},
                                    {"eth0", "10.231.4.7"},
                                    {"eth1", "192.168.1.20"},
                                    {"ib0", "10.0.0.5"},
                                    {"docker0", "172.17.0.1"}};
  Result<std::string> address = SelectInterfaceAddress(spec, interfaces);
  if (!address.ok()) return;
  bool listed = false;
  for (const auto& [name, ip] : interfaces) listed = listed || ip == *address;
  FUZZ_CHECK(listed, "spec '%s' chose %s, which no interface has", spec.c_str(),
             address->c_str());
}

}  // namespace
}  // namespace cohort

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  FuzzInput in(data, size);
  const bool allow_single = in.ConsumeBool();
  EnvMap env;
  while (in.remaining_bytes() > 0 && env.size() < 24) {
    const size_t pick = in.ConsumeIntegralInRange<size_t>(0, Names().size() - 1);
    // Mostly small numbers, so that schemes agree often enough to get past the cross-checks.
    std::string value = in.ConsumeBool() ? std::to_string(in.ConsumeIntegralInRange<int>(-1, 9))
                                         : in.ConsumeRandomLengthString(40);
    CheckHostPort(value);
    CheckInterface(value);
    env[Names()[pick]] = value;
  }
  Result<Identity> id = DetectIdentity(env, allow_single);
  if (id.ok()) CheckIdentity(*id);
  return 0;
}
