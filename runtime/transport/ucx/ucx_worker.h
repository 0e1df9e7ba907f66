// UcxWorker: one ucp worker (with the process-wide ucp context it needs) for one communicator's
// UCX links. Every link of the communicator shares it; the progress engine drives it through the
// links' Progress(). Thread mode SERIALIZED: one thread at a time, as for every Link (link.h).
//
// The worker also screens what reaches it. Anyone who can reach its network port and speaks UCX
// can send it tagged messages; tags of this job are keyed with the worker's key (ucx_tag.h), so a
// stranger's message never matches a receive and would sit in UCX's unexpected queue forever.
// After each progress that moved something, the worker looks at the oldest unexpected message:
// when its tag does not decode under the key to a peer of this communicator (and, for data, to a
// message number near the one that peer's link expects next), it is received into a fixed
// scratch buffer (truncated if larger), dropped, counted and logged. Every 64th progress also
// sweeps the queue for tags no peer can send (an invalid kind, a sender beyond the ranks), which
// catches a stranger's message queued behind a peer's early one. Memory stays bounded, except
// for messages that decode to a valid peer and number by chance (about size/2^20 of random tags)
// while a peer's early message stands at the head; they go once that one is received.
#pragma once

#include <ucp/api/ucp.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/ucx/ucx_tag.h"

namespace cohort {

// "UCX error: Destination is unreachable".
std::string UcxStatusText(ucs_status_t status);

class UcxContext;

class UcxWorker {
 public:
  // `net_devices`: value for UCX_NET_DEVICES ("" leaves UCX's default, as does a UCX_NET_DEVICES
  // already in the environment, which the user set on purpose). `secret`: the job secret, from
  // which the worker's key is derived with a fresh random nonce. `size`: the communicator's size.
  static Result<std::shared_ptr<UcxWorker>> Create(const std::string& net_devices,
                                                   std::string_view secret, int size);
  ~UcxWorker();
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;

  ucp_worker_h get() const { return worker_; }
  // The worker's address, to publish so that peers can create endpoints to it.
  Result<std::string> Address() const;
  // Published with the address: peers derive the key of tags they send here from it.
  const ucx_tag::Nonce& nonce() const { return nonce_; }
  // The key of tags this worker receives.
  uint64_t key() const { return key_; }

  // `rank` may send here. `next_number`, when not null, is the number of the next data message
  // its link will receive (kept current by the link): data far from it is not that peer's.
  void ExpectSender(int rank, const uint64_t* next_number);

  // Runs UCX's progress until it reports nothing more to do (bounded), then drops strangers'
  // messages. Returns whether anything happened.
  bool Progress();
  // How many strangers' messages were dropped.
  uint64_t refused() const { return refused_; }

 private:
  // At most this many strangers' messages are being received at once; the rest wait their turn.
  static constexpr size_t kMaxDropping = 16;
  struct Sender {
    bool expected = false;
    const uint64_t* next_number = nullptr;
  };

  UcxWorker(std::shared_ptr<UcxContext> context, ucp_worker_h worker, int size)
      : context_(std::move(context)), worker_(worker), senders_(static_cast<size_t>(size)) {
    dropping_.reserve(kMaxDropping);
  }
  // Whether an unexpected message with this (keyed) tag can be from a peer of this job.
  bool FromPeer(uint64_t keyed_tag) const;
  // Drops strangers' messages at the head of the unexpected queue and, with `sweep`, anywhere.
  void DropStrangers(bool sweep);
  void Drop(ucp_tag_message_h message, const ucp_tag_recv_info_t& info);

  std::shared_ptr<UcxContext> context_;  // outlives the worker
  ucp_worker_h worker_;
  ucx_tag::Nonce nonce_{};
  uint64_t key_ = 0;
  std::vector<Sender> senders_;  // by rank
  std::vector<char> scratch_;    // where strangers' messages land (allocated at the first one)
  std::vector<void*> dropping_;  // receives of strangers' messages still in flight
  uint64_t refused_ = 0;
  uint64_t polls_ = 0;
};

}  // namespace cohort
