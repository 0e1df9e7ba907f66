// The tcp-link hello an acceptor checks after the handshake (tcp_connect.h,
// detail::DecodeTcpHello): which [rank][stream] slot a connection takes, and why one is refused.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/transport/tcp_connect.h"

namespace cohort {
namespace {

using detail::DecodeTcpHello;
using detail::MakeTcpHello;
using detail::TcpHello;
using detail::TcpHelloVerdict;

constexpr char kAddress[] = "10.0.0.2:41234";

TcpHelloVerdict Check(const TcpHello& hello, int size, int nstreams,
                      const std::vector<std::vector<bool>>& expected) {
  uint8_t bytes[sizeof(TcpHello)];
  std::memcpy(bytes, &hello, sizeof(bytes));
  return DecodeTcpHello(bytes, sizeof(bytes), kAddress, size, nstreams, expected);
}

TEST(TcpHello, AnExpectedStreamOfAnExpectedRankTakesItsSlot) {
  // World of 4, two streams per pair; ranks 2 and 3 connect here.
  std::vector<std::vector<bool>> expected = {{}, {}, {true, true}, {true, false}};
  TcpHelloVerdict v = Check(MakeTcpHello(2, 4, 1, 2), 4, 2, expected);
  ASSERT_TRUE(v.status.ok()) << v.status.ToString();
  EXPECT_EQ(v.rank, 2u);
  EXPECT_EQ(v.stream, 1u);
  EXPECT_FALSE(v.other_stream_count);
}

TEST(TcpHello, RefusalsNameWhatIsWrong) {
  std::vector<std::vector<bool>> expected = {{}, {}, {true, true}, {true, false}};
  struct Case {
    TcpHello hello;
    std::string says;
  };
  const Case cases[] = {
      {MakeTcpHello(2, 5, 0, 2), "says the world has 5 ranks"},
      {MakeTcpHello(1, 4, 0, 2), "claims to be rank 1"},     // not expected here
      {MakeTcpHello(-1, 4, 0, 2), "claims to be rank -1"},
      {MakeTcpHello(7, 4, 0, 2), "claims to be rank 7"},
      {MakeTcpHello(3, 4, 1, 2), "tcp stream 1 of rank 3"},  // already connected
      {TcpHello{0x12345678, 2, 4, 0}, "bad hello"},
  };
  for (const Case& c : cases) {
    TcpHelloVerdict v = Check(c.hello, 4, 2, expected);
    EXPECT_FALSE(v.status.ok());
    EXPECT_NE(v.status.message().find(c.says), std::string::npos) << v.status.ToString();
    EXPECT_NE(v.status.message().find(kAddress), std::string::npos) << v.status.ToString();
    EXPECT_FALSE(v.other_stream_count);
  }
  const uint8_t short_hello[4] = {'H', 'E', 'L', 'O'};
  EXPECT_FALSE(
      DecodeTcpHello(short_hello, sizeof(short_hello), kAddress, 4, 2, expected).status.ok());
}

TEST(TcpHello, AnotherStreamCountIsRefusedWithBothCounts) {
  std::vector<std::vector<bool>> expected = {{}, {true, true}};
  TcpHelloVerdict v = Check(MakeTcpHello(1, 2, 0, 4), 2, 2, expected);
  EXPECT_FALSE(v.status.ok());
  EXPECT_TRUE(v.other_stream_count);
  EXPECT_EQ(v.nstreams, 4);
  EXPECT_NE(v.status.message().find("COHORT_SOCKET_NSTREAMS=4 but this rank uses 2"),
            std::string::npos)
      << v.status.ToString();
}

}  // namespace
}  // namespace cohort
