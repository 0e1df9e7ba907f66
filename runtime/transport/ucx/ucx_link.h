// UcxLink: the Link contract (link.h) over ucp tag messaging. Each message is one ucp tag send,
// its tag (ucx_tag.h) keyed with the receiving worker's key.
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
#include "runtime/transport/ucx/ucx_tag.h"
#include "runtime/transport/ucx/ucx_worker.h"

namespace cohort {

class UcxLink final : public Link {
 public:
  // `send_key`: the key of the peer's worker, derived from the nonce it published (ucx_tag.h).
  UcxLink(int rank, int peer, std::string peer_host, std::shared_ptr<UcxWorker> worker,
          uint64_t send_key);
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
  const uint64_t send_key_;  // tags sent are XORed with it; received ones with worker_->key()
  const uint64_t recv_key_;
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
