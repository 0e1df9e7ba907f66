// UCX links against a stranger: a process that reaches a rank's UCX worker (it learned the
// address) but has no job secret. Its messages, with guessed or random tags, small or large,
// must never reach a receive, and must be dropped (counted) rather than pile up. Peers' early
// messages must survive the same screen. Over UCX's loopback transports, in one process.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <random>
#include <string>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/transport/ucx/ucx_link.h"

namespace cohort {
namespace {

constexpr char kSecret[] = "ucx-link-test-secret";

// The value of a call that must succeed; the test stops here otherwise.
template <typename T>
T Must(Result<T> result) {
  if (!result.ok()) {
    ADD_FAILURE() << result.status().ToString();
    std::abort();
  }
  return std::move(result).value();
}

struct Pair {
  std::shared_ptr<UcxWorker> a, b;
  std::unique_ptr<UcxLink> a_to_b, b_to_a;
};

Result<std::shared_ptr<UcxWorker>> MakeWorker(const std::string& secret) {
  return UcxWorker::Create("", secret, 2);
}

// TCP ports this process listens on (UCX's tcp transport opens them for its workers).
std::vector<int> OwnListeningPorts() {
  std::set<std::string> inodes;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* entry = ::readdir(dir)) {
      char target[256];
      const std::string path = std::string("/proc/self/fd/") + entry->d_name;
      const ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      const std::string link(target, static_cast<size_t>(n));
      if (link.rfind("socket:[", 0) == 0) inodes.insert(link.substr(8, link.size() - 9));
    }
    ::closedir(dir);
  }
  std::vector<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, skip, inode;
      fields >> slot >> local >> remote >> state;
      for (int i = 0; i < 5; ++i) fields >> skip;
      fields >> inode;
      if (state == "0A" && inodes.count(inode) != 0) {
        ports.push_back(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
      }
    }
  }
  return ports;
}

// Ranks 0 (worker a) and 1 (worker b), linked and past their hello.
Pair Connect() {
  Pair p;
  p.a = Must(MakeWorker(kSecret));
  p.b = Must(MakeWorker(kSecret));
  p.a_to_b = std::make_unique<UcxLink>(0, 1, "b", p.a, ucx_tag::DeriveKey(kSecret, p.b->nonce()));
  p.b_to_a = std::make_unique<UcxLink>(1, 0, "a", p.b, ucx_tag::DeriveKey(kSecret, p.a->nonce()));
  EXPECT_TRUE(p.a_to_b->Connect(Must(p.b->Address())).ok());
  EXPECT_TRUE(p.b_to_a->Connect(Must(p.a->Address())).ok());
  EXPECT_TRUE(p.a_to_b->StartHello(2).ok());
  EXPECT_TRUE(p.b_to_a->StartHello(2).ok());
  const Deadline deadline = Deadline::After(std::chrono::seconds(30));
  bool a_done = false, b_done = false;
  while (!(a_done && b_done) && !deadline.expired()) {
    if (!a_done) a_done = Must(p.a_to_b->HelloDone());
    if (!b_done) b_done = Must(p.b_to_a->HelloDone());
  }
  EXPECT_TRUE(a_done && b_done) << "hello did not complete";
  return p;
}

// A worker of its own (another secret) with an endpoint to `target`'s address: what a stranger
// who learned the address could do.
struct Stranger {
  std::shared_ptr<UcxWorker> worker;
  ucp_ep_h ep = nullptr;
  std::vector<std::vector<char>> payloads;
  std::vector<void*> sends;

  explicit Stranger(const UcxWorker& target) {
    worker = Must(MakeWorker("not-the-job-secret"));
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    const std::string address = Must(target.Address());
    params.address = reinterpret_cast<const ucp_address_t*>(address.data());
    EXPECT_EQ(ucp_ep_create(worker->get(), &params, &ep), UCS_OK);
  }
  void Send(uint64_t tag, size_t bytes) {
    payloads.emplace_back(bytes, static_cast<char>(0xEE));
    ucp_request_param_t param{};
    ucs_status_ptr_t send = ucp_tag_send_nbx(ep, payloads.back().data(), bytes, tag, &param);
    ASSERT_FALSE(UCS_PTR_IS_ERR(send));
    if (send != nullptr) sends.push_back(send);
  }
  bool SendsDone() {
    for (void* send : sends) {
      if (ucp_request_check_status(send) == UCS_INPROGRESS) return false;
    }
    return true;
  }
  ~Stranger() {
    for (void* send : sends) ucp_request_free(send);
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = UCP_EP_CLOSE_FLAG_FORCE;
    ucs_status_ptr_t close = ucp_ep_close_nbx(ep, &param);
    if (UCS_PTR_IS_PTR(close)) {
      while (ucp_request_check_status(close) == UCS_INPROGRESS) worker->Progress();
      ucp_request_free(close);
    }
  }
};

std::vector<char> Pattern(int index, size_t bytes) {
  std::vector<char> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(index * 31 + i * 7);
  return data;
}

TEST(UcxTagKey, DependsOnSecretAndNonce) {
  ucx_tag::Nonce n1{}, n2{};
  n2[31] = 1;
  EXPECT_EQ(ucx_tag::DeriveKey("s", n1), ucx_tag::DeriveKey("s", n1));
  EXPECT_NE(ucx_tag::DeriveKey("s", n1), ucx_tag::DeriveKey("s", n2));
  EXPECT_NE(ucx_tag::DeriveKey("s", n1), ucx_tag::DeriveKey("t", n1));
}

TEST(UcxWorker, RefusesAnEmptySecret) {
  auto worker = UcxWorker::Create("", "", 2);
  ASSERT_FALSE(worker.ok());
  EXPECT_NE(worker.status().message().find("COHORT_JOB_SECRET"), std::string::npos);
}

TEST(UcxWorker, TwoWorkersGetDifferentKeys) {
  std::shared_ptr<UcxWorker> a = Must(MakeWorker(kSecret));
  std::shared_ptr<UcxWorker> b = Must(MakeWorker(kSecret));
  EXPECT_NE(a->nonce(), b->nonce());
  EXPECT_NE(a->key(), b->key());
}

// The stranger sends first: guessed tags (the layout without the key, as if from rank 1, for the
// very receives rank 0 will post), an abort, random tags and a message too large for the
// scratch buffer. Then rank 1 sends its messages before rank 0 posts any receive, so they wait
// in the same unexpected queue. Rank 0 must receive exactly rank 1's bytes, keep its link, and
// have dropped every one of the stranger's messages.
TEST(UcxLink, StrangersMessagesAreDroppedAndPeersArrive) {
  Pair p = Connect();
  Stranger stranger(*p.a);
  constexpr int kMessages = 8;
  constexpr size_t kBytes = 4096;
  int sent_by_stranger = 0;
  for (int i = 0; i < kMessages; ++i, ++sent_by_stranger) {
    stranger.Send(ucx_tag::Make(ucx_tag::kData, 1, static_cast<uint64_t>(i), 0x1234), kBytes);
  }
  stranger.Send(ucx_tag::Make(ucx_tag::kAbort, 1, 0, 0), 64);
  ++sent_by_stranger;
  std::mt19937_64 random(42);
  for (int i = 0; i < 20; ++i, ++sent_by_stranger) stranger.Send(random(), 16);
  stranger.Send(random(), size_t{1} << 20);  // rendezvous, larger than the scratch buffer
  ++sent_by_stranger;

  std::vector<std::vector<char>> sent;
  std::vector<Request> send_requests(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    sent.push_back(Pattern(i, kBytes));
    ASSERT_TRUE(p.b_to_a->PostSend(0x1234, sent.back().data(), kBytes, &send_requests[i]).ok());
  }
  // Rank 0 runs its progress (and so its screen) for a while before posting receives.
  const Deadline screened = Deadline::After(std::chrono::seconds(30));
  while ((p.a->refused() < static_cast<uint64_t>(sent_by_stranger) || !stranger.SendsDone()) &&
         !screened.expired()) {
    p.a->Progress();
    p.b->Progress();
    stranger.worker->Progress();
    (void)p.b_to_a->Progress();
  }
  EXPECT_EQ(p.a->refused(), static_cast<uint64_t>(sent_by_stranger));

  std::vector<std::vector<char>> got(kMessages, std::vector<char>(kBytes, 0));
  std::vector<Request> recv_requests(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(p.a_to_b->PostRecv(0x1234, got[i].data(), kBytes, &recv_requests[i]).ok());
  }
  const Deadline deadline = Deadline::After(std::chrono::seconds(30));
  auto all_done = [&] {
    for (int i = 0; i < kMessages; ++i) {
      if (!recv_requests[i].done || !send_requests[i].done) return false;
    }
    return true;
  };
  while (!all_done() && !deadline.expired()) {
    ASSERT_TRUE(p.a_to_b->Progress().ok());
    ASSERT_TRUE(p.b_to_a->Progress().ok());
  }
  ASSERT_TRUE(all_done());
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_TRUE(recv_requests[i].status.ok()) << recv_requests[i].status.ToString();
    EXPECT_EQ(got[i], sent[i]) << "message " << i << " is not rank 1's";
  }
  EXPECT_TRUE(p.a_to_b->CheckPeerAlive().ok());
}

// Exchanges `count` messages each way between the linked pair and checks every byte.
void ExchangeAndCheck(Pair& p, int count) {
  constexpr size_t kBytes = 65536;
  std::vector<std::vector<char>> sent, got(2 * count, std::vector<char>(kBytes, 0));
  std::vector<Request> requests(4 * count);
  for (int i = 0; i < 2 * count; ++i) sent.push_back(Pattern(i, kBytes));
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(p.a_to_b->PostRecv(7, got[i].data(), kBytes, &requests[4 * i]).ok());
    ASSERT_TRUE(p.b_to_a->PostRecv(7, got[count + i].data(), kBytes, &requests[4 * i + 1]).ok());
    ASSERT_TRUE(p.b_to_a->PostSend(7, sent[i].data(), kBytes, &requests[4 * i + 2]).ok());
    ASSERT_TRUE(p.a_to_b->PostSend(7, sent[count + i].data(), kBytes, &requests[4 * i + 3]).ok());
  }
  const Deadline deadline = Deadline::After(std::chrono::seconds(30));
  auto all_done = [&] {
    for (const Request& r : requests) {
      if (!r.done) return false;
    }
    return true;
  };
  while (!all_done() && !deadline.expired()) {
    ASSERT_TRUE(p.a_to_b->Progress().ok());
    ASSERT_TRUE(p.b_to_a->Progress().ok());
  }
  ASSERT_TRUE(all_done()) << "messages did not complete within 30 s";
  for (const Request& r : requests) EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  for (int i = 0; i < 2 * count; ++i) EXPECT_EQ(got[i], sent[i]) << "message " << i;
}

// A stranger that does not speak UCX: random bytes of several sizes on every TCP port the
// workers listen on. UCX's tcp transport must reject them without disturbing the links.
TEST(UcxLink, RandomBytesOnUcxsPortsLeaveTheLinksWorking) {
  ::setenv("UCX_TLS", "tcp", 1);  // this test runs in a process of its own (gtest_discover_tests)
  Pair p = Connect();
  const std::vector<int> ports = OwnListeningPorts();
  ASSERT_FALSE(ports.empty()) << "no listening TCP port found for UCX_TLS=tcp";
  std::mt19937 random(7);
  for (int port : ports) {
    for (size_t bytes : {size_t{1}, size_t{8}, size_t{64}, size_t{4096}, size_t{60000}}) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(fd, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<uint16_t>(port));
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
        std::vector<char> noise(bytes);
        for (char& c : noise) c = static_cast<char>(random());
        (void)::send(fd, noise.data(), noise.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        for (int i = 0; i < 100; ++i) {  // let the workers see it before the socket closes
          p.a->Progress();
          p.b->Progress();
        }
      }
      ::close(fd);
    }
  }
  std::printf("random bytes sent to %zu listening ports\n", ports.size());
  ExchangeAndCheck(p, 16);
  EXPECT_TRUE(p.a_to_b->CheckPeerAlive().ok());
  EXPECT_TRUE(p.b_to_a->CheckPeerAlive().ok());
}

// A peer with another secret derives the wrong key: its hello never matches, and is dropped.
TEST(UcxLink, APeerWithAnotherSecretIsNotAccepted) {
  std::shared_ptr<UcxWorker> a = Must(MakeWorker(kSecret));
  std::shared_ptr<UcxWorker> b = Must(MakeWorker("another-secret"));
  UcxLink a_to_b(0, 1, "b", a, ucx_tag::DeriveKey(kSecret, b->nonce()));
  UcxLink b_to_a(1, 0, "a", b, ucx_tag::DeriveKey("another-secret", a->nonce()));
  ASSERT_TRUE(a_to_b.Connect(Must(b->Address())).ok());
  ASSERT_TRUE(b_to_a.Connect(Must(a->Address())).ok());
  ASSERT_TRUE(a_to_b.StartHello(2).ok());
  ASSERT_TRUE(b_to_a.StartHello(2).ok());
  const Deadline deadline = Deadline::After(std::chrono::seconds(3));
  bool a_done = false;
  while (!deadline.expired() && a->refused() == 0) {
    a_done = a_done || Must(a_to_b.HelloDone());
    (void)b_to_a.HelloDone();
  }
  EXPECT_FALSE(a_done) << "rank 0 accepted the hello of a peer without the job secret";
  EXPECT_EQ(a->refused(), 1u);
}

}  // namespace
}  // namespace cohort
