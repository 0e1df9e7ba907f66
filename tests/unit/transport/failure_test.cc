// Set-up and failure cases: garbage on a tcp socket, a stranger with a wrong secret during
// set-up, a dead same-host peer (forked child), transport choice, RemoveJobSegments.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runtime/net/socket.h"
#include "runtime/store/auth.h"
#include "runtime/transport/shm_segment.h"
#include "runtime/transport/shm_stream.h"
#include "runtime/transport/stream_link.h"
#include "runtime/transport/tcp_stream.h"
#include "tests/unit/transport/transport_test_util.h"

namespace cohort::testing {
namespace {

TEST(TcpLink, GarbageOnTheSocketBreaksTheLinkWithAClearError) {
  auto [mine, theirs] = TcpPair();
  auto stream = MakeTcpStream(std::move(mine), "127.0.0.1:test");
  ASSERT_TRUE(stream.ok());
  StreamLink link(3, "hostX", std::move(*stream));
  const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(WriteFull(theirs.get(), garbage, sizeof(garbage), Soon(5), "test").ok());
  uint64_t value = 0;
  Request recv;
  ASSERT_TRUE(link.PostRecv(1, &value, sizeof(value), &recv).ok());
  std::vector<Link*> links = {&link};
  std::vector<Request*> requests = {&recv};
  Status s = WaitForRequests(links, requests, Soon(5));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("received garbage from rank 3 (host hostX)"), std::string::npos)
      << s.ToString();
  EXPECT_TRUE(recv.done);
}

TEST(TcpLink, MessagesAbove4GiBUse64BitSizes) {
  // Only the header is checked: a posted 5 GiB receive against a 5 GiB header matches.
  auto [mine, theirs] = TcpPair();
  auto stream = MakeTcpStream(std::move(mine), "127.0.0.1:test");
  ASSERT_TRUE(stream.ok());
  StreamLink link(1, "h", std::move(*stream));
  const uint64_t huge = 5ull << 30;
  detail::FrameHeader header{detail::kFrameMagic, 0, 4, huge + 1};
  ASSERT_TRUE(WriteFull(theirs.get(), &header, sizeof(header), Soon(5), "test").ok());
  Request recv;
  static char dummy;
  ASSERT_TRUE(link.PostRecv(4, &dummy, huge, &recv).ok());  // never written: mismatch comes first
  std::vector<Link*> links = {&link};
  std::vector<Request*> requests = {&recv};
  Status s = WaitForRequests(links, requests, Soon(5));
  EXPECT_NE(s.message().find("this rank expected broadcast #0 of 5368709120 bytes, the peer sent broadcast #0 of 5368709121"),
            std::string::npos)
      << s.ToString();
}

TEST(TcpLink, StrangerWithAWrongSecretDoesNotBreakSetUp) {
  const std::string job = UniqueJobId();
  Config config = TestConfig(TransportChoice::kTcp, job);
  auto store = std::make_shared<MemoryStore>();
  Status stranger_status;
  std::vector<Links> world(2);
  std::vector<Status> errors(2);
  std::thread stranger([&] {
    auto address = store->Get("comm/tcp-addr/0", std::chrono::seconds(10));
    ASSERT_TRUE(address.ok());
    auto fd = Connect(ParseHostPort(ToString(*address)).value(), Soon(5));
    ASSERT_TRUE(fd.ok());
    stranger_status = AuthenticateAsClient(fd->get(), "wrong-secret", "tcp-link", Soon(5), "rank 0");
  });
  RunRanks(2, [&](int r) {
    // Rank 1 (the connector) comes late, so the stranger arrives during rank 0's set-up.
    if (r == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto links = ConnectLinks(MakeSetup(r, 2, store, config));
    if (links.ok()) world[r] = std::move(links->links);
    else errors[r] = links.status();
  });
  stranger.join();
  EXPECT_EQ(stranger_status.code(), StatusCode::kUnauthenticated) << stranger_status.ToString();
  ASSERT_TRUE(errors[0].ok()) << errors[0].ToString();
  ASSERT_TRUE(errors[1].ok()) << errors[1].ToString();
  uint32_t out = 77, in = 0;
  Request send, recv;
  ASSERT_TRUE(world[0][1]->PostSend(1, &out, 4, &send).ok());
  ASSERT_TRUE(world[1][0]->PostRecv(1, &in, 4, &recv).ok());
  std::vector<Link*> links = {world[0][1].get(), world[1][0].get()};
  std::vector<Request*> requests = {&send, &recv};
  ASSERT_TRUE(WaitForRequests(links, requests, Soon()).ok());
  EXPECT_EQ(in, 77u);
}

TEST(TcpLink, WrongSecretOnOneRankFailsSetUpNamingThePeer) {
  const std::string job = UniqueJobId();
  auto store = std::make_shared<MemoryStore>();
  std::vector<Status> errors(2);
  RunRanks(2, [&](int r) {
    Config config = TestConfig(TransportChoice::kTcp, job);
    config.connect_timeout = std::chrono::seconds(2);
    if (r == 1) config.secret = "other";
    auto links = ConnectLinks(MakeSetup(r, 2, store, config));
    if (!links.ok()) errors[r] = links.status();
  });
  EXPECT_FALSE(errors[0].ok());
  EXPECT_NE(errors[0].message().find("rank 1 (host host0)"), std::string::npos) << errors[0].ToString();
  EXPECT_FALSE(errors[1].ok());
  EXPECT_NE(errors[1].message().find("rank 0 (host host0)"), std::string::npos) << errors[1].ToString();
}

// Two shm streams between this process and a fake peer whose pid is `peer_pid`.
struct FakeShmPair {
  std::shared_ptr<ShmSegment> a, b;
  std::unique_ptr<StreamLink> link_a, link_b;
};
FakeShmPair MakeFakeShmPair(const std::string& job, pid_t peer_pid) {
  FakeShmPair p;
  size_t ring = 64 << 10;
  p.a = ShmSegment::Create(ShmSegmentName(job, "world", 0), ShmSegmentBytes(1, ring)).value();
  p.b = ShmSegment::Create(ShmSegmentName(job, "world", 1), ShmSegmentBytes(1, ring)).value();
  InitShmSegment(*p.a, 0, ::getpid(), {1}, ring);
  InitShmSegment(*p.b, 1, peer_pid, {0}, ring);
  pid_t pid_b = 0;
  ShmRing a_in = FindShmRing(*p.a, 0, 1).value();
  ShmRing b_in = FindShmRing(*p.b, 1, 0, &pid_b).value();
  p.link_a = std::make_unique<StreamLink>(1, "host0", MakeShmStream(1, pid_b, p.a, a_in, p.b, b_in));
  p.link_b = std::make_unique<StreamLink>(0, "host0", MakeShmStream(0, ::getpid(), p.b, b_in, p.a, a_in));
  EXPECT_TRUE(p.a->Unlink().ok());
  EXPECT_TRUE(p.b->Unlink().ok());
  return p;
}

void ExpectDeadPeerDetected(pid_t dead_pid) {
  const std::string job = UniqueJobId();
  FakeShmPair pair = MakeFakeShmPair(job, dead_pid);
  EXPECT_TRUE(ShmLeftovers(job).empty());
  uint64_t value = 0;
  Request recv;
  ASSERT_TRUE(pair.link_a->PostRecv(1, &value, sizeof(value), &recv).ok());
  std::vector<Link*> links = {pair.link_a.get()};
  std::vector<Request*> requests = {&recv};
  Status s = WaitForRequests(links, requests, Soon(5));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("rank 1 (pid " + std::to_string(dead_pid) +
                             ") on this host is no longer running"),
            std::string::npos)
      << s.ToString();
  EXPECT_TRUE(recv.done);
}

TEST(ShmLink, DeadPeerProcessIsDetectedReaped) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_TRUE(ProcessIsGone(child));
  ExpectDeadPeerDetected(child);
}

TEST(ShmLink, DeadPeerProcessIsDetectedZombie) {
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  EXPECT_FALSE(ProcessIsGone(child));
  ::kill(child, SIGKILL);
  for (int i = 0; i < 200 && !ProcessIsGone(child); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ExpectDeadPeerDetected(child);  // a zombie: killed, not reaped yet
  ::waitpid(child, nullptr, 0);
}

TEST(ShmLink, LivePeerWorks) {
  FakeShmPair pair = MakeFakeShmPair(UniqueJobId(), ::getpid());
  std::vector<uint8_t> out(300000), in(300000);
  Fill(out, 0, 1, 1);
  Request send, recv;
  ASSERT_TRUE(pair.link_a->PostSend(1, out.data(), out.size(), &send).ok());
  ASSERT_TRUE(pair.link_b->PostRecv(1, in.data(), in.size(), &recv).ok());
  std::vector<Link*> links = {pair.link_a.get(), pair.link_b.get()};
  std::vector<Request*> requests = {&send, &recv};
  ASSERT_TRUE(WaitForRequests(links, requests, Soon()).ok());
  EXPECT_EQ(FirstWrong(in, 0, 1, 1), -1);
}

TEST(Connect, AutoUsesShmOnOneNodeAndTcpAcross) {
  const std::string job = UniqueJobId();
  auto world = ConnectWorld(4, TestConfig(TransportChoice::kAuto, job), {0, 0, 1, 1});
  ASSERT_EQ(world.size(), 4u);
  EXPECT_EQ(world[0][1]->kind(), "shm");
  EXPECT_EQ(world[2][3]->kind(), "shm");
  EXPECT_EQ(world[0][2]->kind(), "tcp");
  EXPECT_EQ(world[3][1]->kind(), "tcp");
  EXPECT_TRUE(ShmLeftovers(job).empty());
}

TEST(Connect, ForcedShmAcrossNodesIsAnError) {
  auto store = std::make_shared<MemoryStore>();
  auto links = ConnectLinks(MakeSetup(0, 2, store, TestConfig(TransportChoice::kShm, UniqueJobId()),
                                      {0, 1}));
  ASSERT_FALSE(links.ok());
  EXPECT_NE(links.status().message().find("rank 1 (host host1) is on another node"), std::string::npos)
      << links.status().ToString();
}

TEST(Connect, SingleRankHasNoLinks) {
  auto links = ConnectLinks(MakeSetup(0, 1, std::make_shared<MemoryStore>(),
                                      TestConfig(TransportChoice::kAuto, UniqueJobId())));
  ASSERT_TRUE(links.ok());
  ASSERT_EQ(links->links.size(), 1u);
  EXPECT_EQ(links->links[0], nullptr);
}

TEST(Connect, RemoveJobSegmentsUnlinksOnlyThatJob) {
  const std::string job = UniqueJobId();
  for (const std::string& name : {"/cohort-" + job + "-world-0", "/cohort-" + job + "-world-1",
                                  "/cohort-" + job + "x-world-0"}) {
    int fd = ::shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  EXPECT_EQ(ShmLeftovers(job).size(), 2u);
  EXPECT_EQ(RemoveJobSegments(job), 2);
  EXPECT_TRUE(ShmLeftovers(job).empty());
  EXPECT_EQ(RemoveJobSegments(job + "x"), 1);
  EXPECT_EQ(RemoveJobSegments(""), 0);
}

}  // namespace
}  // namespace cohort::testing
