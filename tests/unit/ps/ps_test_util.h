// Runs a parameter store with workers (and dedicated servers) as threads of this process over one
// MemoryStore: each worker gets a world Communicator (for reference allreduces) and a
// ParameterStore. An exception escaping a worker is a test failure, never a crash.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/ps/parameter_store.h"
#include "tests/unit/comm/thread_ranks.h"

namespace cohort::testing {

struct StoreSetup {
  int workers = 4;
  int servers = 2;
  bool dedicated = false;
  ParameterStoreOptions options;
  TransportChoice transport = TransportChoice::kAuto;
  std::chrono::milliseconds timeout{20'000};
};

inline std::string Describe(const StoreSetup& s) {
  return std::to_string(s.workers) + " workers, " + std::to_string(s.servers) +
         (s.dedicated ? " dedicated" : " co-located") + " servers";
}

using WorkerBody = std::function<void(ParameterStore& ps, Communicator& comm)>;

inline void RunStore(const StoreSetup& setup, const WorkerBody& body,
                     std::shared_ptr<Store> store = std::make_shared<MemoryStore>()) {
  Config config = TestConfig(setup.transport, UniqueJobId());
  config.timeout = setup.timeout;
  config.ps_servers = setup.dedicated ? setup.servers : 0;
  ParameterStoreOptions options = setup.options;
  if (!setup.dedicated) options.num_servers = setup.servers;
  std::vector<std::thread> threads;
  for (int s = 0; setup.dedicated && s < setup.servers; ++s) {
    threads.emplace_back([&, s] {
      Status status = RunParameterServer(config, s, setup.servers, setup.workers, store);
      EXPECT_TRUE(status.ok()) << "server " << s << ": " << status.message();
    });
  }
  for (int r = 0; r < setup.workers; ++r) {
    threads.emplace_back([&, r] {
      Identity identity;
      identity.rank = r;
      identity.size = setup.workers;
      identity.scheme = "test";
      try {
        Config comm_config = config;  // the reference communicator never shares the store's short timeouts
        comm_config.timeout = std::max(config.timeout, std::chrono::milliseconds(60'000));
        auto comm = Communicator::Create(comm_config, identity, store);
        {
          auto ps = ParameterStore::Create(config, identity, store, options);
          body(*ps, *comm);
        }
        comm->barrier();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "worker " << r << " (" << Describe(setup) << "): " << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
}

inline BufferView View(std::vector<float>& v) { return {v.data(), v.size(), DataType::kF32}; }

}  // namespace cohort::testing
