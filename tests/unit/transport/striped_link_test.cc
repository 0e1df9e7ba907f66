// StripedLink (several tcp sockets per pair, COHORT_SOCKET_NSTREAMS) over real loopback sockets:
// how messages are placed on the streams (read back raw from the wire), messages of every size
// both ways, mismatches failing both sides, a peer vanishing mid-transfer, and set-up refusing a
// peer with another stream count. The piece arithmetic is checked as pure functions.
#include <gtest/gtest.h>

#include <chrono>

#include "runtime/transport/stripe_plan.h"
#include "runtime/transport/striped_link.h"
#include "runtime/transport/tcp_stream.h"
#include "tests/unit/transport/transport_test_util.h"

namespace cohort::testing {
namespace {

std::unique_ptr<StreamLink> TcpStreamLink(UniqueFd fd, int peer, const std::string& host) {
  auto stream = MakeTcpStream(std::move(fd), "127.0.0.1:test");
  EXPECT_TRUE(stream.ok()) << stream.status().ToString();
  return std::make_unique<StreamLink>(peer, host, std::move(*stream));
}

// ends[r] is rank r's link to the other rank (rank 0 on host "hostA", rank 1 on "hostB").
struct StripedPair {
  std::unique_ptr<StripedLink> ends[2];
};

StripedPair MakeStripedPair(int n) {
  std::vector<std::unique_ptr<StreamLink>> zero, one;
  for (int i = 0; i < n; ++i) {
    auto [a, b] = TcpPair();
    zero.push_back(TcpStreamLink(std::move(a), 1, "hostB"));
    one.push_back(TcpStreamLink(std::move(b), 0, "hostA"));
  }
  StripedPair pair;
  pair.ends[0] = std::make_unique<StripedLink>(1, std::move(zero));
  pair.ends[1] = std::make_unique<StripedLink>(0, std::move(one));
  return pair;
}

Status Wait(Link* link, std::vector<Request*> requests, int seconds = 30) {
  Link* links[] = {link};
  return WaitForRequests(std::span<Link* const>(links), requests, Soon(seconds));
}

TEST(StripePlan, PiecesAreContiguousNearlyEqualAndNameTheirMessage) {
  for (int n : {2, 3, 4, 7, 64}) {
    for (size_t bytes : {size_t{64}, size_t{65536}, size_t{65537}, size_t{100003}, size_t{(1u << 20) + 63}}) {
      size_t next = 0;
      for (int i = 0; i < n; ++i) {
        const detail::StripePiece piece = detail::PieceOf(bytes, n, i);
        ASSERT_EQ(piece.offset, next) << bytes << " bytes, piece " << i << " of " << n;
        ASSERT_LE(piece.bytes, bytes / n + 1);
        ASSERT_GE(piece.bytes, bytes / n);
        EXPECT_EQ(detail::WholeMessageBytes(detail::PieceFlags(bytes, n, i), piece.bytes), bytes);
        next += piece.bytes;
      }
      EXPECT_EQ(next, bytes);
    }
  }
  EXPECT_EQ(detail::WholeMessageBytes(0, 1234), 1234u);  // a whole message is its own size
}

TEST(StripedLink, SmallMessagesTakeTurnsAndLargeOnesAreCutOverEveryStream) {
  // Rank 0 is a StripedLink over 3 sockets; the other ends are read raw, frame by frame.
  const int n = 3;
  std::vector<std::unique_ptr<StreamLink>> streams;
  std::vector<UniqueFd> raw;
  for (int i = 0; i < n; ++i) {
    auto [a, b] = TcpPair();
    streams.push_back(TcpStreamLink(std::move(a), 1, "hostB"));
    raw.push_back(std::move(b));
  }
  StripedLink link(1, std::move(streams));
  std::vector<pollfd> fds;
  EXPECT_FALSE(link.AppendPollFds(&fds));  // sockets only: nothing that must be polled by naps
  EXPECT_EQ(fds.size(), static_cast<size_t>(n));

  const std::vector<size_t> sizes = {10, 20, 100003, 5};  // message 2 is above 64 KiB
  std::vector<std::vector<uint8_t>> out(sizes.size());
  std::vector<Request> sends(sizes.size());
  std::vector<Request*> all;
  for (size_t m = 0; m < sizes.size(); ++m) {
    out[m].resize(sizes[m]);
    Fill(out[m], 0, 1, m);
    ASSERT_TRUE(link.PostSend(40 + m, out[m].data(), sizes[m], &sends[m]).ok());
    all.push_back(&sends[m]);
  }
  ASSERT_TRUE(Wait(&link, all).ok());  // everything fits in the socket buffers

  struct Expected {
    size_t message;
    size_t offset;
    size_t bytes;
    uint32_t flags;
  };
  // Messages 0, 1, 3 whole on streams 0, 1, 0 (message count mod 3); message 2 in three pieces.
  const std::vector<std::vector<Expected>> wire = {
      {{0, 0, 10, 0}, {2, 0, 33335, detail::PieceFlags(100003, n, 0)}, {3, 0, 5, 0}},
      {{1, 0, 20, 0}, {2, 33335, 33334, detail::PieceFlags(100003, n, 1)}},
      {{2, 66669, 33334, detail::PieceFlags(100003, n, 2)}},
  };
  for (int s = 0; s < n; ++s) {
    for (const Expected& e : wire[s]) {
      detail::FrameHeader header{};
      ASSERT_TRUE(ReadFull(raw[s].get(), &header, sizeof(header), Soon(5), "raw").ok());
      EXPECT_EQ(header.magic, detail::kFrameMagic);
      EXPECT_EQ(header.tag, 40 + e.message) << "stream " << s;
      ASSERT_EQ(header.bytes, e.bytes) << "stream " << s << ", message " << e.message;
      EXPECT_EQ(header.flags, e.flags) << "stream " << s << ", message " << e.message;
      std::vector<uint8_t> payload(e.bytes);
      ASSERT_TRUE(ReadFull(raw[s].get(), payload.data(), e.bytes, Soon(5), "raw").ok());
      EXPECT_TRUE(std::equal(payload.begin(), payload.end(), out[e.message].begin() + e.offset))
          << "stream " << s << ", message " << e.message;
    }
  }
}

TEST(StripedLink, MessagesOfEverySizeArriveIntactBothWays) {
  auto pair = MakeStripedPair(3);
  // Zero bytes, around the 64 KiB split, sizes not divisible by 3, and one of several MiB.
  const std::vector<size_t> sizes = {0, 1, 2, 1000, 65535, 65536, 65537, 65538, 0, 200001,
                                     (4u << 20) + 1, 7};
  RunRanks(2, [&](int r) {
    Link* link = pair.ends[r].get();
    std::vector<std::vector<uint8_t>> out(sizes.size()), in(sizes.size());
    std::vector<Request> sends(sizes.size()), recvs(sizes.size());
    std::vector<Request*> all;
    for (size_t m = 0; m < sizes.size(); ++m) {
      out[m].resize(sizes[m]);
      in[m].assign(sizes[m], 0);
      Fill(out[m], r, 1 - r, m);
      ASSERT_TRUE(link->PostSend(m, out[m].data(), sizes[m], &sends[m]).ok());
      ASSERT_TRUE(link->PostRecv(m, in[m].data(), sizes[m], &recvs[m]).ok());
      all.push_back(&sends[m]);
      all.push_back(&recvs[m]);
    }
    Status s = Wait(link, all, 60);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (size_t m = 0; m < sizes.size(); ++m) {
      EXPECT_EQ(FirstWrong(in[m], 1 - r, r, m), -1) << "message " << m << " of " << sizes[m] << " bytes";
    }
    EXPECT_FALSE(link->busy());
  });
}

// Rank 0 sends `sent` bytes with `tag0`, rank 1 expects `expected` bytes with `tag1`; rank 0 then
// waits for an answer. Returns both ranks' errors.
std::vector<Status> Mismatch(size_t sent, uint64_t tag0, size_t expected, uint64_t tag1) {
  auto pair = MakeStripedPair(4);
  std::vector<Status> errors(2);
  RunRanks(2, [&](int r) {
    std::vector<uint8_t> buffer(std::max(sent, expected), 1);
    Request request, answer;
    Link* link = pair.ends[r].get();
    if (r == 0) {
      ASSERT_TRUE(link->PostSend(tag0, buffer.data(), sent, &request).ok());
      ASSERT_TRUE(link->PostRecv(99, buffer.data(), 8, &answer).ok());
      errors[0] = Wait(link, {&request, &answer}, 20);
      EXPECT_TRUE(answer.done);
    } else {
      ASSERT_TRUE(link->PostRecv(tag1, buffer.data(), expected, &request).ok());
      errors[1] = Wait(link, {&request}, 20);
      EXPECT_TRUE(request.done);
      EXPECT_FALSE(request.status.ok());
    }
  });
  return errors;
}

TEST(StripedLink, SizeMismatchOfSplitMessagesFailsBothSidesNamingWholeSizes) {
  std::vector<Status> errors = Mismatch(1u << 20, 9, 512u << 10, 9);
  const std::string text = "this rank expected internal #0 of 524288 bytes, the peer sent "
                           "internal #0 of 1048576 bytes";
  EXPECT_EQ(errors[1].code(), StatusCode::kInvalidArgument) << errors[1].ToString();
  EXPECT_NE(errors[1].message().find("message mismatch with rank 0 (host hostA): " + text),
            std::string::npos) << errors[1].ToString();
  EXPECT_NE(errors[0].message().find("rank 1 (host hostB)"), std::string::npos) << errors[0].ToString();
  EXPECT_NE(errors[0].message().find(text), std::string::npos) << errors[0].ToString();
}

TEST(StripedLink, WholeMessageNeverMatchesAPieceOfTheSameSize) {
  // 80000 bytes over 4 streams: piece 0 has 20000 bytes and the same tag as the 20000-byte
  // message rank 1 expects on stream 0. The piece marker in the frame tells them apart.
  std::vector<Status> errors = Mismatch(80000, 9, 20000, 9);
  const std::string text = "this rank expected internal #0 of 20000 bytes, the peer sent internal #0 of 80000 bytes";
  EXPECT_NE(errors[1].message().find(text), std::string::npos) << errors[1].ToString();
  EXPECT_NE(errors[0].message().find(text), std::string::npos) << errors[0].ToString();
}

TEST(StripedLink, TagMismatchFailsBothSides) {
  std::vector<Status> errors = Mismatch(256u << 10, 5, 256u << 10, 6);
  const std::string text = "this rank expected alltoall #0 of 262144 bytes, the peer sent reduce #0 of 262144 bytes";
  EXPECT_NE(errors[1].message().find("message mismatch with rank 0 (host hostA): " + text),
            std::string::npos) << errors[1].ToString();
  EXPECT_NE(errors[0].message().find(text), std::string::npos) << errors[0].ToString();
}

TEST(StripedLink, PeerClosingMidTransferFailsEveryPendingRequestNamingThePeer) {
  auto pair = MakeStripedPair(4);
  const size_t bytes = 256u << 20;  // far more than the socket buffers hold
  std::vector<uint8_t> out(bytes, 7), in(bytes);
  uint64_t small = 0;
  Request send, recv, small_recv;
  ASSERT_TRUE(pair.ends[0]->PostSend(1, out.data(), bytes, &send).ok());
  ASSERT_TRUE(pair.ends[0]->PostRecv(2, &small, sizeof(small), &small_recv).ok());
  ASSERT_TRUE(pair.ends[1]->PostRecv(1, in.data(), bytes, &recv).ok());
  bool moved = false;
  for (int i = 0; i < 1000 && !moved; ++i) {
    auto a = pair.ends[0]->Progress();
    auto b = pair.ends[1]->Progress();
    ASSERT_TRUE(a.ok() && b.ok());
    moved = *b;
  }
  ASSERT_TRUE(moved);  // the transfer is under way...
  ASSERT_FALSE(send.done);  // ...and not finished
  pair.ends[1].reset();  // rank 1 goes away
  Status s = Wait(pair.ends[0].get(), {&send, &small_recv}, 10);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("rank 1 (host hostB)"), std::string::npos) << s.ToString();
  for (Request* r : {&send, &small_recv}) {
    EXPECT_TRUE(r->done);
    EXPECT_EQ(r->status.code(), StatusCode::kUnavailable) << r->status.ToString();
    EXPECT_NE(r->status.message().find("rank 1 (host hostB)"), std::string::npos);
  }
  // Broken for good: a later request fails at once with the same error.
  Request later;
  EXPECT_FALSE(pair.ends[0]->PostSend(3, out.data(), 100, &later).ok());
  EXPECT_TRUE(later.done);
  EXPECT_EQ(later.status.message(), s.message());
}

TEST(StripedLink, SetUpRefusesAPeerWithAnotherStreamCountOnBothSides) {
  const std::string job = UniqueJobId();
  auto store = std::make_shared<MemoryStore>();
  std::vector<Status> errors(2);
  const auto start = std::chrono::steady_clock::now();
  RunRanks(2, [&](int r) {
    Config config = TestConfig(TransportChoice::kTcp, job);
    config.socket_nstreams = r == 0 ? 2 : 4;
    errors[r] = ConnectLinks(MakeSetup(r, 2, store, config)).status();
  });
  // At once, not at the connect timeout (20 s in tests).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(errors[0].code(), StatusCode::kInvalidArgument) << errors[0].ToString();
  EXPECT_NE(errors[0].message().find("uses COHORT_SOCKET_NSTREAMS=4 but this rank uses 2"),
            std::string::npos) << errors[0].ToString();
  EXPECT_NE(errors[0].message().find("rank 1 ("), std::string::npos) << errors[0].ToString();
  EXPECT_NE(errors[1].message().find("rank 0 (host host0) uses COHORT_SOCKET_NSTREAMS=2 but this rank uses 4"),
            std::string::npos) << errors[1].ToString();
}

}  // namespace
}  // namespace cohort::testing
