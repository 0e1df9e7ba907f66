// Helpers for transport tests: ranks as threads over one MemoryStore, link set-up for a whole
// world, byte patterns unique to (sender, receiver, index), and /dev/shm leftovers.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/net/socket.h"
#include "runtime/store/store.h"
#include "runtime/transport/connect.h"
#include "runtime/transport/link.h"
#include "runtime/transport/link_waiter.h"

namespace cohort::testing {

using Links = std::vector<std::unique_ptr<Link>>;

inline std::string UniqueJobId() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return "t" + std::to_string(::getpid()) + "." + name;
}

inline Config TestConfig(TransportChoice transport, const std::string& job_id) {
  Config config;
  config.transport = transport;
  config.job_id = job_id;
  config.secret = "transport-test-secret";
  config.connect_timeout = std::chrono::seconds(20);
  config.shm_ring_bytes = 1u << 20;
  config.socket_ifname = "lo";  // 127.0.0.1
  return config;
}

inline LinkSetup MakeSetup(int rank, int size, std::shared_ptr<Store> base, const Config& config,
                           std::vector<int> nodes = {}) {
  LinkSetup setup;
  setup.rank = rank;
  setup.size = size;
  setup.node_of_rank = nodes.empty() ? std::vector<int>(static_cast<size_t>(size), 0) : nodes;
  for (int r = 0; r < size; ++r) setup.host_of_rank.push_back("host" + std::to_string(setup.node_of_rank[r]));
  setup.store = std::make_shared<PrefixStore>("comm", std::move(base));
  setup.comm_name = "world";
  setup.config = config;
  return setup;
}

// Runs fn(rank) on `size` threads and joins them.
inline void RunRanks(int size, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) threads.emplace_back(fn, r);
  for (auto& t : threads) t.join();
}

// Connects a world of `size` thread ranks; every rank's links, indexed [rank][peer].
inline std::vector<Links> ConnectWorld(int size, const Config& config, std::vector<int> nodes = {}) {
  auto store = std::make_shared<MemoryStore>();
  std::vector<Links> world(static_cast<size_t>(size));
  std::vector<Status> errors(static_cast<size_t>(size));
  RunRanks(size, [&](int r) {
    auto links = ConnectLinks(MakeSetup(r, size, store, config, nodes));
    if (links.ok()) {
      world[r] = std::move(links->links);
    } else {
      errors[r] = links.status();
    }
  });
  for (int r = 0; r < size; ++r) EXPECT_TRUE(errors[r].ok()) << "rank " << r << ": " << errors[r].ToString();
  return world;
}

inline Deadline Soon(int seconds = 30) { return Deadline::After(std::chrono::seconds(seconds)); }

// A connected pair of tcp sockets on 127.0.0.1.
inline std::pair<UniqueFd, UniqueFd> TcpPair() {
  auto listener = Listen("127.0.0.1", 0);
  EXPECT_TRUE(listener.ok());
  auto a = Connect(HostPort{"127.0.0.1", listener->second}, Soon(5));
  EXPECT_TRUE(a.ok());
  auto b = Accept(listener->first.get(), Soon(5));
  EXPECT_TRUE(b.ok());
  return {std::move(*a), std::move(*b)};
}

// Byte i of the message from `from` to `to` with sequence `seq`.
inline uint8_t PatternByte(int from, int to, uint64_t seq, size_t i) {
  uint64_t x = (static_cast<uint64_t>(from) * 1000003u) ^ (static_cast<uint64_t>(to) * 7919u) ^
               (seq * 104729u) ^ (i * 2654435761u);
  return static_cast<uint8_t>(x ^ (x >> 13) ^ (x >> 29));
}
inline void Fill(std::vector<uint8_t>& buffer, int from, int to, uint64_t seq) {
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = PatternByte(from, to, seq, i);
}
// Index of the first wrong byte, or -1.
inline long FirstWrong(const std::vector<uint8_t>& buffer, int from, int to, uint64_t seq) {
  for (size_t i = 0; i < buffer.size(); ++i) {
    if (buffer[i] != PatternByte(from, to, seq, i)) return static_cast<long>(i);
  }
  return -1;
}

// Names in /dev/shm that belong to `job_id`.
inline std::vector<std::string> ShmLeftovers(const std::string& job_id) {
  std::vector<std::string> out;
  const std::string prefix = "cohort-" + job_id + "-";
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) out.push_back(e->d_name);
  }
  ::closedir(dir);
  return out;
}

}  // namespace cohort::testing
