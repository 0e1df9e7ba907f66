// Wire format of the TCP store (after the handshake): pure encode/decode functions over byte
// spans, no sockets, so that the decoder can be fuzzed on its own.
//
// Every frame (request or reply) is a 20-byte little-endian header and a body:
//   u32 magic 'CST1' | u8 kind | u8 zero | u16 field_count | u32 body_bytes | i64 number
//   body: field_count x (u32 length, length bytes), exactly body_bytes in all.
// kind is the StoreOp of a request or the StatusCode of a reply. `number` carries the timeout in
// ms (Get, Wait), the delta (Add), the new value (Add reply) or 0/1 (Delete, Check replies).
// A header announcing more than the op's limit is rejected before any body byte is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/store/store.h"

namespace cohort {

enum class StoreOp : uint8_t {
  kSet = 1,         // fields: key, value
  kGet = 2,         // fields: key; number: timeout ms
  kAdd = 3,         // fields: key; number: delta
  kCompareSet = 4,  // fields: key, expected, desired
  kDelete = 5,      // fields: key
  kCheck = 6,       // fields: key
  kWait = 7,        // fields: 1 to kMaxStoreWaitKeys keys; number: timeout ms
};

inline constexpr uint32_t kStoreFrameMagic = 0x31545343;  // "CST1" read little-endian
inline constexpr size_t kStoreFrameHeaderBytes = 20;
inline constexpr size_t kMaxStoreWaitKeys = 4096;
// Longest error message a reply may carry.
inline constexpr size_t kMaxStoreMessageBytes = 8192;
// Body limits: one key and one value (two values for compare-set), plus field lengths.
inline constexpr size_t kMaxStoreRequestBodyBytes = kMaxStoreKeyBytes + kMaxStoreValueBytes + 64;
inline constexpr size_t kMaxStoreCompareSetBodyBytes =
    kMaxStoreKeyBytes + 2 * kMaxStoreValueBytes + 64;
inline constexpr size_t kMaxStoreReplyBodyBytes = kMaxStoreValueBytes + 64;

struct StoreRequest {
  StoreOp op = StoreOp::kCheck;
  int64_t number = 0;
  std::vector<Bytes> fields;
};

struct StoreReply {
  StatusCode code = StatusCode::kOk;
  int64_t number = 0;
  std::vector<Bytes> fields;  // a value (Get, CompareSet), or the message of an error
};

struct StoreFrameHeader {
  uint8_t kind = 0;
  uint16_t field_count = 0;
  uint32_t body_bytes = 0;
  int64_t number = 0;
};

// Checks field counts and sizes for `request.op`; the message names the op and the sizes.
Status ValidateStoreRequest(const StoreRequest& request);

Bytes EncodeStoreRequest(const StoreRequest& request);
Bytes EncodeStoreReply(const StoreReply& reply);

// Decode the 20 header bytes, rejecting a bad magic, a non-zero reserved byte, an unknown op or
// status, and a body_bytes above the limit for that kind or too small for field_count.
Result<StoreFrameHeader> DecodeStoreRequestHeader(std::span<const uint8_t> header);
Result<StoreFrameHeader> DecodeStoreReplyHeader(std::span<const uint8_t> header);

// Decode a body announced by a header from the functions above; the body must be exactly
// header.body_bytes long and its fields must fill it exactly.
Result<StoreRequest> DecodeStoreRequestBody(const StoreFrameHeader& header,
                                            std::span<const uint8_t> body);
Result<StoreReply> DecodeStoreReplyBody(const StoreFrameHeader& header,
                                        std::span<const uint8_t> body);

// A whole frame (header and body, nothing after it): what a fuzzer feeds.
Result<StoreRequest> DecodeStoreRequest(std::span<const uint8_t> frame);
Result<StoreReply> DecodeStoreReply(std::span<const uint8_t> frame);

std::string_view StoreOpName(StoreOp op);

}  // namespace cohort
