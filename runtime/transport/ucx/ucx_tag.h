// The ucp tag of every message of a UcxLink (ucx_link.h). Each message is one ucp tag send, and
// the tag carries what StreamLink's frame header carries, so nothing extra crosses the wire:
//
//   bits 62-63  kind: data, abort (the peer broke the link; text follows) or hello (set-up)
//   bits 42-61  sender's rank (up to 2^20 ranks)
//   bits 16-41  per-direction message number (mod 2^26), so the n-th send meets the n-th receive
//   bits  0-15  the low 16 bits of cohort's tag: collective kind, dtype and op (runtime/base/tag.h)
//
// On the wire every tag is XORed with the receiving worker's key, derived from the job secret
// and a random nonce the worker publishes through the store (which only secret holders can
// read). Matching is unchanged (both sides of a match carry the same key), but a process without
// the secret cannot address any posted receive: it would have to guess the 46 masked bits. What
// such a process sends never matches and is dropped by the worker's screen (ucx_worker.h).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace cohort::ucx_tag {

enum Kind : uint64_t { kData = 0, kAbort = 1, kHello = 2 };
inline constexpr int kRankBits = 20;
inline constexpr int kNumberBits = 26;
inline constexpr uint64_t kCohortBitsMask = 0xffff;
inline constexpr uint64_t kNumberMask = (uint64_t{1} << kNumberBits) - 1;
inline constexpr uint64_t kMaxRanks = uint64_t{1} << kRankBits;
inline constexpr int kKindShift = 62, kSenderShift = 42, kNumberShift = 16;

constexpr uint64_t Make(Kind kind, int sender, uint64_t number, uint64_t cohort_tag) {
  return (static_cast<uint64_t>(kind) << kKindShift) |
         (static_cast<uint64_t>(sender) << kSenderShift) |
         ((number & kNumberMask) << kNumberShift) | (cohort_tag & kCohortBitsMask);
}
constexpr uint64_t KindOf(uint64_t tag) { return tag >> kKindShift; }
constexpr int SenderOf(uint64_t tag) {
  return static_cast<int>((tag >> kSenderShift) & (kMaxRanks - 1));
}
constexpr uint64_t NumberOf(uint64_t tag) { return (tag >> kNumberShift) & kNumberMask; }

// Receives match everything but the cohort bits, which are checked after arrival.
inline constexpr uint64_t kMatchMask = ~kCohortBitsMask;
// An abort or hello from a given sender, whatever its number.
inline constexpr uint64_t kSenderMask = ~((kNumberMask << kNumberShift) | kCohortBitsMask);

inline constexpr size_t kNonceBytes = 32;
using Nonce = std::array<uint8_t, kNonceBytes>;
// The key of a worker that published `nonce`: the first 8 bytes of
// HMAC-SHA256(secret, "cohort-ucx-tag-key" | nonce).
uint64_t DeriveKey(std::string_view secret, const Nonce& nonce);

}  // namespace cohort::ucx_tag
