// Link behaviour over both transports (shm, tcp with one socket per pair and tcp with four,
// COHORT_SOCKET_NSTREAMS), with ranks as threads: ping-pong, large
// bidirectional transfers, many small and zero-byte messages in order, all-to-all, mismatches,
// a peer that goes away, and nothing left in /dev/shm.
#include <gtest/gtest.h>

#include "runtime/transport/stream_link.h"
#include "runtime/transport/striped_link.h"
#include "tests/unit/transport/transport_test_util.h"

namespace cohort::testing {
namespace {

struct LinkParam {
  TransportChoice transport;
  int nstreams;  // COHORT_SOCKET_NSTREAMS (tcp)
};

class LinkTest : public ::testing::TestWithParam<LinkParam> {
 protected:
  void SetUp() override { job_ = UniqueJobId(); }
  void TearDown() override {
    EXPECT_TRUE(ShmLeftovers(job_).empty()) << "segments left in /dev/shm for " << job_;
  }
  Config MakeConfig() const {
    Config config = TestConfig(GetParam().transport, job_);
    config.socket_nstreams = GetParam().nstreams;
    return config;
  }
  std::string job_;
};

TEST_P(LinkTest, KindMatchesChoice) {
  auto world = ConnectWorld(2, MakeConfig());
  ASSERT_NE(world[0][1], nullptr);
  EXPECT_EQ(world[0][1]->kind(), GetParam().transport == TransportChoice::kShm ? "shm" : "tcp");
  EXPECT_EQ(world[0][1]->peer(), 1);
  EXPECT_EQ(world[1][0]->peer(), 0);
  EXPECT_EQ(world[0][0], nullptr);
  // One socket per pair is today's plain StreamLink, with no wrapper; several are striped.
  for (int r = 0; r < 2; ++r) {
    Link* link = world[r][1 - r].get();
    if (GetParam().nstreams == 1) {
      EXPECT_NE(dynamic_cast<StreamLink*>(link), nullptr);
    } else {
      auto* striped = dynamic_cast<StripedLink*>(link);
      ASSERT_NE(striped, nullptr);
      EXPECT_EQ(striped->stream_count(), static_cast<size_t>(GetParam().nstreams));
    }
  }
}

TEST_P(LinkTest, PingPong) {
  auto world = ConnectWorld(2, MakeConfig());
  RunRanks(2, [&](int r) {
    Link* link = world[r][1 - r].get();
    for (uint64_t i = 0; i < 200; ++i) {
      uint64_t value = 0;
      Request request;
      if ((i % 2) == static_cast<uint64_t>(r)) {
        value = i * 10 + static_cast<uint64_t>(r);
        ASSERT_TRUE(link->PostSend(i, &value, sizeof(value), &request).ok());
      } else {
        ASSERT_TRUE(link->PostRecv(i, &value, sizeof(value), &request).ok());
      }
      Status s = WaitForRequests(world[r], {&request}, Soon());
      ASSERT_TRUE(s.ok()) << s.ToString();
      if ((i % 2) != static_cast<uint64_t>(r)) {
        ASSERT_EQ(value, i * 10 + static_cast<uint64_t>(1 - r));
      }
    }
  });
}

TEST_P(LinkTest, BidirectionalLargeTransfersBiggerThanTheRing) {
  auto world = ConnectWorld(2, MakeConfig());
  const size_t bytes = 64u << 20;
  RunRanks(2, [&](int r) {
    std::vector<uint8_t> out(bytes), in(bytes, 0);
    Fill(out, r, 1 - r, 7);
    Request send, recv;
    ASSERT_TRUE(world[r][1 - r]->PostSend(7, out.data(), bytes, &send).ok());
    ASSERT_TRUE(world[r][1 - r]->PostRecv(7, in.data(), bytes, &recv).ok());
    Status s = WaitForRequests(world[r], {&send, &recv}, Soon(60));
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(FirstWrong(in, 1 - r, r, 7), -1);
  });
}

TEST_P(LinkTest, ManySmallAndZeroByteMessagesArriveInOrder) {
  auto world = ConnectWorld(2, MakeConfig());
  const int count = 5000;
  RunRanks(2, [&](int r) {
    Link* link = world[r][1 - r].get();
    std::vector<std::vector<uint8_t>> out(count), in(count);
    std::vector<Request> sends(count), recvs(count);
    std::vector<Request*> all;
    for (int i = 0; i < count; ++i) {
      size_t size = (i % 7 == 0) ? 0 : static_cast<size_t>(1 + i % 61);
      out[i].resize(size);
      in[i].assign(size, 0);
      Fill(out[i], r, 1 - r, static_cast<uint64_t>(i));
      ASSERT_TRUE(link->PostSend(1000 + i, out[i].data(), size, &sends[i]).ok());
      ASSERT_TRUE(link->PostRecv(1000 + i, in[i].data(), size, &recvs[i]).ok());
      all.push_back(&sends[i]);
      all.push_back(&recvs[i]);
    }
    Status s = WaitForRequests(world[r], all, Soon());
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int i = 0; i < count; ++i) ASSERT_EQ(FirstWrong(in[i], 1 - r, r, i), -1) << "message " << i;
  });
}

TEST_P(LinkTest, HeaderArrivingBeforeTheReceiveIsPostedWaits) {
  auto world = ConnectWorld(2, MakeConfig());
  std::vector<uint8_t> out(100000), in(100000);
  Fill(out, 0, 1, 3);
  Request send, recv;
  ASSERT_TRUE(world[0][1]->PostSend(3, out.data(), out.size(), &send).ok());
  // Drive both sides a while with no receive posted: the header is kept, nothing fails.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(world[0][1]->Progress().ok());
    ASSERT_TRUE(world[1][0]->Progress().ok());
  }
  EXPECT_FALSE(world[1][0]->busy());
  ASSERT_TRUE(world[1][0]->PostRecv(3, in.data(), in.size(), &recv).ok());
  std::vector<Link*> both = {world[0][1].get(), world[1][0].get()};
  std::vector<Request*> requests = {&send, &recv};
  ASSERT_TRUE(WaitForRequests(both, requests, Soon()).ok());
  EXPECT_EQ(FirstWrong(in, 0, 1, 3), -1);
}

TEST_P(LinkTest, AllToAllFourRanks) {
  const int size = 4;
  auto world = ConnectWorld(size, MakeConfig());
  const size_t bytes = (1u << 20) + 123;
  RunRanks(size, [&](int r) {
    std::vector<std::vector<uint8_t>> out(size), in(size);
    std::vector<Request> sends(size), recvs(size);
    std::vector<Request*> all;
    for (int p = 0; p < size; ++p) {
      if (p == r) continue;
      out[p].resize(bytes + static_cast<size_t>(r));
      in[p].assign(bytes + static_cast<size_t>(p), 0);
      Fill(out[p], r, p, 11);
      ASSERT_TRUE(world[r][p]->PostSend(11, out[p].data(), out[p].size(), &sends[p]).ok());
      ASSERT_TRUE(world[r][p]->PostRecv(11, in[p].data(), in[p].size(), &recvs[p]).ok());
      all.push_back(&sends[p]);
      all.push_back(&recvs[p]);
    }
    Status s = WaitForRequests(world[r], all, Soon(60));
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int p = 0; p < size; ++p) {
      if (p != r) {
        EXPECT_EQ(FirstWrong(in[p], p, r, 11), -1) << r << " from " << p;
      }
    }
  });
}

TEST_P(LinkTest, TagMismatchIsReportedOnBothSides) {
  auto world = ConnectWorld(2, MakeConfig());
  std::vector<Status> errors(2);
  RunRanks(2, [&](int r) {
    std::vector<uint8_t> out(4096, 1), in(4096);
    Request send, recv;
    uint64_t tag = r == 0 ? 5 : 6;  // as if the ranks called different collectives
    ASSERT_TRUE(world[r][1 - r]->PostSend(tag, out.data(), out.size(), &send).ok());
    ASSERT_TRUE(world[r][1 - r]->PostRecv(tag, in.data(), in.size(), &recv).ok());
    errors[r] = WaitForRequests(world[r], {&send, &recv}, Soon());
    EXPECT_TRUE(recv.done);
    EXPECT_FALSE(recv.status.ok());
  });
  EXPECT_NE(errors[0].message().find("message mismatch with rank 1 (host host0): this rank expected "
                                     "reduce #0 of 4096 bytes, the peer sent alltoall #0 of 4096 bytes"),
            std::string::npos)
      << errors[0].ToString();
  EXPECT_NE(errors[1].message().find("this rank expected alltoall #0 of 4096 bytes, the peer sent reduce #0 of 4096 bytes"),
            std::string::npos)
      << errors[1].ToString();
  // Broken for good: later requests fail at once with the same error.
  Request later;
  uint8_t byte = 0;
  EXPECT_FALSE(world[0][1]->PostRecv(1, &byte, 1, &later).ok());
  EXPECT_TRUE(later.done);
  EXPECT_NE(later.status.message().find("message mismatch"), std::string::npos);
}

TEST_P(LinkTest, SizeMismatchIsReportedOnBothSides) {
  auto world = ConnectWorld(2, MakeConfig());
  std::vector<Status> errors(2);
  RunRanks(2, [&](int r) {
    // Rank 0 sends 8192 bytes; rank 1 expects 4096. Rank 0 also waits for an answer.
    std::vector<uint8_t> buffer(8192, 1);
    Request request, answer;
    if (r == 0) {
      ASSERT_TRUE(world[0][1]->PostSend(9, buffer.data(), 8192, &request).ok());
      ASSERT_TRUE(world[0][1]->PostRecv(10, buffer.data(), 8, &answer).ok());
      errors[0] = WaitForRequests(world[0], {&request, &answer}, Soon());
    } else {
      ASSERT_TRUE(world[1][0]->PostRecv(9, buffer.data(), 4096, &request).ok());
      errors[1] = WaitForRequests(world[1], {&request}, Soon());
    }
  });
  const std::string text = "this rank expected internal #0 of 4096 bytes, the peer sent internal #0 of 8192 bytes; ranks are "
                           "calling different collectives or passing different counts";
  EXPECT_EQ(errors[1].code(), StatusCode::kInvalidArgument);
  EXPECT_NE(errors[1].message().find("message mismatch with rank 0 (host host0): " + text),
            std::string::npos)
      << errors[1].ToString();
  // The sender learns the reason from the receiver's abort frame (or, if that could not be
  // sent, that the connection was lost); either way its wait fails and names rank 1.
  EXPECT_FALSE(errors[0].ok());
  EXPECT_NE(errors[0].message().find("rank 1"), std::string::npos) << errors[0].ToString();
  EXPECT_NE(errors[0].message().find(text), std::string::npos) << errors[0].ToString();
}

TEST_P(LinkTest, PeerClosingItsLinksFailsPendingReceives) {
  auto world = ConnectWorld(2, MakeConfig());
  uint64_t value = 0;
  Request recv;
  ASSERT_TRUE(world[0][1]->PostRecv(1, &value, sizeof(value), &recv).ok());
  world[1].clear();  // rank 1 goes away
  Status s = WaitForRequests(world[0], {&recv}, Soon(10));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("connection to rank 1 (host host0) lost"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("did that rank exit or crash?"), std::string::npos);
  EXPECT_TRUE(recv.done);
  EXPECT_EQ(recv.status.code(), StatusCode::kUnavailable);
}

TEST_P(LinkTest, DeadlineNamesTheBusyPeer) {
  auto world = ConnectWorld(2, MakeConfig());
  uint64_t value = 0;
  Request recv;
  ASSERT_TRUE(world[0][1]->PostRecv(1, &value, sizeof(value), &recv).ok());
  Status s = WaitForRequests(world[0], {&recv}, Deadline::After(std::chrono::milliseconds(300)));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("rank 1"), std::string::npos) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Transports, LinkTest,
                         ::testing::Values(LinkParam{TransportChoice::kShm, 1},
                                           LinkParam{TransportChoice::kTcp, 1},
                                           LinkParam{TransportChoice::kTcp, 4}),
                         [](const auto& info) {
                           if (info.param.transport == TransportChoice::kShm) return std::string("shm");
                           return "tcp" + (info.param.nstreams > 1
                                               ? std::to_string(info.param.nstreams) + "streams"
                                               : std::string());
                         });

}  // namespace
}  // namespace cohort::testing
