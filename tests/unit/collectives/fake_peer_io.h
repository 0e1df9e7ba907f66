// FakeWorld: N ranks as threads over in-memory mailboxes, for cheap many-rank collective tests.
//
// One mailbox (mutex + condvar + FIFO of byte vectors) per directed pair. Send copies the bytes
// when posted (a real transport may read them any time before WaitAll returns); WaitAll checks
// that the buffer still holds them (an algorithm that writes a send buffer in flight fails), then
// delivers this rank's sends and completes its receives in posting order, waiting up to 20 s
// each. A receive whose matched message has a different byte count fails the whole world loudly
// (every rank's pending wait returns an error), as a real transport would.
//
// FakeArena: the SharedArena of the world (threads share memory anyway): per rank, kSlots slots
// of kFakeSlotBytes and an arrived-step counter; Sync waits up to 20 s. The slots are small so
// that the direct algorithms pipeline (many steps) at the counts the tests use.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "collectives/peer_io.h"

namespace cohort::testing {

class FakeWorld;

inline constexpr size_t kFakeSlotBytes = 16384;
inline constexpr size_t kFakeExpressBytes = 4096;

class FakeArena final : public SharedArena {
 public:
  FakeArena(FakeWorld* world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override;
  size_t slot_bytes() const override { return kFakeSlotBytes; }
  uint64_t next_step() const override { return next_step_; }
  std::byte* slot(int r, uint64_t step) const override;
  Status Sync() override;
  size_t express_bytes() const override { return kFakeExpressBytes; }
  Status Express(const void* mine, size_t bytes, std::byte* all) override;

 private:
  FakeWorld* world_;
  int rank_;
  uint64_t next_step_ = 1;
};

class FakePeerIo : public PeerIo {
 public:
  FakePeerIo(FakeWorld* world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override;
  Status Send(int peer, const void* data, size_t bytes) override;
  Status Recv(int peer, void* data, size_t bytes) override;
  Status WaitAll() override;
  SharedArena* arena() override;
  std::span<const int> node_of_rank() const override;

  size_t pending() const { return sends_.size() + recvs_.size(); }
  size_t max_outstanding() const { return max_outstanding_; }
  size_t messages_sent() const { return messages_sent_; }
  void ResetStats() { max_outstanding_ = 0; messages_sent_ = 0; }

 private:
  struct Post {
    int peer;
    const void* send;
    void* recv;
    size_t bytes;
    std::vector<std::byte> message;  // sends: the bytes as posted
  };
  Status CheckPeer(int peer, const char* what) const;
  void NoteOutstanding();

  FakeWorld* world_;
  int rank_;
  FakeArena arena_{world_, rank_};
  std::vector<Post> sends_;
  std::vector<Post> recvs_;
  size_t max_outstanding_ = 0;
  size_t messages_sent_ = 0;
};

class FakeWorld {
 public:
  // `with_arena`: every rank's PeerIo offers the FakeArena (the world is "one host").
  explicit FakeWorld(int size, bool with_arena = true);
  int size() const { return size_; }
  FakePeerIo& io(int rank) { return *ios_[rank]; }

  // Runs fn(rank) on size() threads and returns each rank's Status.
  std::vector<Status> Run(const std::function<Status(int rank)>& fn);

  // Messages delivered but never received, over all pairs (0 after a well-formed collective).
  size_t Undelivered();
  // Fails every pending and future wait (called when a rank detects a mismatch).
  void Abort(const std::string& why);
  // Places the ranks on hosts (node index per rank): the world then spans hosts and offers no
  // arena, as a communicator across hosts does; the host phases run on messages.
  void SetNodes(std::vector<int> node_of_rank) {
    node_of_rank_ = std::move(node_of_rank);
    with_arena_ = false;
  }

 private:
  friend class FakePeerIo;
  friend class FakeArena;
  struct Mailbox {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::vector<std::byte>> messages;
  };
  Mailbox& box(int from, int to) { return *boxes_[static_cast<size_t>(from * size_ + to)]; }
  bool aborted();

  int size_;
  bool with_arena_;
  std::vector<int> node_of_rank_;
  std::vector<std::vector<std::byte>> slots_;              // per rank: kSlots * kFakeSlotBytes
  // The arena's step counters (per rank: last step arrived at), under a lock: threads.
  std::mutex arena_mutex_;
  std::condition_variable arena_cv_;
  std::vector<uint64_t> arrived_;
  std::vector<std::vector<std::byte>> express_;  // [rank * 2 + step parity]: the payload
  std::vector<std::unique_ptr<FakePeerIo>> ios_;
  std::vector<std::unique_ptr<Mailbox>> boxes_;
  std::mutex abort_mutex_;
  std::string abort_reason_;
};

}  // namespace cohort::testing
