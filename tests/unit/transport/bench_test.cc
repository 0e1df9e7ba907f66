// Quick measurements (reported, not asserted): ping-pong latency of 8-byte messages and
// one-way bandwidth of 64 MiB messages, for shm, tcp and tcp with 4 sockets per pair
// (COHORT_SOCKET_NSTREAMS=4), ranks as threads.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/unit/transport/transport_test_util.h"

namespace cohort::testing {
namespace {

struct BenchParam {
  TransportChoice transport;
  int nstreams;
  const char* name;
};

class LinkBench : public ::testing::TestWithParam<BenchParam> {};

TEST_P(LinkBench, LatencyAndBandwidth) {
  const std::string job = UniqueJobId();
  Config config = TestConfig(GetParam().transport, job);
  config.shm_ring_bytes = 4u << 20;
  config.socket_nstreams = GetParam().nstreams;
  auto world = ConnectWorld(2, config);
  ASSERT_NE(world[0][1], nullptr);
  const char* name = GetParam().name;
  const int rounds = 2000;
  double latency_us = 0;
  RunRanks(2, [&](int r) {
    Link* link = world[r][1 - r].get();
    uint64_t value = 0;
    auto start = Clock::now();
    for (int i = 0; i < rounds; ++i) {
      Request a, b;
      if (r == 0) {
        ASSERT_TRUE(link->PostSend(1, &value, 8, &a).ok());
        ASSERT_TRUE(link->PostRecv(2, &value, 8, &b).ok());
      } else {
        ASSERT_TRUE(link->PostRecv(1, &value, 8, &b).ok());
        ASSERT_TRUE(WaitForRequests(world[r], {&b}, Soon()).ok());
        ASSERT_TRUE(link->PostSend(2, &value, 8, &a).ok());
      }
      ASSERT_TRUE(WaitForRequests(world[r], {&a, &b}, Soon()).ok());
    }
    if (r == 0) {
      latency_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / rounds / 2;
    }
  });
  const size_t bytes = 64u << 20;
  const int reps = 5;
  double gbps = 0;
  RunRanks(2, [&](int r) {
    std::vector<uint8_t> buffer(bytes, static_cast<uint8_t>(r));
    Link* link = world[r][1 - r].get();
    auto start = Clock::now();
    for (int i = 0; i < reps; ++i) {
      Request request;
      Status posted = r == 0 ? link->PostSend(5, buffer.data(), bytes, &request)
                             : link->PostRecv(5, buffer.data(), bytes, &request);
      ASSERT_TRUE(posted.ok());
      ASSERT_TRUE(WaitForRequests(world[r], {&request}, Soon(60)).ok());
    }
    if (r == 1) {
      double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      gbps = static_cast<double>(bytes) * reps / seconds / 1e9;
    }
  });
  std::printf("[bench] %s: 8 B one-way latency %.2f us (ping-pong/2), 64 MiB bandwidth %.2f GB/s\n",
              name, latency_us, gbps);
}

INSTANTIATE_TEST_SUITE_P(Transports, LinkBench,
                         ::testing::Values(BenchParam{TransportChoice::kShm, 1, "shm"},
                                           BenchParam{TransportChoice::kTcp, 1, "tcp"},
                                           BenchParam{TransportChoice::kTcp, 4, "tcp4streams"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace cohort::testing
