// cohort-ps-server: a dedicated parameter server, started by `cohortrun --servers K` (once per
// server, with COHORT_PS_SERVER_RANK, COHORT_PS_SERVERS, COHORT_WORLD_SIZE = the number of worker
// ranks, and the job's store address and secret). It serves the ranks' ParameterStore until every
// rank said goodbye or is gone, then exits 0; any failure is printed and exits 1.
#include <cstdlib>
#include <iostream>

#include "runtime/base/logging.h"
#include "runtime/config/config.h"
#include "runtime/net/socket.h"
#include "runtime/ps/parameter_store.h"
#include "runtime/store/tcp_store.h"

namespace {

cohort::Result<int> IntVariable(const cohort::EnvMap& env, const char* name) {
  auto it = env.find(name);
  char* end = nullptr;
  long v = it == env.end() ? -1 : std::strtol(it->second.c_str(), &end, 10);
  if (it == env.end() || it->second.empty() || *end != '\0' || v < 0) {
    return cohort::InvalidArgumentError(std::string(name) + " is not set to a number (cohort-ps-server "
                                        "is started by cohortrun --servers K)");
  }
  return static_cast<int>(v);
}

cohort::Status Serve(int* index) {
  using namespace cohort;
  EnvMap env = ProcessEnvironment();
  COHORT_ASSIGN_OR_RETURN(Config config, ParseConfig(env));
  SetLogLevel(config.log_level);
  COHORT_ASSIGN_OR_RETURN(*index, IntVariable(env, "COHORT_PS_SERVER_RANK"));
  COHORT_ASSIGN_OR_RETURN(int workers, IntVariable(env, "COHORT_WORLD_SIZE"));
  if (config.ps_servers < 1) return InvalidArgumentError("COHORT_PS_SERVERS is not set");
  auto addr = env.find("COHORT_STORE_ADDR");
  if (addr == env.end()) return InvalidArgumentError("COHORT_STORE_ADDR is not set");
  COHORT_ASSIGN_OR_RETURN(HostPort address, ParseHostPort(addr->second));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<TcpStoreClient> store,
                          TcpStoreClient::Connect(address, config.secret, config.connect_timeout));
  return RunParameterServer(config, *index, config.ps_servers, workers, std::move(store));
}

}  // namespace

int main() {
  int index = -1;
  cohort::Status status = Serve(&index);
  if (!status.ok()) {
    std::cerr << "cohort-ps-server " << index << ": " << status.message() << "\n";
    return 1;
  }
  return 0;
}
