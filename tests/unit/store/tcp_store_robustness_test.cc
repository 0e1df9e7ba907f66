// TcpStoreServer against misbehaving clients: garbage before and after the handshake, oversize
// frame headers, silent and half-sent clients, clients that vanish while blocked, and clients
// that never read their replies. After each, the server must still serve everyone else.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <random>
#include <thread>
#include <vector>

#include "runtime/store/store_protocol.h"
#include "tests/unit/store/tcp_store_test_util.h"

namespace cohort::testing {
namespace {

Bytes Frame(StoreOp op, int64_t number, std::vector<std::string> fields) {
  StoreRequest request;
  request.op = op;
  request.number = number;
  for (const auto& f : fields) request.fields.push_back(ToBytes(f));
  return EncodeStoreRequest(request);
}

void Send(int fd, const Bytes& bytes) {
  ASSERT_TRUE(WriteFull(fd, bytes.data(), bytes.size(), Deadline::After(5'000ms), "server").ok());
}

TEST_F(TcpStoreTest, GarbageBeforeTheHandshakeIsRefused) {
  auto good = NewClient();
  UniqueFd raw = RawConnection();
  Bytes garbage(64);
  std::mt19937 rng(7);
  for (auto& byte : garbage) byte = static_cast<uint8_t>(rng());
  Send(raw.get(), garbage);
  EXPECT_TRUE(ClosedByServer(raw.get(), 3'000ms));
  EXPECT_TRUE(RejectedReaches(1, 2'000ms));
  ASSERT_TRUE(good->Set("after", ToBytes("garbage")).ok());
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, GarbageAfterTheHandshakeDropsOnlyThatClient) {
  auto good = NewClient();
  ASSERT_TRUE(good->Set("k", ToBytes("v")).ok());
  UniqueFd raw = AuthenticatedConnection();
  Send(raw.get(), ToBytes("GET /k HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(ClosedByServer(raw.get(), 3'000ms));
  EXPECT_TRUE(RejectedReaches(1, 2'000ms));
  EXPECT_EQ(ToString(good->Get("k", 0ms).value()), "v");
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, UnknownOpAndInconsistentLengthsAreDropped) {
  Bytes unknown_op = Frame(StoreOp::kSet, 0, {"k", "v"});
  unknown_op[4] = 42;
  Bytes bad_lengths = Frame(StoreOp::kSet, 0, {"k", "v"});
  bad_lengths[kStoreFrameHeaderBytes] = 9;  // first field claims 9 bytes of a 10-byte body
  size_t expected_rejections = 0;
  for (const Bytes& frame : {unknown_op, bad_lengths}) {
    UniqueFd raw = AuthenticatedConnection();
    Send(raw.get(), frame);
    EXPECT_TRUE(ClosedByServer(raw.get(), 3'000ms));
    EXPECT_TRUE(RejectedReaches(++expected_rejections, 2'000ms));
  }
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, OversizeFrameHeaderIsRejectedAtOnce) {
  auto good = NewClient();
  UniqueFd raw = AuthenticatedConnection();
  Bytes header = Frame(StoreOp::kSet, 0, {"k", "v"});
  header.resize(kStoreFrameHeaderBytes);
  for (int i = 0; i < 4; ++i) header[8 + i] = 0xff;  // announces a 4 GiB body
  auto start = Clock::now();
  Send(raw.get(), header);
  // Dropped on the header alone, long before the 10 s stall timeout.
  EXPECT_TRUE(ClosedByServer(raw.get(), 3'000ms));
  EXPECT_LT(Clock::now() - start, 3'000ms);
  EXPECT_TRUE(RejectedReaches(1, 2'000ms));
  ASSERT_TRUE(good->Set("after", ToBytes("oversize")).ok());
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, SilentClientIsDroppedAfterTheStallTimeout) {
  StartServer(300ms);
  UniqueFd silent = RawConnection();
  UniqueFd half_authenticated = RawConnection();
  {
    // Reads the hello, answers half of the response, then stalls.
    uint8_t hello[detail::kAuthHelloBytes];
    ASSERT_TRUE(ReadFull(half_authenticated.get(), hello, sizeof(hello), Deadline::After(2'000ms),
                         "server").ok());
    Send(half_authenticated.get(), Bytes(10, 0));
  }
  // Others keep working while the two stall.
  auto good = NewClient();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(good->Add("busy", 1).ok());
  auto start = Clock::now();
  EXPECT_TRUE(ClosedByServer(silent.get(), 3'000ms));
  EXPECT_TRUE(ClosedByServer(half_authenticated.get(), 3'000ms));
  EXPECT_LT(Clock::now() - start, 2'000ms);
  EXPECT_TRUE(RejectedReaches(2, 1'000ms));
  // An authenticated client that is merely idle between requests is not a stall.
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(good->Add("busy", 0).value(), 5);
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, ClientStallingMidFrameIsDropped) {
  StartServer(300ms);
  UniqueFd raw = AuthenticatedConnection();
  Bytes frame = Frame(StoreOp::kSet, 0, {"k", "a value"});
  Send(raw.get(), Bytes(frame.begin(), frame.begin() + 25));
  auto good = NewClient();
  ASSERT_TRUE(good->Set("meanwhile", ToBytes("1")).ok());
  EXPECT_TRUE(ClosedByServer(raw.get(), 3'000ms));
  EXPECT_TRUE(RejectedReaches(1, 1'000ms));
  EXPECT_FALSE(good->Check("k").value());
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, HalfAFrameThenClose) {
  for (size_t cut : {size_t{5}, kStoreFrameHeaderBytes, kStoreFrameHeaderBytes + 3}) {
    UniqueFd raw = AuthenticatedConnection();
    Bytes frame = Frame(StoreOp::kSet, 0, {"half", "value"});
    Send(raw.get(), Bytes(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(cut)));
    raw.reset();
  }
  auto good = NewClient();
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(good->Check("half").value());
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, ClientVanishingWhileBlockedInGet) {
  for (int i = 0; i < 5; ++i) {
    UniqueFd raw = AuthenticatedConnection();
    Send(raw.get(), Frame(i % 2 ? StoreOp::kGet : StoreOp::kWait, 60'000, {"late-key"}));
    std::this_thread::sleep_for(20ms);  // let the server park the request
    if (i == 4) {
      // A reset instead of an orderly close.
      linger hard{1, 0};
      ::setsockopt(raw.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    }
    raw.reset();
  }
  // The set must not try to answer the vanished waiters; a live waiter is still answered.
  auto waiter = NewClient();
  std::thread blocked([&] {
    auto got = waiter->Get("late-key", 5'000ms);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(ToString(*got), "finally");
  });
  std::this_thread::sleep_for(50ms);
  auto writer = NewClient();
  ASSERT_TRUE(writer->Set("late-key", ToBytes("finally")).ok());
  blocked.join();
  EXPECT_EQ(server_->rejected_connections(), 0u);
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, RequestWhileParkedIsAProtocolViolation) {
  UniqueFd raw = AuthenticatedConnection();
  Send(raw.get(), Frame(StoreOp::kGet, 60'000, {"nothing"}));
  std::this_thread::sleep_for(20ms);
  Send(raw.get(), Frame(StoreOp::kCheck, 0, {"nothing"}));
  EXPECT_TRUE(ClosedByServer(raw.get(), 3'000ms));
  EXPECT_TRUE(RejectedReaches(1, 1'000ms));
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, ClientThatNeverReadsItsRepliesIsDropped) {
  auto writer = NewClient();
  ASSERT_TRUE(writer->Set("big", Bytes(kMaxStoreValueBytes, 7)).ok());
  UniqueFd raw = AuthenticatedConnection();
  int small = 4096;
  ::setsockopt(raw.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  // Pipelined gets of a 16 MiB value, never read: the server must queue a bounded amount and
  // then drop this client, without blocking anyone else meanwhile.
  Bytes get = Frame(StoreOp::kGet, 0, {"big"});
  for (int i = 0; i < 8; ++i) {
    if (!WriteFull(raw.get(), get.data(), get.size(), Deadline::After(2'000ms), "server").ok()) {
      break;  // already dropped
    }
    ASSERT_TRUE(writer->Add("progress", 1).ok());
  }
  EXPECT_TRUE(RejectedReaches(1, 5'000ms));
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, RandomlyCorruptedFramesNeverHurtTheServer) {
  StartServer(300ms);
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<Bytes> valid = {Frame(StoreOp::kSet, 0, {"fuzz", "value"}),
                              Frame(StoreOp::kGet, 10, {"fuzz"}),
                              Frame(StoreOp::kWait, 10, {"a", "b"}),
                              Frame(StoreOp::kCompareSet, 0, {"fuzz", "", "x"})};
  std::vector<UniqueFd> open;
  for (int i = 0; i < 60; ++i) {
    Bytes frame = valid[rng() % valid.size()];
    for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
      frame[rng() % frame.size()] = static_cast<uint8_t>(rng());
    }
    UniqueFd fd = AuthenticatedConnection();
    Send(fd.get(), frame);
    if (i % 2) open.push_back(std::move(fd));  // the rest close at once
  }
  ExpectServerHealthy();
  open.clear();
  ExpectServerHealthy();
}

TEST_F(TcpStoreTest, ManyBadClientsAtOnce) {
  StartServer(300ms);
  std::vector<UniqueFd> bad;
  for (int i = 0; i < 20; ++i) {
    UniqueFd fd = i % 2 ? RawConnection() : AuthenticatedConnection();
    if (i % 4 == 0) Send(fd.get(), Bytes(30, 0xab));
    bad.push_back(std::move(fd));
  }
  std::vector<std::thread> good;
  for (int c = 0; c < 8; ++c) {
    good.emplace_back([&] {
      auto client = NewClient();
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->Add("count", 1).ok());
    });
  }
  for (auto& t : good) t.join();
  EXPECT_EQ(NewClient()->Add("count", 0).value(), 160);
  // 10 raw connections stall in the handshake, 5 authenticated ones sent garbage; the 5 idle
  // authenticated ones stay.
  EXPECT_TRUE(RejectedReaches(10 + 5, 3'000ms));
  EXPECT_EQ(server_->rejected_connections(), 15u);
}

}  // namespace
}  // namespace cohort::testing
