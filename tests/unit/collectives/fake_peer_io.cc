// FakeWorld and FakePeerIo; see fake_peer_io.h.
#include "fake_peer_io.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

namespace cohort::testing {
namespace {
constexpr auto kRecvTimeout = std::chrono::seconds(20);
}

int FakePeerIo::size() const { return world_->size(); }

Status FakePeerIo::CheckPeer(int peer, const char* what) const {
  if (peer < 0 || peer >= size() || peer == rank_) {
    return InternalError(std::string(what) + " on rank " + std::to_string(rank_) +
                         " addressed invalid peer " + std::to_string(peer));
  }
  return Status::Ok();
}

void FakePeerIo::NoteOutstanding() {
  max_outstanding_ = std::max(max_outstanding_, sends_.size() + recvs_.size());
}

Status FakePeerIo::Send(int peer, const void* data, size_t bytes) {
  COHORT_RETURN_IF_ERROR(CheckPeer(peer, "send"));
  std::vector<std::byte> message(bytes);
  if (bytes != 0) std::memcpy(message.data(), data, bytes);
  sends_.push_back({peer, data, nullptr, bytes, std::move(message)});
  NoteOutstanding();
  return Status::Ok();
}

Status FakePeerIo::Recv(int peer, void* data, size_t bytes) {
  COHORT_RETURN_IF_ERROR(CheckPeer(peer, "recv"));
  recvs_.push_back({peer, nullptr, data, bytes, {}});
  NoteOutstanding();
  return Status::Ok();
}

Status FakePeerIo::WaitAll() {
  for (Post& s : sends_) {
    if (s.bytes != 0 && std::memcmp(s.message.data(), s.send, s.bytes) != 0) {
      std::string why = "rank " + std::to_string(rank_) + " modified a " +
                        std::to_string(s.bytes) + "-byte send to rank " + std::to_string(s.peer) +
                        " before WaitAll";
      world_->Abort(why);
      return InternalError(why);
    }
  }
  for (Post& s : sends_) {
    std::vector<std::byte> message = std::move(s.message);
    FakeWorld::Mailbox& box = world_->box(rank_, s.peer);
    {
      std::lock_guard lock(box.mutex);
      box.messages.push_back(std::move(message));
    }
    box.ready.notify_all();
    ++messages_sent_;
  }
  sends_.clear();
  std::vector<Post> recvs;
  recvs.swap(recvs_);
  for (const Post& r : recvs) {
    FakeWorld::Mailbox& box = world_->box(r.peer, rank_);
    std::unique_lock lock(box.mutex);
    const auto deadline = std::chrono::steady_clock::now() + kRecvTimeout;
    while (box.messages.empty()) {
      if (world_->aborted()) return AbortedError("another rank failed");
      if (box.ready.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                             std::chrono::milliseconds(50))) ==
              std::cv_status::timeout &&
          std::chrono::steady_clock::now() >= deadline) {
        std::string why = "rank " + std::to_string(rank_) + " timed out receiving " +
                          std::to_string(r.bytes) + " bytes from rank " + std::to_string(r.peer);
        lock.unlock();
        world_->Abort(why);
        return DeadlineExceededError(why);
      }
    }
    std::vector<std::byte> message = std::move(box.messages.front());
    box.messages.pop_front();
    lock.unlock();
    if (message.size() != r.bytes) {
      std::string why = "MISMATCH: rank " + std::to_string(rank_) + " posted a receive of " +
                        std::to_string(r.bytes) + " bytes from rank " + std::to_string(r.peer) +
                        " but the matched message has " + std::to_string(message.size());
      world_->Abort(why);
      return InternalError(why);
    }
    if (r.bytes != 0) std::memcpy(r.recv, message.data(), r.bytes);
  }
  return Status::Ok();
}

int FakeArena::size() const { return world_->size(); }

std::byte* FakeArena::slot(int r, uint64_t step) const {
  return world_->slots_[static_cast<size_t>(r)].data() + (step % kSlots) * kFakeSlotBytes;
}

Status FakeArena::Sync() {
  // Blocking (not spinning) waits: tests run up to 8 ranks as threads on few cores.
  const uint64_t step = next_step_++;
  const auto deadline = std::chrono::steady_clock::now() + kRecvTimeout;
  std::unique_lock lock(world_->arena_mutex_);
  world_->arrived_[static_cast<size_t>(rank_)] = step;
  world_->arena_cv_.notify_all();
  for (int r = 0; r < size(); ++r) {
    while (world_->arrived_[static_cast<size_t>(r)] < step) {
      if (world_->aborted()) return AbortedError("another rank failed");
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        std::string why = "rank " + std::to_string(rank_) + " timed out in arena step " +
                          std::to_string(step) + " waiting for rank " + std::to_string(r);
        lock.unlock();
        world_->Abort(why);
        return DeadlineExceededError(why);
      }
      world_->arena_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
    }
  }
  return Status::Ok();
}

Status FakeArena::Express(const void* mine, size_t bytes, std::byte* all) {
  if (bytes > kFakeExpressBytes) return InternalError("express payload too large");
  const uint64_t step = next_step_;
  {
    std::lock_guard lock(world_->arena_mutex_);
    std::vector<std::byte>& own = world_->express_[static_cast<size_t>(rank_) * 2 + step % 2];
    own.assign(static_cast<const std::byte*>(mine), static_cast<const std::byte*>(mine) + bytes);
  }
  COHORT_RETURN_IF_ERROR(Sync());  // publishes the payload, waits for everyone's
  std::lock_guard lock(world_->arena_mutex_);
  for (int r = 0; r < size(); ++r) {
    const std::vector<std::byte>& theirs = world_->express_[static_cast<size_t>(r) * 2 + step % 2];
    if (theirs.size() != bytes) return InternalError("express payloads of different sizes");
    if (bytes != 0) std::memcpy(all + static_cast<size_t>(r) * bytes, theirs.data(), bytes);
  }
  return Status::Ok();
}

SharedArena* FakePeerIo::arena() { return world_->with_arena_ ? &arena_ : nullptr; }
std::span<const int> FakePeerIo::node_of_rank() const { return world_->node_of_rank_; }

FakeWorld::FakeWorld(int size, bool with_arena)
    : size_(size), with_arena_(with_arena),
      slots_(static_cast<size_t>(size), std::vector<std::byte>(SharedArena::kSlots * kFakeSlotBytes)),
      arrived_(static_cast<size_t>(size), 0),
      express_(static_cast<size_t>(size) * 2) {
  for (int r = 0; r < size; ++r) ios_.push_back(std::make_unique<FakePeerIo>(this, r));
  for (int i = 0; i < size * size; ++i) boxes_.push_back(std::make_unique<Mailbox>());
}

std::vector<Status> FakeWorld::Run(const std::function<Status(int rank)>& fn) {
  {
    std::lock_guard lock(abort_mutex_);
    abort_reason_.clear();
  }
  std::vector<Status> statuses(static_cast<size_t>(size_));
  std::vector<std::thread> threads;
  for (int r = 0; r < size_; ++r) {
    threads.emplace_back([&, r] { statuses[static_cast<size_t>(r)] = fn(r); });
  }
  for (std::thread& t : threads) t.join();
  return statuses;
}

size_t FakeWorld::Undelivered() {
  size_t total = 0;
  for (auto& b : boxes_) {
    std::lock_guard lock(b->mutex);
    total += b->messages.size();
    b->messages.clear();
  }
  return total;
}

void FakeWorld::Abort(const std::string& why) {
  std::lock_guard lock(abort_mutex_);
  if (abort_reason_.empty()) abort_reason_ = why;
}

bool FakeWorld::aborted() {
  std::lock_guard lock(abort_mutex_);
  return !abort_reason_.empty();
}

}  // namespace cohort::testing
