// Shared-memory rings against a peer that writes garbage into memory both processes map: a
// segment header whose ring size is zero, not whole pages, or wraps the size arithmetic, and ring
// counters moved so that more than a ring's worth of data seems to be there. Regression tests
// for what tests/fuzz (shm_ring) found: every one of these used to read or write past the ring.
#include <gtest/gtest.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/transport/shm_segment.h"
#include "runtime/transport/shm_stream.h"
#include "tests/unit/transport/transport_test_util.h"

namespace cohort {
namespace {

using testing::UniqueJobId;

// Byte offsets in the segment header (shm_stream.cc): magic, version, owner rank, owner pid,
// ring count, reserved, ring size.
constexpr size_t kNumRingsAt = 24;
constexpr size_t kRingBytesAt = 32;

std::vector<char> SegmentBytes(int owner, const std::vector<int>& peers, size_t ring_bytes) {
  auto segment = ShmSegment::Create(ShmSegmentName(UniqueJobId(), "world", owner),
                                    ShmSegmentBytes(peers.size(), ring_bytes));
  EXPECT_TRUE(segment.ok()) << segment.status().ToString();
  InitShmSegment(**segment, owner, ::getpid(), peers, ring_bytes);
  EXPECT_TRUE((*segment)->Unlink().ok());
  return std::vector<char>((*segment)->data(), (*segment)->data() + (*segment)->size());
}

TEST(ShmRingHeader, LocatesTheRingsThatInitShmSegmentLaysOut) {
  std::vector<char> bytes = SegmentBytes(0, {1, 2}, 4096);
  auto ring = detail::LocateShmRing(bytes.data(), bytes.size(), "/seg", 0, 2);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  EXPECT_EQ(ring->bytes, 4096u);
  EXPECT_EQ(ring->data_offset, ring->control_offset + kShmPageBytes);
  EXPECT_LE(ring->data_offset + ring->bytes, bytes.size());
  EXPECT_EQ(ring->owner_pid, ::getpid());
  EXPECT_FALSE(detail::LocateShmRing(bytes.data(), bytes.size(), "/seg", 0, 3).ok());
  EXPECT_FALSE(detail::LocateShmRing(bytes.data(), bytes.size(), "/seg", 1, 2).ok());
  EXPECT_FALSE(detail::LocateShmRing(bytes.data(), 100, "/seg", 0, 2).ok());
}

TEST(ShmRingHeader, RingSizesThatAreNotWholePagesInsideTheSegmentAreRefused) {
  std::vector<char> bytes = SegmentBytes(1, {0}, 4096);
  // 0 (the stream would divide by it), 100 (not what InitShmSegment writes), and 2^64 - 4095,
  // for which the old size check wrapped around to 8 KiB and accepted a ring of ~2^64 bytes.
  for (uint64_t ring_bytes : {uint64_t{0}, uint64_t{100}, ~uint64_t{0} - 4094, ~uint64_t{0}}) {
    std::memcpy(bytes.data() + kRingBytesAt, &ring_bytes, sizeof(ring_bytes));
    auto ring = detail::LocateShmRing(bytes.data(), bytes.size(), "/seg", 1, 0);
    EXPECT_FALSE(ring.ok()) << "ring of " << ring_bytes << " bytes accepted";
    if (!ring.ok()) {
      EXPECT_NE(ring.status().message().find("bad header"), std::string::npos)
          << ring.status().ToString();
    }
  }
  const uint64_t ring_bytes = 4096;
  std::memcpy(bytes.data() + kRingBytesAt, &ring_bytes, sizeof(ring_bytes));
  const uint32_t num_rings = 0xffffffffu;  // far more rings than the segment holds
  std::memcpy(bytes.data() + kNumRingsAt, &num_rings, sizeof(num_rings));
  EXPECT_FALSE(detail::LocateShmRing(bytes.data(), bytes.size(), "/seg", 1, 0).ok());
}

// One ring in ordinary memory (what a stream sees of a segment).
struct HeapRing {
  explicit HeapRing(size_t bytes) : control(std::make_unique<ShmRingControl>()), data(bytes) {
    control->head.store(0);
    control->tail.store(0);
    control->producer_closed.store(0);
    control->consumer_closed.store(0);
  }
  ShmRing view() { return ShmRing{control.get(), data.data(), data.size()}; }
  std::unique_ptr<ShmRingControl> control;
  std::vector<char> data;
};

TEST(ShmRingCounters, AnOutboundTailMovedByThePeerFailsTheWriteInsteadOfOverrunningTheRing) {
  // The fuzzer's case: a 42-byte ring whose consumer-side tail jumped ahead of the head, so that
  // head - tail wrapped and a 157-byte write ran past the ring.
  HeapRing in(64), out(42);
  auto stream = MakeShmStream(1, ::getpid(), nullptr, in.view(), nullptr, out.view());
  out.control->tail.store(1000);
  std::vector<char> payload(200, 'x');
  iovec iov{payload.data(), payload.size()};
  Result<size_t> wrote = stream->TryWritev(&iov, 1);
  ASSERT_FALSE(wrote.ok());
  EXPECT_EQ(wrote.status().code(), StatusCode::kInternal);
  EXPECT_NE(wrote.status().message().find("corrupt"), std::string::npos)
      << wrote.status().ToString();
}

TEST(ShmRingCounters, AnInboundHeadMovedByThePeerFailsTheReadInsteadOfOverrunningTheRing) {
  HeapRing in(64), out(64);
  auto stream = MakeShmStream(1, ::getpid(), nullptr, in.view(), nullptr, out.view());
  in.control->head.store(1000);  // 1000 bytes "written" into a 64-byte ring
  std::vector<char> buffer(4096);
  iovec iov{buffer.data(), buffer.size()};
  Result<size_t> got = stream->TryReadv(&iov, 1);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInternal);
  EXPECT_NE(got.status().message().find("rank 1"), std::string::npos) << got.status().ToString();
}

// Also found by the fuzzer: an empty iovec piece (null base, 0 bytes, valid for any ByteStream)
// reached memcpy with a null pointer.
TEST(ShmRingCounters, HonestTrafficWrapsAroundTheRingWithEmptyPiecesInTheIovecs) {
  HeapRing ring(48), unused(48);
  auto writer = MakeShmStream(1, ::getpid(), nullptr, unused.view(), nullptr, ring.view());
  auto reader = MakeShmStream(0, ::getpid(), nullptr, ring.view(), nullptr, unused.view());
  std::vector<char> sent, received;
  for (int round = 0; round < 20; ++round) {
    std::vector<char> chunk(static_cast<size_t>(round % 7 + 10), static_cast<char>('a' + round));
    iovec w[2] = {{nullptr, 0}, {chunk.data(), chunk.size()}};
    Result<size_t> wrote = writer->TryWritev(w, 2);
    ASSERT_TRUE(wrote.ok()) << wrote.status().ToString();
    sent.insert(sent.end(), chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(*wrote));
    std::vector<char> buffer(13);
    iovec r[3] = {{buffer.data(), 5}, {nullptr, 0}, {buffer.data() + 5, 8}};
    Result<size_t> got = reader->TryReadv(r, 3);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(*got));
  }
  std::vector<char> rest(64);
  iovec r{rest.data(), rest.size()};
  Result<size_t> got = reader->TryReadv(&r, 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  received.insert(received.end(), rest.begin(), rest.begin() + static_cast<ptrdiff_t>(*got));
  EXPECT_EQ(received, sent);
  EXPECT_GT(sent.size(), 3 * ring.data.size());  // the ring wrapped several times
}

}  // namespace
}  // namespace cohort
