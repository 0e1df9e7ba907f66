// StripedLink: one Link to a peer over N StreamLinks (N tcp sockets, COHORT_SOCKET_NSTREAMS), so
// that one pair of ranks can use more bandwidth than one tcp flow gets (one core per flow for
// checksums and copies, per-flow limits in switches and bonds).
//
// Placement keeps the Link contract (link.h) without any extra bytes on the wire: each side
// counts its messages per direction, so both agree which message is the n-th.
//   - A message below `split_bytes` travels whole on stream (n mod N).
//   - A larger one is cut into N nearly equal contiguous pieces (stripe_plan.h); piece i goes on
//     stream i. Its request completes when every piece did (with the first error otherwise).
// Each piece's frame says which piece of which cut it is, so a piece never matches a whole
// message of the same size, and a size mismatch names the whole messages' sizes.
//
// Errors: the first failure of any stream breaks the whole link. Every stream is failed with that
// error (the peer is told why on every stream that is at a message boundary, then the sockets
// close), every pending request completes with it, and so do all later ones. The errors come
// from the streams and name the peer.
//
// Allocation: small messages go straight to their stream with the caller's Request. A large one
// takes a slot (N piece requests) from a pool that only grows, so after warm-up nothing is
// allocated per message.
//
// Threading: one thread at a time drives a StripedLink (link.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/transport/link.h"
#include "runtime/transport/stream_link.h"

namespace cohort {

class StripedLink final : public Link {
 public:
  // Messages of at least this many bytes are split over every stream; below, one stream per
  // message is enough (a split would only add per-frame overhead).
  static constexpr size_t kDefaultSplitBytes = 64u << 10;

  // `streams`: 2 to 64 links to the same peer, in the same order on both sides. `split_bytes`
  // must be the same on both sides (it is raised to the stream count so no piece is empty).
  StripedLink(int peer, std::vector<std::unique_ptr<StreamLink>> streams,
              size_t split_bytes = kDefaultSplitBytes);
  ~StripedLink() override;

  std::string_view kind() const override { return streams_.front()->kind(); }
  int peer() const override { return peer_; }
  size_t stream_count() const { return streams_.size(); }

  // Both return the link's error (and complete `request` with it) when the link is broken.
  Status PostSend(uint64_t tag, const void* data, size_t bytes, Request* request) override;
  Status PostRecv(uint64_t tag, void* data, size_t bytes, Request* request) override;
  Result<bool> Progress() override;
  bool busy() const override;
  bool AppendPollFds(std::vector<pollfd>* fds) const override;
  Status CheckPeerAlive() override;
  void Close(const Status& why) override { (void)Break(why); }  // every stream tells the peer

 private:
  // A large message in flight: the caller's request and one request per piece.
  struct Slot {
    Request* request = nullptr;
    std::vector<Request> pieces;
  };
  enum class Direction { kSend, kRecv };

  Status Post(Direction direction, uint64_t tag, char* data, size_t bytes, Request* request);
  // Completes the requests of large messages whose pieces are all done.
  bool ReapSlots();
  // Breaks the link: fails every stream with `status` and completes every pending request.
  Status Break(Status status);

  const int peer_;
  const size_t split_bytes_;
  std::vector<std::unique_ptr<StreamLink>> streams_;
  uint64_t sends_posted_ = 0;  // messages posted per direction: pick the stream of small ones
  uint64_t recvs_posted_ = 0;

  std::vector<std::unique_ptr<Slot>> slot_pool_;  // every slot ever made; owns them
  std::vector<Slot*> free_slots_;
  std::vector<Slot*> active_slots_;  // completion order is free: pieces finish on any stream

  bool broken_ = false;
  Status error_;
};

}  // namespace cohort
