// Fuzz target: the job-secret handshake (runtime/store/auth.h), which every store and tcp-link
// connection runs before anything else, so its parsing faces anyone who can reach a port.
//  - CheckAuthResponse (the store server's check of a client's 64 bytes): accepts exactly when
//    the proof is HMAC(secret, purpose|0|"client"|server nonce|client nonce), computed here from
//    the documented layout, and then answers 'Y' and the server's proof. Half of the inputs get
//    a correct proof spliced in, so that the accepting path is fuzzed too.
//  - AuthenticateAsClient and AuthenticateAsServer over a socketpair whose other end sends the
//    fuzzer's bytes and then closes: whatever arrives, neither ever succeeds (the other side
//    cannot know this side's fresh random nonce) and both return a handshake error.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/store/auth.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort {
namespace {

Digest Proof(const std::string& secret, const std::string& purpose, const std::string& role,
             const uint8_t* first_nonce, const uint8_t* second_nonce) {
  std::vector<uint8_t> message(purpose.begin(), purpose.end());
  message.push_back(0);
  message.insert(message.end(), role.begin(), role.end());
  message.insert(message.end(), first_nonce, first_nonce + detail::kAuthNonceBytes);
  message.insert(message.end(), second_nonce, second_nonce + detail::kAuthNonceBytes);
  return HmacSha256(secret, message.data(), message.size());
}

void FuzzCheckResponse(FuzzInput& in) {
  const std::string secret = in.ConsumeRandomLengthString(100);
  const std::string purpose = in.ConsumeBool() ? "store" : in.ConsumeRandomLengthString(16);
  const bool splice = in.ConsumeBool();
  detail::AuthNonce server_nonce{};
  std::vector<uint8_t> nonce = in.ConsumeBytes<uint8_t>(server_nonce.size());
  std::copy(nonce.begin(), nonce.end(), server_nonce.begin());
  uint8_t response[detail::kAuthResponseBytes] = {};
  std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(sizeof(response));
  std::copy(bytes.begin(), bytes.end(), response);

  const uint8_t* client_nonce = response;
  const Digest expected = Proof(secret, purpose, "client", server_nonce.data(), client_nonce);
  if (splice) std::memcpy(response + detail::kAuthNonceBytes, expected.data(), expected.size());
  const bool proves = std::memcmp(response + detail::kAuthNonceBytes, expected.data(),
                                  expected.size()) == 0;
  auto verdict = detail::CheckAuthResponse(secret, purpose, server_nonce, response);
  FUZZ_CHECK(verdict.ok() == proves, "accepted %d, but the proof is %s", verdict.ok(),
             proves ? "right" : "wrong");
  if (verdict.ok()) {
    const Digest ours = Proof(secret, purpose, "server", client_nonce, server_nonce.data());
    FUZZ_CHECK((*verdict)[0] == detail::kAuthAccepted &&
                   std::memcmp(verdict->data() + 1, ours.data(), ours.size()) == 0,
               "the server's answer is not 'Y' and its proof");
  } else {
    FUZZ_CHECK(verdict.status().code() == StatusCode::kUnauthenticated, "%s",
               verdict.status().ToString().c_str());
  }
}

// Runs one side of the handshake against a peer that sends `peer_bytes` and closes.
void FuzzHandshake(bool as_server, const std::vector<uint8_t>& peer_bytes) {
  int fds[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
  // Up to 16 KiB fit the socket buffer: written at once, then end of stream. (The handshake
  // reads at most 73 bytes.)
  const size_t bytes = std::min<size_t>(peer_bytes.size(), 16 << 10);
  size_t sent = 0;
  while (sent < bytes) {
    ssize_t n = ::send(fds[1], peer_bytes.data() + sent, bytes - sent, MSG_NOSIGNAL);
    FUZZ_CHECK(n > 0, "send to the socketpair");
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fds[1], SHUT_WR);
  const Deadline deadline = Deadline::After(std::chrono::seconds(10));
  const std::string what = "fuzz peer";
  Status status = as_server ? AuthenticateAsServer(fds[0], "secret", "store", deadline, what)
                            : AuthenticateAsClient(fds[0], "secret", "store", deadline, what);
  ::close(fds[0]);
  ::close(fds[1]);
  FUZZ_CHECK(!status.ok(), "a handshake succeeded against bytes that cannot know the nonce");
  FUZZ_CHECK(status.code() == StatusCode::kUnauthenticated ||
                 status.code() == StatusCode::kUnavailable,
             "unexpected handshake error: %s", status.ToString().c_str());
}

}  // namespace
}  // namespace cohort

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: cohort::FuzzCheckResponse(in); break;
    case 1: cohort::FuzzHandshake(false, in.ConsumeRemainingBytes<uint8_t>()); break;
    case 2: cohort::FuzzHandshake(true, in.ConsumeRemainingBytes<uint8_t>()); break;
  }
  return 0;
}
