// Fuzz target: the TCP store's frame decoders (runtime/store/store_protocol.h), which read what
// any client that passed the handshake sends to the server, and what the server sends back.
// Properties: a header that passes never announces a body above the limit, so the server never
// buffers more; a frame decodes the same whole as header then body (the server's way); a decoded
// request validates and a decoded frame re-encodes to exactly its input bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/store/store_protocol.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort {
namespace {

bool SameBytes(const Bytes& encoded, std::span<const uint8_t> input) {
  return encoded.size() == input.size() &&
         std::equal(encoded.begin(), encoded.end(), input.begin());
}

// Decodes `frame` as the server (or client) reads it: header, then exactly body_bytes more.
template <typename Whole, typename DecodeHeader, typename DecodeBody>
void CheckTwoStepDecode(std::span<const uint8_t> frame, const Whole& whole,
                        DecodeHeader decode_header, DecodeBody decode_body, size_t body_limit) {
  if (frame.size() < kStoreFrameHeaderBytes) {
    FUZZ_CHECK(!whole.ok(), "a frame shorter than its header decoded");
    return;
  }
  auto header = decode_header(frame.first(kStoreFrameHeaderBytes));
  if (!header.ok()) {
    FUZZ_CHECK(!whole.ok(), "a frame whose header fails decoded whole");
    return;
  }
  FUZZ_CHECK(header->body_bytes <= body_limit, "header announces %u body bytes",
             header->body_bytes);
  FUZZ_CHECK(size_t{header->field_count} * 4 <= header->body_bytes, "%u fields in %u bytes",
             header->field_count, header->body_bytes);
  std::span<const uint8_t> rest = frame.subspan(kStoreFrameHeaderBytes);
  if (rest.size() < header->body_bytes) return;  // the server would still be reading
  auto body = decode_body(*header, rest.first(header->body_bytes));
  if (rest.size() == header->body_bytes) {
    FUZZ_CHECK(body.ok() == whole.ok(), "whole-frame and header+body decoding disagree");
  }
}

}  // namespace
}  // namespace cohort

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  const std::span<const uint8_t> frame(data, size);

  Result<StoreRequest> request = DecodeStoreRequest(frame);
  if (request.ok()) {
    FUZZ_CHECK(ValidateStoreRequest(*request).ok(), "a decoded request does not validate");
    FUZZ_CHECK(SameBytes(EncodeStoreRequest(*request), frame),
               "a decoded %s request does not re-encode to its frame",
               std::string(StoreOpName(request->op)).c_str());
  }
  CheckTwoStepDecode(frame, request, DecodeStoreRequestHeader, DecodeStoreRequestBody,
                     kMaxStoreCompareSetBodyBytes);

  Result<StoreReply> reply = DecodeStoreReply(frame);
  if (reply.ok()) {
    FUZZ_CHECK(SameBytes(EncodeStoreReply(*reply), frame),
               "a decoded reply does not re-encode to its frame");
    if (reply->code != StatusCode::kOk) {
      FUZZ_CHECK(reply->fields.size() == 1 && reply->fields[0].size() <= kMaxStoreMessageBytes,
                 "an error reply without one bounded message");
    }
  }
  CheckTwoStepDecode(frame, reply, DecodeStoreReplyHeader, DecodeStoreReplyBody,
                     kMaxStoreReplyBodyBytes);
  return 0;
}
