#include "runtime/comm/topology.h"

#include <unistd.h>

#include <fstream>
#include <map>

#include "runtime/net/socket.h"

namespace cohort {

namespace {
std::string ReadFirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}
std::string NetNamespace() {
  char target[128] = {};
  ssize_t n = ::readlink("/proc/self/ns/net", target, sizeof(target) - 1);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}
}  // namespace

std::string LocalHostKey() {
  return Hostname() + "|" + ReadFirstLine("/proc/sys/kernel/random/boot_id") + "|" + NetNamespace();
}

Topology TopologyFromKeys(const std::vector<std::string>& host_keys,
                          const std::vector<std::string>& host_names, int rank) {
  Topology topo;
  std::map<std::string, int> node_of_key;
  std::vector<int> ranks_on_node;
  for (size_t r = 0; r < host_keys.size(); ++r) {
    auto [it, added] = node_of_key.emplace(host_keys[r], static_cast<int>(node_of_key.size()));
    if (added) ranks_on_node.push_back(0);
    int node = it->second;
    topo.node_of_rank.push_back(node);
    if (static_cast<int>(r) == rank) topo.local_rank = ranks_on_node[static_cast<size_t>(node)];
    ++ranks_on_node[static_cast<size_t>(node)];
  }
  topo.host_of_rank = host_names;
  topo.num_nodes = static_cast<int>(node_of_key.size());
  topo.node_rank = topo.node_of_rank[static_cast<size_t>(rank)];
  topo.local_size = ranks_on_node[static_cast<size_t>(topo.node_rank)];
  return topo;
}

Result<Topology> ExchangeTopology(Store& store, int rank, int size,
                                  std::chrono::milliseconds timeout) {
  std::string mine = LocalHostKey() + "\n" + Hostname();
  COHORT_RETURN_IF_ERROR(store.Set("host/" + std::to_string(rank), ToBytes(mine)));
  std::vector<std::string> keys(static_cast<size_t>(size)), names(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) {
    Result<Bytes> value = store.Get("host/" + std::to_string(r), timeout);
    if (!value.ok()) {
      return value.status().WithContext("rank " + std::to_string(rank) +
                                        " could not learn where rank " + std::to_string(r) +
                                        " runs (did it start?): ");
    }
    std::string text = ToString(*value);
    size_t newline = text.find('\n');
    keys[static_cast<size_t>(r)] = text.substr(0, newline);
    names[static_cast<size_t>(r)] = newline == std::string::npos ? "?" : text.substr(newline + 1);
  }
  return TopologyFromKeys(keys, names, rank);
}

}  // namespace cohort
