// ShmStream: single-producer single-consumer byte rings in shared memory (shm_stream.h).
#include "runtime/transport/shm_stream.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace cohort {

namespace {

constexpr uint64_t kSegmentMagic = 0x4D48535452484F43ull;  // "COHRTSHM"
constexpr uint32_t kSegmentVersion = 1;
constexpr size_t kPage = kShmPageBytes;

struct ShmSegmentHeader {
  uint64_t magic;
  uint32_t version;
  int32_t owner_rank;
  int64_t owner_pid;
  uint32_t num_rings;
  uint32_t reserved;
  uint64_t ring_bytes;
  // followed by int32_t ring_peer[num_rings]
};

size_t RoundUpPage(size_t bytes) { return RoundUpToShmPage(bytes); }
size_t HeaderAreaBytes(size_t num_rings) {
  return RoundUpPage(sizeof(ShmSegmentHeader) + num_rings * sizeof(int32_t));
}
static_assert(sizeof(ShmRingControl) <= kPage);

// Whether `size` bytes hold the header area and `num_rings` rings of `ring_bytes` as
// InitShmSegment lays them out (whole pages). The values come from another process's header,
// so the sum is checked for overflow rather than computed with ShmSegmentBytes.
bool SegmentHolds(size_t size, uint64_t num_rings, uint64_t ring_bytes) {
  if (ring_bytes == 0 || ring_bytes % kPage != 0 || ring_bytes > size) return false;
  size_t rings = 0, total = 0;
  return !__builtin_mul_overflow(num_rings, kPage + ring_bytes, &rings) &&
         !__builtin_add_overflow(HeaderAreaBytes(num_rings), rings, &total) && total <= size;
}

class ShmStream final : public ByteStream {
 public:
  ShmStream(int peer_rank, pid_t peer_pid, std::shared_ptr<ShmSegment> inbound_segment,
            ShmRing inbound, std::shared_ptr<ShmSegment> outbound_segment, ShmRing outbound)
      : peer_rank_(peer_rank),
        peer_pid_(peer_pid),
        inbound_segment_(std::move(inbound_segment)),
        outbound_segment_(std::move(outbound_segment)),
        in_(inbound),
        out_(outbound) {}
  ~ShmStream() override { Close(); }

  Result<size_t> TryWritev(const iovec* iov, int count) override {
    ShmRingControl* c = out_.control;
    if (c->consumer_closed.load(std::memory_order_acquire) != 0) {
      return UnavailableError("rank " + std::to_string(peer_rank_) + " closed its shared-memory link");
    }
    size_t want = 0;
    for (int i = 0; i < count; ++i) want += iov[i].iov_len;
    const uint64_t cap = out_.bytes;
    // Only this side stores head, so a relaxed load of it is exact.
    const uint64_t head = c->head.load(std::memory_order_relaxed);
    if (cap - (head - cached_tail_) < want) {
      // Acquire: the consumer's release store of tail comes after it finished copying those
      // bytes out, so the space below the new tail may be overwritten now.
      cached_tail_ = c->tail.load(std::memory_order_acquire);
    }
    // The counters live in memory the peer can write: never trust more than a ring's worth of
    // data between them (a wrapped difference would let the copy below run past the ring).
    if (head - cached_tail_ > cap) return Corrupt("outbound", head, cached_tail_, cap);
    size_t n = std::min<uint64_t>(want, cap - (head - cached_tail_));
    if (n == 0) return size_t{0};
    uint64_t pos = head;
    size_t left = n;
    for (int i = 0; i < count && left > 0; ++i) {
      size_t part = std::min(left, iov[i].iov_len);
      CopyIn(pos, static_cast<const char*>(iov[i].iov_base), part);
      pos += part;
      left -= part;
    }
    // Release: the bytes copied above are visible to the consumer before the head that covers them.
    c->head.store(head + n, std::memory_order_release);
    return n;
  }

  Result<size_t> TryReadv(const iovec* iov, int count) override {
    ShmRingControl* c = in_.control;
    size_t want = 0;
    for (int i = 0; i < count; ++i) want += iov[i].iov_len;
    const uint64_t tail = c->tail.load(std::memory_order_relaxed);  // only this side stores tail
    if (cached_head_ - tail < want) {
      // Acquire pairs with the producer's release store of head: bytes below it are readable.
      cached_head_ = c->head.load(std::memory_order_acquire);
    }
    if (cached_head_ - tail > in_.bytes) return Corrupt("inbound", cached_head_, tail, in_.bytes);
    size_t n = std::min<uint64_t>(want, cached_head_ - tail);
    if (n == 0) {
      // The producer sets producer_closed (release) after its last head store, so if we see the
      // flag, a fresh head load shows everything it ever wrote: an empty ring now is a true EOF.
      if (c->producer_closed.load(std::memory_order_acquire) != 0 &&
          c->head.load(std::memory_order_acquire) == tail) {
        return UnavailableError("rank " + std::to_string(peer_rank_) +
                                " closed its shared-memory link");
      }
      return size_t{0};
    }
    uint64_t pos = tail;
    size_t left = n;
    for (int i = 0; i < count && left > 0; ++i) {
      size_t part = std::min(left, iov[i].iov_len);
      CopyOut(pos, static_cast<char*>(iov[i].iov_base), part);
      pos += part;
      left -= part;
    }
    // Release: our copies out of the ring complete before the producer may reuse the space.
    c->tail.store(tail + n, std::memory_order_release);
    return n;
  }

  Status CheckPeerAlive() override {
    if (ProcessIsGone(peer_pid_)) {
      return UnavailableError("rank " + std::to_string(peer_rank_) + " (pid " +
                              std::to_string(peer_pid_) +
                              ") on this host is no longer running (did it exit or crash?)");
    }
    return Status::Ok();
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    out_.control->producer_closed.store(1, std::memory_order_release);
    in_.control->consumer_closed.store(1, std::memory_order_release);
  }
  std::string_view kind() const override { return "shm"; }
  std::string describe_peer() const override {
    return "shm, pid " + std::to_string(peer_pid_);
  }

 private:
  Status Corrupt(const char* which, uint64_t head, uint64_t tail, uint64_t ring_bytes) const {
    return InternalError("the " + std::string(which) + " shared-memory ring of the link to rank " +
                         std::to_string(peer_rank_) + " is corrupt: head " + std::to_string(head) +
                         " and tail " + std::to_string(tail) + " are not within its " +
                         std::to_string(ring_bytes) + " bytes (did another process write into "
                         "the segment?)");
  }
  // Both skip empty pieces: an empty iovec may have a null base, which memcpy must not get.
  void CopyIn(uint64_t pos, const char* src, size_t bytes) {
    if (bytes == 0) return;
    size_t at = pos % out_.bytes;
    size_t first = std::min(bytes, out_.bytes - at);
    std::memcpy(out_.data + at, src, first);
    if (bytes > first) std::memcpy(out_.data, src + first, bytes - first);
  }
  void CopyOut(uint64_t pos, char* dst, size_t bytes) {
    if (bytes == 0) return;
    size_t at = pos % in_.bytes;
    size_t first = std::min(bytes, in_.bytes - at);
    std::memcpy(dst, in_.data + at, first);
    if (bytes > first) std::memcpy(dst + first, in_.data, bytes - first);
  }

  const int peer_rank_;
  const pid_t peer_pid_;
  std::shared_ptr<ShmSegment> inbound_segment_;
  std::shared_ptr<ShmSegment> outbound_segment_;
  ShmRing in_;
  ShmRing out_;
  // Local copies of the other side's counter; refreshed only when they look insufficient, so the
  // common case touches no cache line the other side writes.
  uint64_t cached_tail_ = 0;
  uint64_t cached_head_ = 0;
  bool closed_ = false;
};

}  // namespace

size_t ShmRingBytes(size_t requested) { return RoundUpPage(std::max<size_t>(requested, kPage)); }

size_t ShmSegmentBytes(size_t num_rings, size_t ring_bytes) {
  return HeaderAreaBytes(num_rings) + num_rings * (kPage + ShmRingBytes(ring_bytes));
}

void InitShmSegment(ShmSegment& segment, int owner_rank, pid_t owner_pid,
                    const std::vector<int>& ring_peers, size_t ring_bytes) {
  ring_bytes = ShmRingBytes(ring_bytes);
  auto* header = reinterpret_cast<ShmSegmentHeader*>(segment.data());
  header->magic = kSegmentMagic;
  header->version = kSegmentVersion;
  header->owner_rank = owner_rank;
  header->owner_pid = owner_pid;
  header->num_rings = static_cast<uint32_t>(ring_peers.size());
  header->ring_bytes = ring_bytes;
  auto* peers = reinterpret_cast<int32_t*>(header + 1);
  char* ring_area = segment.data() + HeaderAreaBytes(ring_peers.size());
  for (size_t i = 0; i < ring_peers.size(); ++i) {
    peers[i] = ring_peers[i];
    auto* control = new (ring_area + i * (kPage + ring_bytes)) ShmRingControl;
    control->head.store(0, std::memory_order_relaxed);
    control->tail.store(0, std::memory_order_relaxed);
    control->producer_closed.store(0, std::memory_order_relaxed);
    control->consumer_closed.store(0, std::memory_order_relaxed);
  }
  // Peers map the segment only after its name is published through the store, whose mutex or
  // socket round trip orders these plain stores before their loads.
}

namespace detail {

Result<ShmRingPlace> LocateShmRing(const char* data, size_t size, const std::string& name,
                                   int owner_rank, int peer_rank) {
  // Copied out rather than cast: the fuzzer's bytes are not aligned as a mapping is.
  ShmSegmentHeader header{};
  if (size >= sizeof(header)) std::memcpy(&header, data, sizeof(header));
  if (size < sizeof(ShmSegmentHeader) || header.magic != kSegmentMagic ||
      header.version != kSegmentVersion || header.owner_rank != owner_rank ||
      !SegmentHolds(size, header.num_rings, header.ring_bytes)) {
    return InternalError("shared memory segment " + name + " is not the segment of rank " +
                         std::to_string(owner_rank) +
                         " (bad header); is another job using the same COHORT_JOB_ID?");
  }
  const char* peers = data + sizeof(ShmSegmentHeader);
  for (uint32_t i = 0; i < header.num_rings; ++i) {
    int32_t peer = 0;
    std::memcpy(&peer, peers + i * sizeof(int32_t), sizeof(peer));
    if (peer != peer_rank) continue;
    ShmRingPlace place;
    place.control_offset = HeaderAreaBytes(header.num_rings) + i * (kPage + header.ring_bytes);
    place.data_offset = place.control_offset + kPage;
    place.bytes = header.ring_bytes;
    place.owner_pid = static_cast<pid_t>(header.owner_pid);
    return place;
  }
  return InternalError("shared memory segment " + name + " of rank " +
                       std::to_string(owner_rank) + " has no ring for rank " +
                       std::to_string(peer_rank));
}

}  // namespace detail

Result<ShmRing> FindShmRing(const ShmSegment& segment, int owner_rank, int peer_rank,
                            pid_t* owner_pid) {
  COHORT_ASSIGN_OR_RETURN(detail::ShmRingPlace place,
                          detail::LocateShmRing(segment.data(), segment.size(), segment.name(),
                                                owner_rank, peer_rank));
  if (owner_pid != nullptr) *owner_pid = place.owner_pid;
  char* base = segment.data();
  return ShmRing{reinterpret_cast<ShmRingControl*>(base + place.control_offset),
                 base + place.data_offset, place.bytes};
}

std::unique_ptr<ByteStream> MakeShmStream(int peer_rank, pid_t peer_pid,
                                          std::shared_ptr<ShmSegment> inbound_segment,
                                          ShmRing inbound,
                                          std::shared_ptr<ShmSegment> outbound_segment,
                                          ShmRing outbound) {
  return std::make_unique<ShmStream>(peer_rank, peer_pid, std::move(inbound_segment), inbound,
                                     std::move(outbound_segment), outbound);
}

bool ProcessIsGone(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A process that died but was not reaped yet still answers kill(); its state says Z (zombie)
  // or X (dead). The state follows the last ')' because the command name may contain spaces.
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* file = std::fopen(path, "re");
  if (file == nullptr) return false;  // raced with its exit: kill() says so next time
  char text[512] = {};
  size_t n = std::fread(text, 1, sizeof(text) - 1, file);
  std::fclose(file);
  text[n] = '\0';
  const char* paren = std::strrchr(text, ')');
  if (paren == nullptr || paren[1] == '\0') return false;
  char state = paren[2];
  return state == 'Z' || state == 'X';
}

}  // namespace cohort
