// UcxLink: the Link contract (link.h) over ucp tag messaging. Each message is one ucp tag send;
// the ucp tag encodes what StreamLink's frame header carries, so nothing extra crosses the wire:
//
//   bits 62-63  kind: data, abort (the peer broke the link; text follows) or hello (set-up)
//   bits 42-61  sender's rank (up to 2^20 ranks)
//   bits 16-41  per-direction message number (mod 2^26), so the n-th send meets the n-th receive
//   bits  0-15  the low 16 bits of cohort's tag: collective kind, dtype and op (runtime/base/tag.h)
//
// A receive matches on kind, sender and number, and then checks the cohort bits and the length
// the sender used: a different collective, dtype, op or count fails both ranks with a mismatch
// error (the receiving rank sends the text to the peer as an abort message), as over shm and tcp.
// Peer failure arrives through the endpoint's error handler (UCP_ERR_HANDLING_MODE_PEER) and
// through failed requests, and becomes an error naming the peer; when nothing was pending it is
// kept (normal at teardown) and reported only if this side posts or waits for something more.
#pragma once

#include <ucp/api/ucp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/transport/link.h"
#include "runtime/transport/ucx/ucx_worker.h"

namespace cohort {

namespace ucx_tag {
enum Kind : uint64_t { kData = 0, kAbort = 1, kHello = 2 };
inline constexpr int kRankBits = 20;
inline constexpr int kNumberBits = 26;
inline constexpr uint64_t kCohortBitsMask = 0xffff;
inline constexpr uint64_t kNumberMask = (uint64_t{1} << kNumberBits) - 1;
inline constexpr uint64_t kMaxRanks = uint64_t{1} << kRankBits;
constexpr uint64_t Make(Kind kind, int sender, uint64_t number, uint64_t cohort_tag) {
  return (static_cast<uint64_t>(kind) << 62) | (static_cast<uint64_t>(sender) << 42) |
         ((number & kNumberMask) << 16) | (cohort_tag & kCohortBitsMask);
}
// Receives match everything but the cohort bits, which are checked after arrival.
inline constexpr uint64_t kMatchMask = ~kCohortBitsMask;
// An abort or hello from a given sender, whatever its number.
inline constexpr uint64_t kSenderMask = ~((kNumberMask << 16) | kCohortBitsMask);
}  // namespace ucx_tag

class UcxLink final : public Link {
 public:
  UcxLink(int rank, int peer, std::string peer_host, std::shared_ptr<UcxWorker> worker);
  ~UcxLink() override;

  // Creates the endpoint to the peer's worker `address`, and posts the receive for its aborts.
  Status Connect(const std::string& address);
  // Set-up handshake: sends a hello and posts the receive for the peer's. Done when both are.
  Status StartHello(int size);
  Result<bool> HelloDone();

  std::string_view kind() const override { return "ucx"; }
  int peer() const override { return peer_; }
  Status PostSend(uint64_t tag, const void* data, size_t bytes, Request* request) override;
  Status PostRecv(uint64_t tag, void* data, size_t bytes, Request* request) override;
  Result<bool> Progress() override;
  bool busy() const override { return !pending_.empty(); }
  Status CheckPeerAlive() override;
  // Close keeps the default (nothing sent): an abort message posted to a peer that has just
  // died trips UCX's own assertions when the endpoint is destroyed (seen with UCX_TLS=tcp).

  // "rank 3 (host node7)".
  std::string peer_name() const;

 private:
  struct Pending {
    void* ucx_request;  // ucp request handle, or null when UCX completed it at once
    Request* request;
    bool is_recv;
    uint64_t tag;
    size_t bytes;
  };

  Status Post(bool is_recv, uint64_t tag, char* data, size_t bytes, Request* request);
  // Whether `op` is finished; sets `status` to how it ended.
  bool Finished(Pending& op, Status* status);
  Status CheckArrival(const Pending& op, const ucp_tag_recv_info_t& info);
  Status Break(Status status);
  Status PeerLost(ucs_status_t status) const;
  void SendAbort(const std::string& text);
  void CheckAbortReceived();
  static void OnEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status);

  const int rank_;
  const int peer_;
  const std::string peer_host_;
  std::shared_ptr<UcxWorker> worker_;
  ucp_ep_h ep_ = nullptr;

  std::vector<Pending> pending_;  // posted, not yet completed; reused, so no allocation when warm
  uint64_t sends_posted_ = 0;
  uint64_t recvs_posted_ = 0;

  char abort_in_[2048];
  void* abort_recv_ = nullptr;  // the standing receive for the peer's abort message
  std::string abort_out_;       // the text of our abort message, alive while it is sent
  void* abort_send_ = nullptr;
  uint64_t hello_out_ = 0, hello_in_ = 0;
  void* hello_send_ = nullptr;
  void* hello_recv_ = nullptr;
  std::vector<void*> abandoned_;  // requests of a broken link, freed at destruction

  ucs_status_t endpoint_error_ = UCS_OK;  // set by OnEndpointError
  bool broken_ = false;
  Status error_;
};

}  // namespace cohort
