// SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), kernel randomness and the job-secret
// challenge-response handshake described in auth.h. No OpenSSL: the store must work in
// minimal containers, and the amounts hashed here are tiny.
#include "runtime/store/auth.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "runtime/net/socket.h"

namespace cohort {
namespace {

constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

class Sha256State {
 public:
  void Update(const void* data, size_t bytes) {
    const auto* p = static_cast<const uint8_t*>(data);
    total_bytes_ += bytes;
    while (bytes > 0) {
      size_t take = std::min(bytes, sizeof(block_) - block_used_);
      std::memcpy(block_ + block_used_, p, take);
      block_used_ += take;
      p += take;
      bytes -= take;
      if (block_used_ == sizeof(block_)) {
        Compress();
        block_used_ = 0;
      }
    }
  }

  Digest Finish() {
    uint64_t bit_length = total_bytes_ * 8;
    uint8_t pad = 0x80;
    Update(&pad, 1);
    uint8_t zero = 0;
    while (block_used_ != 56) Update(&zero, 1);
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(bit_length >> (56 - 8 * i));
    Update(length, 8);
    Digest out;
    for (int i = 0; i < 8; ++i) {
      for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h_[i] >> (24 - 8 * j));
    }
    return out;
  }

 private:
  void Compress() {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{block_[4 * i]} << 24) | (uint32_t{block_[4 * i + 1]} << 16) |
             (uint32_t{block_[4 * i + 2]} << 8) | uint32_t{block_[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
             h = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                    kRoundConstants[i] + w[i];
      uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d;
    h_[4] += e; h_[5] += f; h_[6] += g; h_[7] += h;
  }

  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t block_[64] = {};
  size_t block_used_ = 0;
  uint64_t total_bytes_ = 0;
};

constexpr uint8_t kHelloMagic[8] = {'C', 'O', 'H', 'A', 'U', 'T', 'H', '1'};

// HMAC(secret, purpose | 0 | role | first nonce | second nonce). The zero byte keeps a purpose
// that ends in "client" from colliding with another purpose.
Digest Proof(std::string_view secret, std::string_view purpose, std::string_view role,
             const uint8_t* first_nonce, const uint8_t* second_nonce) {
  std::vector<uint8_t> message(purpose.begin(), purpose.end());
  message.push_back(0);
  message.insert(message.end(), role.begin(), role.end());
  message.insert(message.end(), first_nonce, first_nonce + detail::kAuthNonceBytes);
  message.insert(message.end(), second_nonce, second_nonce + detail::kAuthNonceBytes);
  return HmacSha256(secret, message.data(), message.size());
}

std::string WrongSecretHint() {
  return "COHORT_JOB_SECRET differs between this rank and the launcher";
}

}  // namespace

Digest Sha256(const void* data, size_t bytes) {
  Sha256State state;
  state.Update(data, bytes);
  return state.Finish();
}

Digest HmacSha256(std::string_view key, const void* data, size_t bytes) {
  uint8_t block_key[64] = {};
  if (key.size() > sizeof(block_key)) {
    Digest hashed = Sha256(key.data(), key.size());
    std::memcpy(block_key, hashed.data(), hashed.size());
  } else {
    std::memcpy(block_key, key.data(), key.size());
  }
  uint8_t inner_pad[64], outer_pad[64];
  for (int i = 0; i < 64; ++i) {
    inner_pad[i] = block_key[i] ^ 0x36;
    outer_pad[i] = block_key[i] ^ 0x5c;
  }
  Sha256State inner;
  inner.Update(inner_pad, sizeof(inner_pad));
  inner.Update(data, bytes);
  Digest inner_digest = inner.Finish();
  Sha256State outer;
  outer.Update(outer_pad, sizeof(outer_pad));
  outer.Update(inner_digest.data(), inner_digest.size());
  return outer.Finish();
}

bool ConstantTimeEqual(const Digest& a, const Digest& b) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | (a[i] ^ b[i]);
  return diff == 0;
}

Status RandomBytes(void* out, size_t count) {
  auto* p = static_cast<uint8_t*>(out);
  while (count > 0) {
    ssize_t n = ::getrandom(p, count, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("getrandom()", errno);
    }
    p += n;
    count -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> GenerateSecret() {
  uint8_t raw[32];
  COHORT_RETURN_IF_ERROR(RandomBytes(raw, sizeof(raw)));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string secret;
  secret.reserve(64);
  for (uint8_t byte : raw) {
    secret.push_back(kHex[byte >> 4]);
    secret.push_back(kHex[byte & 15]);
  }
  return secret;
}

namespace detail {

AuthHello MakeAuthHello(const AuthNonce& server_nonce) {
  AuthHello hello;
  std::memcpy(hello.data(), kHelloMagic, sizeof(kHelloMagic));
  std::memcpy(hello.data() + sizeof(kHelloMagic), server_nonce.data(), server_nonce.size());
  return hello;
}

Result<std::array<uint8_t, 33>> CheckAuthResponse(std::string_view secret, std::string_view purpose,
                                                  const AuthNonce& server_nonce,
                                                  const uint8_t* response) {
  const uint8_t* client_nonce = response;
  Digest claimed;
  std::memcpy(claimed.data(), response + kAuthNonceBytes, claimed.size());
  Digest expected = Proof(secret, purpose, "client", server_nonce.data(), client_nonce);
  if (!ConstantTimeEqual(claimed, expected)) {
    return UnauthenticatedError("the client did not prove the job secret for '" +
                                std::string(purpose) + "'");
  }
  Digest ours = Proof(secret, purpose, "server", client_nonce, server_nonce.data());
  std::array<uint8_t, 33> verdict;
  verdict[0] = kAuthAccepted;
  std::memcpy(verdict.data() + 1, ours.data(), ours.size());
  return verdict;
}

}  // namespace detail

Status AuthenticateAsServer(int fd, std::string_view secret, std::string_view purpose,
                            Deadline deadline, const std::string& what) {
  detail::AuthNonce server_nonce;
  COHORT_RETURN_IF_ERROR(RandomBytes(server_nonce.data(), server_nonce.size()));
  detail::AuthHello hello = detail::MakeAuthHello(server_nonce);
  COHORT_RETURN_IF_ERROR(WriteFull(fd, hello.data(), hello.size(), deadline, what));
  uint8_t response[detail::kAuthResponseBytes];
  COHORT_RETURN_IF_ERROR(ReadFull(fd, response, sizeof(response), deadline, what));
  auto verdict = detail::CheckAuthResponse(secret, purpose, server_nonce, response);
  if (!verdict.ok()) {
    uint8_t refused = detail::kAuthRefused;
    (void)WriteFull(fd, &refused, 1, deadline, what);
    return UnauthenticatedError(what + " did not prove the job secret (" + WrongSecretHint() +
                                "); connection refused");
  }
  return WriteFull(fd, verdict->data(), verdict->size(), deadline, what);
}

Status AuthenticateAsClient(int fd, std::string_view secret, std::string_view purpose,
                            Deadline deadline, const std::string& what) {
  detail::AuthHello hello;
  COHORT_RETURN_IF_ERROR(ReadFull(fd, hello.data(), hello.size(), deadline, what));
  if (std::memcmp(hello.data(), kHelloMagic, sizeof(kHelloMagic)) != 0) {
    return UnavailableError(what + " did not start the cohort handshake; is that address a "
                            "cohort store or rank, and from the same cohort version?");
  }
  detail::AuthNonce server_nonce;
  std::memcpy(server_nonce.data(), hello.data() + sizeof(kHelloMagic), server_nonce.size());
  uint8_t response[detail::kAuthResponseBytes];
  COHORT_RETURN_IF_ERROR(RandomBytes(response, detail::kAuthNonceBytes));
  Digest proof = Proof(secret, purpose, "client", server_nonce.data(), response);
  std::memcpy(response + detail::kAuthNonceBytes, proof.data(), proof.size());
  COHORT_RETURN_IF_ERROR(WriteFull(fd, response, sizeof(response), deadline, what));

  uint8_t verdict = 0;
  Status read = ReadFull(fd, &verdict, 1, deadline, what);
  if (!read.ok()) return read.WithContext("during the authentication handshake: ");
  if (verdict == detail::kAuthRefused) {
    return UnauthenticatedError(what + " refused our credentials: " + WrongSecretHint());
  }
  if (verdict != detail::kAuthAccepted) {
    return UnavailableError(what + " sent an unexpected handshake reply");
  }
  Digest server_proof;
  COHORT_RETURN_IF_ERROR(ReadFull(fd, server_proof.data(), server_proof.size(), deadline, what));
  Digest expected = Proof(secret, purpose, "server", response, server_nonce.data());
  if (!ConstantTimeEqual(server_proof, expected)) {
    return UnauthenticatedError(what + " could not prove the job secret (" + WrongSecretHint() +
                                ", or another program answers at that address)");
  }
  return Status::Ok();
}

}  // namespace cohort
