// SHA-256 (NIST FIPS 180-4 examples), HMAC-SHA256 (RFC 4231), randomness and the blocking
// job-secret handshake of auth.h.
#include "runtime/store/auth.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <set>
#include <string>
#include <thread>

#include "runtime/net/socket.h"

namespace cohort {
namespace {

std::string Hex(const uint8_t* data, size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}
std::string Hex(const Digest& d) { return Hex(d.data(), d.size()); }
std::string Sha(const std::string& s) { return Hex(Sha256(s.data(), s.size())); }
std::string Hmac(const std::string& key, const std::string& data) {
  return Hex(HmacSha256(key, data.data(), data.size()));
}

TEST(Sha256Test, NistVectors) {
  EXPECT_EQ(Sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
                "nopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(Sha(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, LengthsAroundTheBlockBoundary) {
  // 55, 56 and 64 bytes exercise the padding that spills into a second block.
  EXPECT_EQ(Sha(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(Sha(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(Sha(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(HmacSha256Test, Rfc4231Vectors) {
  EXPECT_EQ(Hmac(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Hmac("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hmac(std::string(20, '\xaa'), std::string(50, '\xdd')),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  std::string key4;
  for (int i = 1; i <= 25; ++i) key4.push_back(static_cast<char>(i));
  EXPECT_EQ(Hmac(key4, std::string(50, '\xcd')),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // Test case 5 compares only the first 128 bits.
  EXPECT_EQ(Hmac(std::string(20, '\x0c'), "Test With Truncation").substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
  EXPECT_EQ(Hmac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(Hmac(std::string(131, '\xaa'),
                 "This is a test using a larger than block-size key and a larger than block-size "
                 "data. The key needs to be hashed before being used by the HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(AuthTest, ConstantTimeEqual) {
  Digest a = Sha256("x", 1);
  Digest b = a;
  EXPECT_TRUE(ConstantTimeEqual(a, b));
  for (size_t i = 0; i < b.size(); i += 7) {
    Digest c = a;
    c[i] ^= 1;
    EXPECT_FALSE(ConstantTimeEqual(a, c)) << "byte " << i;
  }
}

TEST(AuthTest, SecretsAreHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 32; ++i) {
    auto secret = GenerateSecret();
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    EXPECT_EQ(secret->size(), 64u);
    EXPECT_EQ(secret->find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(*secret);
  }
  EXPECT_EQ(seen.size(), 32u);
  uint8_t buffer[1000] = {};
  ASSERT_TRUE(RandomBytes(buffer, sizeof(buffer)).ok());
  int zeros = 0;
  for (uint8_t byte : buffer) zeros += byte == 0;
  EXPECT_LT(zeros, 30);
}

struct HandshakeOutcome {
  Status server;
  Status client;
};

HandshakeOutcome RunHandshake(const std::string& server_secret, const std::string& client_secret,
                              const std::string& server_purpose,
                              const std::string& client_purpose) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd server_fd(fds[0]), client_fd(fds[1]);
  HandshakeOutcome outcome;
  Deadline deadline = Deadline::After(std::chrono::seconds(10));
  std::thread server([&] {
    outcome.server = AuthenticateAsServer(server_fd.get(), server_secret, server_purpose, deadline,
                                          "client");
    if (!outcome.server.ok()) server_fd.reset();  // the server closes a refused client
  });
  outcome.client = AuthenticateAsClient(client_fd.get(), client_secret, client_purpose, deadline,
                                        "store at test");
  server.join();
  return outcome;
}

TEST(HandshakeTest, SameSecretAndPurposeSucceeds) {
  auto outcome = RunHandshake("s3cret", "s3cret", "store", "store");
  EXPECT_TRUE(outcome.server.ok()) << outcome.server.ToString();
  EXPECT_TRUE(outcome.client.ok()) << outcome.client.ToString();
}

TEST(HandshakeTest, WrongSecretIsRefusedOnBothSides) {
  auto outcome = RunHandshake("right-secret", "wrong-secret", "store", "store");
  EXPECT_EQ(outcome.server.code(), StatusCode::kUnauthenticated) << outcome.server.ToString();
  EXPECT_EQ(outcome.client.code(), StatusCode::kUnauthenticated) << outcome.client.ToString();
  EXPECT_NE(outcome.client.message().find("refused our credentials"), std::string::npos);
  EXPECT_NE(outcome.client.message().find("COHORT_JOB_SECRET"), std::string::npos);
  for (const auto& status : {outcome.server, outcome.client}) {
    EXPECT_EQ(status.message().find("right-secret"), std::string::npos);
    EXPECT_EQ(status.message().find("wrong-secret"), std::string::npos);
  }
}

TEST(HandshakeTest, PurposeSeparatesUses) {
  auto outcome = RunHandshake("s3cret", "s3cret", "store", "tcp-link");
  EXPECT_EQ(outcome.server.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(outcome.client.code(), StatusCode::kUnauthenticated);
}

TEST(HandshakeTest, ClientDetectsAnImpostorServer) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd impostor(fds[0]), client_fd(fds[1]);
  std::thread server([&] {
    // Plays the server's part without the secret: valid hello, then an "accepted" with junk.
    detail::AuthNonce nonce{};
    auto hello = detail::MakeAuthHello(nonce);
    Deadline deadline = Deadline::After(std::chrono::seconds(10));
    ASSERT_TRUE(WriteFull(impostor.get(), hello.data(), hello.size(), deadline, "c").ok());
    uint8_t response[detail::kAuthResponseBytes];
    ASSERT_TRUE(ReadFull(impostor.get(), response, sizeof(response), deadline, "c").ok());
    uint8_t verdict[33] = {detail::kAuthAccepted};
    ASSERT_TRUE(WriteFull(impostor.get(), verdict, sizeof(verdict), deadline, "c").ok());
  });
  Status client = AuthenticateAsClient(client_fd.get(), "s3cret", "store",
                                       Deadline::After(std::chrono::seconds(10)), "store at x");
  server.join();
  EXPECT_EQ(client.code(), StatusCode::kUnauthenticated) << client.ToString();
}

TEST(HandshakeTest, NotACohortPeer) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd other(fds[0]), client_fd(fds[1]);
  const char banner[] = "SSH-2.0-OpenSSH_9.6 hello there, not cohort";
  ASSERT_TRUE(WriteFull(other.get(), banner, sizeof(banner), Deadline::Never(), "x").ok());
  Status client = AuthenticateAsClient(client_fd.get(), "s3cret", "store",
                                       Deadline::After(std::chrono::seconds(5)), "store at x");
  EXPECT_EQ(client.code(), StatusCode::kUnavailable) << client.ToString();
}

}  // namespace
}  // namespace cohort
