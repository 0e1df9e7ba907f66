// Fuzz target: what a shared-memory link reads from memory another process writes
// (runtime/transport/shm_stream.h). Two modes:
//  - LocateShmRing over a segment's bytes (the header a peer's segment claims: magic, owner,
//    ring count and size, the peer rank of each ring). Property: a ring it returns is a positive
//    whole number of pages and lies inside the segment.
//  - The ring streams themselves, over rings in ordinary memory: an honest peer produces into
//    the inbound ring and consumes from the outbound one, and a model predicts every byte read
//    and how much fits; a hostile peer scribbles the head or tail counters it shares, and then
//    reads and writes must stay inside the ring (or fail), never run past it.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "runtime/transport/shm_stream.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort {
namespace {

void FuzzLocate(FuzzInput& in) {
  const int owner = in.ConsumeIntegralInRange<int>(0, 3);
  const int peer = in.ConsumeIntegralInRange<int>(0, 3);
  const size_t size = in.ConsumeIntegralInRange<size_t>(0, 64 << 10);
  std::vector<char> segment(size, 0);
  std::vector<uint8_t> bytes = in.ConsumeRemainingBytes<uint8_t>();
  std::copy_n(bytes.begin(), std::min(size, bytes.size()), segment.begin());
  Result<detail::ShmRingPlace> place =
      detail::LocateShmRing(segment.data(), segment.size(), "/fuzz", owner, peer);
  if (!place.ok()) return;
  FUZZ_CHECK(place->bytes > 0 && place->bytes % kShmPageBytes == 0,
             "a ring of %zu bytes (not a positive number of pages)", place->bytes);
  FUZZ_CHECK(place->data_offset == place->control_offset + kShmPageBytes,
             "the ring's data does not follow its control page");
  FUZZ_CHECK(place->data_offset <= size && place->bytes <= size - place->data_offset,
             "ring [%zu, +%zu) outside a segment of %zu bytes", place->data_offset, place->bytes,
             size);
}

// One ring in ordinary memory, and what the model knows of it.
struct Ring {
  explicit Ring(size_t bytes) : control(std::make_unique<ShmRingControl>()), data(bytes) {
    control->head.store(0);
    control->tail.store(0);
    control->producer_closed.store(0);
    control->consumer_closed.store(0);
  }
  ShmRing view() { return ShmRing{control.get(), data.data(), data.size()}; }
  uint64_t head() const { return control->head.load(); }
  uint64_t tail() const { return control->tail.load(); }

  std::unique_ptr<ShmRingControl> control;
  std::vector<char> data;
  std::deque<char> queued;  // bytes between tail and head, as the model sees them
  bool hostile = false;     // the peer scribbled a counter: the model stops predicting
};

std::vector<iovec> Iovs(FuzzInput& in, std::vector<std::vector<char>>& buffers) {
  buffers.resize(in.ConsumeIntegralInRange<size_t>(1, 3));
  std::vector<iovec> iov;
  for (auto& b : buffers) {
    b.assign(in.ConsumeIntegralInRange<size_t>(0, 5000), 0);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>(i * 7 + buffers.size());
    iov.push_back({b.data(), b.size()});
  }
  return iov;
}

void FuzzStreams(FuzzInput& in) {
  // Real rings are whole pages; small ones wrap around sooner and hold the same invariants.
  Ring inbound(in.ConsumeIntegralInRange<size_t>(16, 4096));
  Ring outbound(in.ConsumeIntegralInRange<size_t>(16, 4096));
  // Counters start anywhere (they only ever grow), so that wrapping 2^64 is covered too.
  const uint64_t in_start = in.ConsumeIntegral<uint64_t>();
  const uint64_t out_start = in.ConsumeIntegral<uint64_t>();
  inbound.control->head.store(in_start);
  inbound.control->tail.store(in_start);
  outbound.control->head.store(out_start);
  outbound.control->tail.store(out_start);
  std::unique_ptr<ByteStream> stream =
      MakeShmStream(1, ::getpid(), nullptr, inbound.view(), nullptr, outbound.view());
  // The stream's cached counters start at 0; honest counters that start elsewhere are what a
  // fresh segment never has, so begin at 0 unless the input says otherwise.
  if (in.ConsumeBool()) {
    inbound.control->head.store(0);
    inbound.control->tail.store(0);
    outbound.control->head.store(0);
    outbound.control->tail.store(0);
  } else {
    inbound.hostile = outbound.hostile = true;
  }

  for (int step = 0; step < 64 && in.remaining_bytes() > 0; ++step) {
    switch (in.ConsumeIntegralInRange<int>(0, 6)) {
      case 0: {  // the peer produces honestly
        Ring& r = inbound;
        const uint64_t head = r.head();
        const uint64_t used = head - r.tail();
        if (used > r.data.size()) break;
        const size_t n = std::min<size_t>(in.ConsumeIntegralInRange<size_t>(0, 5000),
                                          r.data.size() - used);
        for (size_t i = 0; i < n; ++i) {
          const char c = static_cast<char>(in.ConsumeIntegral<uint8_t>());
          r.data[(head + i) % r.data.size()] = c;
          r.queued.push_back(c);
        }
        r.control->head.store(head + n);
        break;
      }
      case 1: {  // the peer scribbles a counter
        Ring& r = in.ConsumeBool() ? inbound : outbound;
        std::atomic<uint64_t>& counter = in.ConsumeBool() ? r.control->head : r.control->tail;
        counter.store(counter.load() + in.ConsumeIntegral<uint64_t>());
        r.hostile = true;
        break;
      }
      case 2: {  // this side reads
        std::vector<std::vector<char>> buffers;
        std::vector<iovec> iov = Iovs(in, buffers);
        size_t want = 0;
        for (const iovec& v : iov) want += v.iov_len;
        Result<size_t> got = stream->TryReadv(iov.data(), static_cast<int>(iov.size()));
        if (!got.ok()) {
          FUZZ_CHECK(inbound.hostile || (inbound.queued.empty() &&
                                         inbound.control->producer_closed.load() != 0),
                     "an honest read failed: %s", got.status().ToString().c_str());
          break;
        }
        FUZZ_CHECK(*got <= want && *got <= inbound.data.size(), "read %zu of %zu into a %zu ring",
                   *got, want, inbound.data.size());
        if (inbound.hostile) break;
        FUZZ_CHECK(*got == std::min(want, inbound.queued.size()), "read %zu, %zu were there",
                   *got, inbound.queued.size());
        size_t k = 0;
        for (size_t b = 0; b < buffers.size() && k < *got; ++b) {
          for (size_t i = 0; i < buffers[b].size() && k < *got; ++i, ++k) {
            FUZZ_CHECK(buffers[b][i] == inbound.queued.front(), "read byte %zu differs", k);
            inbound.queued.pop_front();
          }
        }
        break;
      }
      case 3: {  // this side writes
        std::vector<std::vector<char>> buffers;
        std::vector<iovec> iov = Iovs(in, buffers);
        size_t want = 0;
        for (const iovec& v : iov) want += v.iov_len;
        Result<size_t> wrote = stream->TryWritev(iov.data(), static_cast<int>(iov.size()));
        if (!wrote.ok()) {
          FUZZ_CHECK(outbound.hostile || outbound.control->consumer_closed.load() != 0,
                     "an honest write failed: %s", wrote.status().ToString().c_str());
          break;
        }
        FUZZ_CHECK(*wrote <= want && *wrote <= outbound.data.size(), "wrote %zu of %zu", *wrote,
                   want);
        if (outbound.hostile) break;
        const size_t room = outbound.data.size() - outbound.queued.size();
        FUZZ_CHECK(*wrote == std::min(want, room), "wrote %zu with room for %zu", *wrote, room);
        size_t k = 0;
        for (size_t b = 0; b < buffers.size() && k < *wrote; ++b) {
          for (size_t i = 0; i < buffers[b].size() && k < *wrote; ++i, ++k) {
            outbound.queued.push_back(buffers[b][i]);
          }
        }
        break;
      }
      case 4: {  // the peer consumes honestly
        Ring& r = outbound;
        const uint64_t tail = r.tail();
        if (r.hostile || r.head() - tail > r.data.size()) break;
        const size_t n = std::min<size_t>(in.ConsumeIntegralInRange<size_t>(0, 5000),
                                          r.head() - tail);
        for (size_t i = 0; i < n; ++i) {
          FUZZ_CHECK(r.data[(tail + i) % r.data.size()] == r.queued.front(),
                     "written byte %zu differs", i);
          r.queued.pop_front();
        }
        r.control->tail.store(tail + n);
        break;
      }
      case 5: inbound.control->producer_closed.store(1); break;
      case 6: outbound.control->consumer_closed.store(1); break;
    }
  }
}

}  // namespace
}  // namespace cohort

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  if (in.ConsumeBool()) {
    cohort::FuzzLocate(in);
  } else {
    cohort::FuzzStreams(in);
  }
  return 0;
}
