// GroupLayout: the members of a parameter store and their roles. Members are numbered 0..size-1;
// workers are members 0..N-1 (member w is worker w). Dedicated servers are members N..N+K-1; with
// co-located servers (the default) server s lives in worker member s*N/K, so K <= N servers are
// spread evenly over the workers.
#pragma once

#include <string>

namespace cohort::ps {

struct GroupLayout {
  int num_workers = 1;
  int num_servers = 1;
  bool dedicated = false;

  int size() const { return dedicated ? num_workers + num_servers : num_workers; }
  int server_member(int server) const {
    return dedicated ? num_workers + server
                     : static_cast<int>(static_cast<long long>(server) * num_workers / num_servers);
  }
  // The server living in `member`, or -1.
  int server_on(int member) const {
    if (dedicated) return member >= num_workers ? member - num_workers : -1;
    for (int s = 0; s < num_servers; ++s) {
      if (server_member(s) == member) return s;
    }
    return -1;
  }
  // The worker living in `member`, or -1 (a dedicated server).
  int worker_on(int member) const { return member < num_workers ? member : -1; }
  std::string Describe() const {
    return std::to_string(num_workers) + " workers and " + std::to_string(num_servers) +
           (dedicated ? " dedicated servers" : " servers co-located with workers");
  }
};

}  // namespace cohort::ps
