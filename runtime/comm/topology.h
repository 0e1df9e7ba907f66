// Topology: which ranks share a host. Each rank publishes a host key (hostname, boot id and
// network namespace, so that network namespaces on one machine count as separate hosts) and
// reads everyone's; ranks with equal keys are on one node.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/store/store.h"

namespace cohort {

struct Topology {
  std::vector<int> node_of_rank;
  std::vector<std::string> host_of_rank;  // host names, for messages
  int num_nodes = 1;
  int local_rank = 0;
  int local_size = 1;
  int node_rank = 0;
};

// This process's host key.
std::string LocalHostKey();

// Publishes this rank's key in `store` and gathers all of them (waiting up to `timeout`).
Result<Topology> ExchangeTopology(Store& store, int rank, int size,
                                  std::chrono::milliseconds timeout);

// Pure: the topology implied by every rank's (host key, host name).
Topology TopologyFromKeys(const std::vector<std::string>& host_keys,
                          const std::vector<std::string>& host_names, int rank);

}  // namespace cohort
