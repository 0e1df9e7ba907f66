// Job-secret authentication shared by the store and the transports: SHA-256, HMAC-SHA256 and a
// challenge-response handshake in which the secret never crosses the wire. Both sides prove
// knowledge of the secret (mutual), so a client cannot be lured into talking to an impostor.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/base/deadline.h"
#include "runtime/base/status.h"

namespace cohort {

using Digest = std::array<uint8_t, 32>;

Digest Sha256(const void* data, size_t bytes);
Digest HmacSha256(std::string_view key, const void* data, size_t bytes);
// Compares without an early exit, so timing does not reveal how many bytes matched.
bool ConstantTimeEqual(const Digest& a, const Digest& b);

// A new random secret (64 hex characters) from the kernel's random source.
Result<std::string> GenerateSecret();
// `count` random bytes from the kernel's random source.
Status RandomBytes(void* out, size_t count);

// Runs the handshake on a connected blocking socket. `purpose` separates uses of one secret
// ("store", "tcp-link") so a proof for one is useless for another; `what` names the other side
// in errors. A wrong secret on either side gives kUnauthenticated on both.
//   server -> client: magic, server nonce
//   client -> server: client nonce, HMAC(secret, purpose|"client"|server nonce|client nonce)
//   server -> client: HMAC(secret, purpose|"server"|client nonce|server nonce) or a refusal
Status AuthenticateAsServer(int fd, std::string_view secret, std::string_view purpose,
                            Deadline deadline, const std::string& what);
Status AuthenticateAsClient(int fd, std::string_view secret, std::string_view purpose,
                            Deadline deadline, const std::string& what);

// The handshake's wire pieces, for servers that run it inside their own poll loop
// (TcpStoreServer) instead of blocking in AuthenticateAsServer.
namespace detail {
inline constexpr size_t kAuthNonceBytes = 32;
inline constexpr size_t kAuthHelloBytes = 8 + kAuthNonceBytes;          // magic, server nonce
inline constexpr size_t kAuthResponseBytes = kAuthNonceBytes + 32;      // client nonce, proof
inline constexpr uint8_t kAuthAccepted = 'Y';  // followed by the server's 32-byte proof
inline constexpr uint8_t kAuthRefused = 'N';   // alone; the server then closes

using AuthHello = std::array<uint8_t, kAuthHelloBytes>;
using AuthNonce = std::array<uint8_t, kAuthNonceBytes>;

AuthHello MakeAuthHello(const AuthNonce& server_nonce);
// Checks the client's response to `server_nonce`. On success returns the bytes the server sends
// back (kAuthAccepted and its proof); on failure, kUnauthenticated (send kAuthRefused).
Result<std::array<uint8_t, 33>> CheckAuthResponse(std::string_view secret, std::string_view purpose,
                                                  const AuthNonce& server_nonce,
                                                  const uint8_t* response);
}  // namespace detail

}  // namespace cohort
