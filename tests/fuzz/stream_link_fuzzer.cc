// Fuzz target: StreamLink's frame decoding (runtime/transport/stream_link.h), the code that reads
// every tcp and shm link's bytes from a peer. The link runs over a fake ByteStream that delivers
// the fuzzer's bytes in fuzzer-chosen pieces (sometimes none: "nothing yet") and then reports
// the peer gone, with receives posted for the frames in the bytes (some altered so that they do
// not match) and a few sends. A model parses the same bytes independently and predicts each
// receive: its payload, or the error that breaks the link (garbage, a peer's abort and its
// text, a mismatch, the peer gone). Sends must leave as well-formed frames, followed by at
// most the start of one more frame or of an abort frame. Also checks the striping flags
// (stripe_plan.h): every piece of a cut names the whole message's size.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/transport/stream_link.h"
#include "runtime/transport/stripe_plan.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort {
namespace {

using detail::FrameHeader;
constexpr size_t kHeaderBytes = sizeof(FrameHeader);
constexpr uint64_t kMaxRecvBytes = 1 << 16;  // receive buffers the harness allocates

// Delivers `in` in pieces of the sizes in `schedule` (cycled; 0: nothing this time), then says
// the peer is gone. Writes are accepted in pieces too and kept in `out`.
class FuzzStream final : public ByteStream {
 public:
  FuzzStream(std::vector<uint8_t> in, std::vector<uint8_t> schedule, std::vector<uint8_t>* out)
      : in_(std::move(in)), schedule_(std::move(schedule)), out_(out) {
    if (std::all_of(schedule_.begin(), schedule_.end(), [](uint8_t s) { return s == 0; })) {
      schedule_.clear();  // no stalls-only schedule: that would never progress
    }
  }

  Result<size_t> TryWritev(const iovec* iov, int count) override {
    FUZZ_CHECK(!closed_, "write after Close");
    size_t left = NextPiece();
    size_t wrote = 0;
    for (int i = 0; i < count && left > 0; ++i) {
      size_t n = std::min(left, iov[i].iov_len);
      const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      out_->insert(out_->end(), p, p + n);
      wrote += n;
      left -= n;
    }
    return wrote;
  }

  Result<size_t> TryReadv(const iovec* iov, int count) override {
    FUZZ_CHECK(!closed_, "read after Close");
    if (pos_ == in_.size()) return UnavailableError("the fuzz peer closed the stream");
    size_t left = std::min(NextPiece(), in_.size() - pos_);
    size_t got = 0;
    for (int i = 0; i < count && left > 0; ++i) {
      size_t n = std::min(left, iov[i].iov_len);
      std::memcpy(iov[i].iov_base, in_.data() + pos_, n);
      pos_ += n;
      got += n;
      left -= n;
    }
    return got;
  }

  void Close() override { closed_ = true; }
  std::string_view kind() const override { return "fuzz"; }
  std::string describe_peer() const override { return "fuzz peer"; }

 private:
  size_t NextPiece() {
    if (schedule_.empty()) return SIZE_MAX;
    uint8_t s = schedule_[next_++ % schedule_.size()];
    return s == 0 ? 0 : size_t{s} * s;  // up to 64 KiB, mostly small
  }

  std::vector<uint8_t> in_;
  std::vector<uint8_t> schedule_;
  std::vector<uint8_t>* out_;
  size_t pos_ = 0;
  size_t next_ = 0;
  bool closed_ = false;
};

FrameHeader HeaderAt(const std::vector<uint8_t>& bytes, size_t at) {
  FrameHeader h;
  std::memcpy(&h, bytes.data() + at, sizeof(h));
  return h;
}

struct Expected {
  StatusCode code = StatusCode::kOk;
  std::vector<uint8_t> payload;  // kOk
  std::string abort_text;        // kAborted
};

struct Recv {
  uint64_t tag = 0;
  uint64_t bytes = 0;
  uint32_t flags = 0;
  std::vector<uint8_t> buffer;
  Request request;
};

// What the receives should see, frame by frame; the first failure breaks the link for all.
std::vector<Expected> Model(const std::vector<uint8_t>& s, const std::vector<Recv>& recvs) {
  std::vector<Expected> out(recvs.size());
  size_t pos = 0;
  for (size_t i = 0; i < recvs.size(); ++i) {
    Expected failure;
    if (s.size() - pos < kHeaderBytes) {
      failure.code = StatusCode::kUnavailable;  // the peer left
    } else {
      FrameHeader h = HeaderAt(s, pos);
      pos += kHeaderBytes;
      if (h.magic == detail::kAbortMagic) {
        if (h.bytes > detail::kMaxAbortText || s.size() - pos < h.bytes) {
          failure.code = StatusCode::kUnavailable;  // garbage, or the peer left mid-text
        } else {
          failure.code = StatusCode::kAborted;
          failure.abort_text.assign(s.begin() + static_cast<ptrdiff_t>(pos),
                                    s.begin() + static_cast<ptrdiff_t>(pos + h.bytes));
        }
      } else if (h.magic != detail::kFrameMagic) {
        failure.code = StatusCode::kInternal;
      } else if (h.tag != recvs[i].tag || h.bytes != recvs[i].bytes || h.flags != recvs[i].flags) {
        failure.code = StatusCode::kInvalidArgument;
      } else if (s.size() - pos < h.bytes) {
        failure.code = StatusCode::kUnavailable;
      } else {
        out[i].payload.assign(s.begin() + static_cast<ptrdiff_t>(pos),
                              s.begin() + static_cast<ptrdiff_t>(pos + h.bytes));
        pos += h.bytes;
        continue;
      }
    }
    for (size_t j = i; j < recvs.size(); ++j) out[j] = failure;
    break;
  }
  return out;
}

void CheckStripeFlags(FuzzInput& in) {
  const uint64_t random = in.ConsumeIntegral<uint64_t>();
  const uint64_t bytes = random >> in.ConsumeIntegralInRange<int>(0, 63);
  const int n = in.ConsumeIntegralInRange<int>(1, detail::kMaxStripes);
  const int i = in.ConsumeIntegralInRange<int>(0, n - 1);
  const detail::StripePiece piece = detail::PieceOf(bytes, n, i);
  FUZZ_CHECK(piece.offset + piece.bytes <= bytes, "piece %d of %d lies outside the message", i, n);
  FUZZ_CHECK(detail::WholeMessageBytes(detail::PieceFlags(bytes, n, i), piece.bytes) == bytes,
             "piece %d of %d of %llu bytes names another size", i, n,
             static_cast<unsigned long long>(bytes));
  // Any flags a peer sends: never a crash (garbage only yields a size in an error message).
  const uint32_t flags = in.ConsumeIntegral<uint32_t>();
  (void)detail::WholeMessageBytes(flags, in.ConsumeIntegral<uint64_t>());
}

void CheckOutput(const std::vector<uint8_t>& out, const std::vector<std::vector<uint8_t>>& sends,
                 const std::vector<uint64_t>& send_tags, const std::vector<Request>& requests) {
  size_t pos = 0;
  size_t i = 0;
  for (; i < sends.size() && requests[i].status.ok(); ++i) {
    FUZZ_CHECK(out.size() - pos >= kHeaderBytes + sends[i].size(), "send %zu completed unsent", i);
    FrameHeader h = HeaderAt(out, pos);
    FUZZ_CHECK(h.magic == detail::kFrameMagic && h.flags == 0 && h.tag == send_tags[i] &&
                   h.bytes == sends[i].size(),
               "send %zu left with a wrong header", i);
    FUZZ_CHECK(std::equal(sends[i].begin(), sends[i].end(), out.begin() +
                          static_cast<ptrdiff_t>(pos + kHeaderBytes)),
               "send %zu left with other bytes", i);
    pos += kHeaderBytes + sends[i].size();
  }
  for (size_t j = i; j < sends.size(); ++j) {
    FUZZ_CHECK(!requests[j].status.ok(), "send %zu succeeded after send %zu failed", j, i);
  }
  if (pos == out.size()) return;
  // The rest: the start of the failed send's frame, or (at a message boundary) of an abort frame.
  const size_t rest = out.size() - pos;
  std::vector<uint8_t> frame;
  if (i < sends.size()) {
    FrameHeader h{detail::kFrameMagic, 0, send_tags[i], sends[i].size()};
    frame.resize(kHeaderBytes);
    std::memcpy(frame.data(), &h, kHeaderBytes);
    frame.insert(frame.end(), sends[i].begin(), sends[i].end());
  }
  if (rest < frame.size() &&
      std::equal(out.begin() + static_cast<ptrdiff_t>(pos), out.end(), frame.begin())) {
    return;
  }
  uint8_t header[kHeaderBytes] = {};
  std::memcpy(header, out.data() + pos, std::min(rest, kHeaderBytes));
  const uint32_t magic = detail::kAbortMagic;
  FUZZ_CHECK(std::memcmp(header, &magic, std::min<size_t>(rest, 4)) == 0,
             "%zu bytes after the last complete send are neither its next frame nor an abort",
             rest);
  if (rest >= kHeaderBytes) {
    FrameHeader h;
    std::memcpy(&h, header, sizeof(h));
    FUZZ_CHECK(h.tag == 0 && h.flags == 0 && h.bytes <= detail::kMaxAbortText &&
                   rest <= kHeaderBytes + h.bytes,
               "malformed abort frame");
  }
}

void Run(FuzzInput& in) {
  CheckStripeFlags(in);
  const size_t recv_count = in.ConsumeIntegralInRange<size_t>(0, 6);
  const size_t send_count = in.ConsumeIntegralInRange<size_t>(0, 3);
  std::vector<uint8_t> schedule(in.ConsumeIntegralInRange<size_t>(0, 8));
  for (uint8_t& s : schedule) s = in.ConsumeIntegral<uint8_t>();
  std::vector<std::vector<uint8_t>> sends(send_count);
  std::vector<uint64_t> send_tags(send_count);
  for (size_t i = 0; i < send_count; ++i) {
    send_tags[i] = in.ConsumeIntegral<uint64_t>();
    sends[i].assign(in.ConsumeIntegralInRange<size_t>(0, 300), static_cast<uint8_t>(i + 1));
  }
  // Receives for the frames in the stream, each possibly altered; past the last frame, any.
  std::vector<uint8_t> stream_bytes;
  std::vector<uint8_t> alter(recv_count);
  for (uint8_t& a : alter) a = in.ConsumeIntegral<uint8_t>();
  stream_bytes = in.ConsumeRemainingBytes<uint8_t>();
  std::vector<Recv> recvs(recv_count);
  size_t pos = 0;
  for (size_t i = 0; i < recv_count; ++i) {
    Recv& r = recvs[i];
    if (stream_bytes.size() - pos >= kHeaderBytes) {
      FrameHeader h = HeaderAt(stream_bytes, pos);
      r.tag = h.tag;
      r.bytes = h.bytes <= kMaxRecvBytes ? h.bytes : alter[i];
      r.flags = h.flags;
      pos += kHeaderBytes + std::min<uint64_t>(h.bytes, stream_bytes.size() - pos - kHeaderBytes);
    } else {
      r.bytes = alter[i] & 0x3f;
    }
    if (alter[i] & 0x80) r.tag ^= alter[i];  // a mismatch, unless it xors in nothing
    if ((alter[i] & 0xc0) == 0x40) r.bytes = (r.bytes + 1) % kMaxRecvBytes;
    if ((alter[i] & 0x30) == 0x30) r.flags ^= detail::kPieceFlag;
    r.buffer.assign(r.bytes, 0xee);
  }
  const std::vector<Expected> expected = Model(stream_bytes, recvs);

  std::vector<uint8_t> out;
  StreamLink link(1, "fuzzhost",
                  std::make_unique<FuzzStream>(stream_bytes, schedule, &out));
  std::vector<Request> send_requests(send_count);
  for (size_t i = 0; i < send_count; ++i) {
    (void)link.PostSend(send_tags[i], sends[i].data(), sends[i].size(), &send_requests[i]);
  }
  for (Recv& r : recvs) {
    (void)link.PostRecvFrame(r.tag, r.buffer.data(), r.bytes, r.flags, &r.request);
  }
  auto all_done = [&] {
    for (const Request& s : send_requests) {
      if (!s.done) return false;
    }
    for (const Recv& r : recvs) {
      if (!r.request.done) return false;
    }
    return true;
  };
  // Every piece moves at least one byte or is one of the schedule's stalls, so this many rounds
  // always suffice; more would mean the link stopped making progress.
  const size_t max_rounds = (schedule.size() + 2) * (stream_bytes.size() + 4000);
  size_t rounds = 0;
  while (!all_done()) {
    FUZZ_CHECK(++rounds < max_rounds, "no progress after %zu rounds", rounds);
    Result<bool> progressed = link.Progress();
    if (!progressed.ok()) break;
  }
  FUZZ_CHECK(all_done(), "the link broke but left requests pending");

  for (size_t i = 0; i < recvs.size(); ++i) {
    const Status& got = recvs[i].request.status;
    const Expected& want = expected[i];
    FUZZ_CHECK(got.code() == want.code, "receive %zu: got %s, the model expects code %d", i,
               got.ToString().c_str(), static_cast<int>(want.code));
    if (want.code == StatusCode::kOk) {
      FUZZ_CHECK(recvs[i].buffer == want.payload, "receive %zu got other bytes", i);
    } else if (want.code == StatusCode::kAborted) {
      const std::string& m = got.message();
      FUZZ_CHECK(m.size() >= want.abort_text.size() &&
                     m.compare(m.size() - want.abort_text.size(), std::string::npos,
                               want.abort_text) == 0,
                 "the peer's abort text is not reported");
    }
  }
  CheckOutput(out, sends, send_tags, send_requests);
}

}  // namespace
}  // namespace cohort

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  cohort::Run(in);
  return 0;
}
