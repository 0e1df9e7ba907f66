// Runs N ranks as threads of this process over one MemoryStore: the cheap way to test a
// communicator at many world sizes. Each rank gets its own Communicator.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/comm/communicator.h"

namespace cohort::testing {

inline Config TestConfig(TransportChoice transport, const std::string& job_id) {
  Config config;
  config.transport = transport;
  config.timeout = std::chrono::milliseconds(20'000);
  config.connect_timeout = std::chrono::milliseconds(20'000);
  config.job_id = job_id;
  config.secret = "test-secret";
  return config;
}

inline std::string UniqueJobId() {
  static std::atomic<int> counter{0};
  return "ut" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
}

// Calls body(comm) on every rank; rethrows nothing: failures are recorded by gtest macros.
inline void RunRanks(int size, const Config& config,
                     const std::function<void(Communicator&)>& body) {
  auto store = std::make_shared<MemoryStore>();
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      Identity identity;
      identity.rank = r;
      identity.size = size;
      identity.scheme = "test";
      auto comm = Communicator::Create(config, identity, store);
      body(*comm);
      comm->barrier();  // no rank tears down links a peer still reads
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace cohort::testing
