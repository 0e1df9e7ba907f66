// Encoding and decoding of TCP store frames (see store_protocol.h). Everything here is a pure
// function of its input; the decoders never read past a span nor allocate more than the bytes
// they were given.
#include "runtime/store/store_protocol.h"

#include <cstring>

namespace cohort {
namespace {

void PutU32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t GetU32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint64_t GetU64(const uint8_t* p) {
  return uint64_t{GetU32(p)} | (uint64_t{GetU32(p + 4)} << 32);
}

size_t BodyBytes(const std::vector<Bytes>& fields) {
  size_t total = 0;
  for (const auto& field : fields) total += 4 + field.size();
  return total;
}

Bytes EncodeFrame(uint8_t kind, int64_t number, const std::vector<Bytes>& fields) {
  Bytes out;
  size_t body = BodyBytes(fields);
  out.reserve(kStoreFrameHeaderBytes + body);
  PutU32(out, kStoreFrameMagic);
  out.push_back(kind);
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(fields.size()));
  out.push_back(static_cast<uint8_t>(fields.size() >> 8));
  PutU32(out, static_cast<uint32_t>(body));
  PutU64(out, static_cast<uint64_t>(number));
  for (const auto& field : fields) {
    PutU32(out, static_cast<uint32_t>(field.size()));
    out.insert(out.end(), field.begin(), field.end());
  }
  return out;
}

bool KnownOp(uint8_t kind) {
  return kind >= static_cast<uint8_t>(StoreOp::kSet) && kind <= static_cast<uint8_t>(StoreOp::kWait);
}
bool KnownCode(uint8_t kind) { return kind <= static_cast<uint8_t>(StatusCode::kInternal); }

size_t RequestBodyLimit(StoreOp op) {
  return op == StoreOp::kCompareSet ? kMaxStoreCompareSetBodyBytes : kMaxStoreRequestBodyBytes;
}

// Header checks shared by requests and replies; the body limit depends on the op.
Result<StoreFrameHeader> DecodeHeader(std::span<const uint8_t> bytes, bool request) {
  if (bytes.size() != kStoreFrameHeaderBytes) {
    return InvalidArgumentError("store frame header of " + std::to_string(bytes.size()) +
                                " bytes; expected " + std::to_string(kStoreFrameHeaderBytes));
  }
  const uint8_t* p = bytes.data();
  if (GetU32(p) != kStoreFrameMagic) {
    return InvalidArgumentError("not a cohort store frame (bad magic)");
  }
  StoreFrameHeader header;
  header.kind = p[4];
  if (p[5] != 0) return InvalidArgumentError("store frame with a non-zero reserved byte");
  header.field_count = static_cast<uint16_t>(p[6] | (p[7] << 8));
  header.body_bytes = GetU32(p + 8);
  header.number = static_cast<int64_t>(GetU64(p + 12));
  size_t limit = 0;
  if (request) {
    if (!KnownOp(header.kind)) {
      return InvalidArgumentError("unknown store op " + std::to_string(header.kind));
    }
    limit = RequestBodyLimit(static_cast<StoreOp>(header.kind));
  } else {
    if (!KnownCode(header.kind)) {
      return InvalidArgumentError("unknown store reply code " + std::to_string(header.kind));
    }
    limit = kMaxStoreReplyBodyBytes;
  }
  if (header.body_bytes > limit) {
    return InvalidArgumentError("store frame announces " + std::to_string(header.body_bytes) +
                                " body bytes; the limit is " + std::to_string(limit));
  }
  if (size_t{header.field_count} * 4 > header.body_bytes) {
    return InvalidArgumentError("store frame announces " + std::to_string(header.field_count) +
                                " fields in only " + std::to_string(header.body_bytes) + " bytes");
  }
  return header;
}

Result<std::vector<Bytes>> DecodeFields(const StoreFrameHeader& header,
                                        std::span<const uint8_t> body) {
  if (body.size() != header.body_bytes) {
    return InvalidArgumentError("store frame body of " + std::to_string(body.size()) +
                                " bytes; the header announced " +
                                std::to_string(header.body_bytes));
  }
  std::vector<Bytes> fields;
  fields.reserve(header.field_count);
  size_t at = 0;
  for (size_t i = 0; i < header.field_count; ++i) {
    if (body.size() - at < 4) return InvalidArgumentError("store frame field length truncated");
    size_t length = GetU32(body.data() + at);
    at += 4;
    if (length > body.size() - at) {
      return InvalidArgumentError("store frame field of " + std::to_string(length) +
                                  " bytes overruns the body");
    }
    fields.emplace_back(body.begin() + static_cast<ptrdiff_t>(at),
                        body.begin() + static_cast<ptrdiff_t>(at + length));
    at += length;
  }
  if (at != body.size()) {
    return InvalidArgumentError("store frame has " + std::to_string(body.size() - at) +
                                " bytes after its last field");
  }
  return fields;
}

Status CheckKeyField(StoreOp op, const Bytes& key) {
  if (key.empty() || key.size() > kMaxStoreKeyBytes) {
    return InvalidArgumentError(std::string(StoreOpName(op)) + ": store key of " +
                                std::to_string(key.size()) + " bytes; keys must have 1 to " +
                                std::to_string(kMaxStoreKeyBytes));
  }
  return Status::Ok();
}

Status CheckValueField(StoreOp op, const Bytes& value) {
  if (value.size() > kMaxStoreValueBytes) {
    return InvalidArgumentError(std::string(StoreOpName(op)) + ": store value of " +
                                std::to_string(value.size()) + " bytes exceeds the limit of " +
                                std::to_string(kMaxStoreValueBytes));
  }
  return Status::Ok();
}

Status CheckReply(const StoreReply& reply) {
  if (reply.code == StatusCode::kOk) {
    if (reply.fields.size() > 1) return InvalidArgumentError("store reply with several values");
    if (!reply.fields.empty() && reply.fields[0].size() > kMaxStoreValueBytes) {
      return InvalidArgumentError("store reply value above the limit");
    }
    return Status::Ok();
  }
  if (reply.fields.size() != 1 || reply.fields[0].size() > kMaxStoreMessageBytes) {
    return InvalidArgumentError("store error reply without a bounded message");
  }
  return Status::Ok();
}

}  // namespace

std::string_view StoreOpName(StoreOp op) {
  switch (op) {
    case StoreOp::kSet: return "set";
    case StoreOp::kGet: return "get";
    case StoreOp::kAdd: return "add";
    case StoreOp::kCompareSet: return "compare-set";
    case StoreOp::kDelete: return "delete";
    case StoreOp::kCheck: return "check";
    case StoreOp::kWait: return "wait";
  }
  return "unknown";
}

Status ValidateStoreRequest(const StoreRequest& request) {
  StoreOp op = request.op;
  if (!KnownOp(static_cast<uint8_t>(op))) {
    return InvalidArgumentError("unknown store op " + std::to_string(static_cast<int>(op)));
  }
  size_t want = 1;
  if (op == StoreOp::kSet) want = 2;
  if (op == StoreOp::kCompareSet) want = 3;
  const size_t count = request.fields.size();
  if (op == StoreOp::kWait ? (count < 1 || count > kMaxStoreWaitKeys) : count != want) {
    return InvalidArgumentError(std::string(StoreOpName(op)) + ": " + std::to_string(count) +
                                " fields; expected " +
                                (op == StoreOp::kWait ? "1 to " + std::to_string(kMaxStoreWaitKeys)
                                                      : std::to_string(want)));
  }
  if (op == StoreOp::kWait) {
    for (const auto& key : request.fields) COHORT_RETURN_IF_ERROR(CheckKeyField(op, key));
  } else {
    COHORT_RETURN_IF_ERROR(CheckKeyField(op, request.fields[0]));
    for (size_t i = 1; i < count; ++i) COHORT_RETURN_IF_ERROR(CheckValueField(op, request.fields[i]));
  }
  if ((op == StoreOp::kGet || op == StoreOp::kWait) && request.number < 0) {
    return InvalidArgumentError(std::string(StoreOpName(op)) + ": negative timeout " +
                                std::to_string(request.number) + " ms");
  }
  size_t body = BodyBytes(request.fields);
  if (body > RequestBodyLimit(op)) {
    return InvalidArgumentError(std::string(StoreOpName(op)) + ": request of " +
                                std::to_string(body) + " bytes exceeds the limit of " +
                                std::to_string(RequestBodyLimit(op)));
  }
  return Status::Ok();
}

Bytes EncodeStoreRequest(const StoreRequest& request) {
  return EncodeFrame(static_cast<uint8_t>(request.op), request.number, request.fields);
}

Bytes EncodeStoreReply(const StoreReply& reply) {
  return EncodeFrame(static_cast<uint8_t>(reply.code), reply.number, reply.fields);
}

Result<StoreFrameHeader> DecodeStoreRequestHeader(std::span<const uint8_t> header) {
  return DecodeHeader(header, /*request=*/true);
}

Result<StoreFrameHeader> DecodeStoreReplyHeader(std::span<const uint8_t> header) {
  return DecodeHeader(header, /*request=*/false);
}

Result<StoreRequest> DecodeStoreRequestBody(const StoreFrameHeader& header,
                                            std::span<const uint8_t> body) {
  COHORT_ASSIGN_OR_RETURN(std::vector<Bytes> fields, DecodeFields(header, body));
  StoreRequest request;
  request.op = static_cast<StoreOp>(header.kind);
  request.number = header.number;
  request.fields = std::move(fields);
  COHORT_RETURN_IF_ERROR(ValidateStoreRequest(request));
  return request;
}

Result<StoreReply> DecodeStoreReplyBody(const StoreFrameHeader& header,
                                        std::span<const uint8_t> body) {
  COHORT_ASSIGN_OR_RETURN(std::vector<Bytes> fields, DecodeFields(header, body));
  StoreReply reply;
  reply.code = static_cast<StatusCode>(header.kind);
  reply.number = header.number;
  reply.fields = std::move(fields);
  COHORT_RETURN_IF_ERROR(CheckReply(reply));
  return reply;
}

Result<StoreRequest> DecodeStoreRequest(std::span<const uint8_t> frame) {
  if (frame.size() < kStoreFrameHeaderBytes) {
    return InvalidArgumentError("store frame of " + std::to_string(frame.size()) +
                                " bytes is shorter than its header");
  }
  COHORT_ASSIGN_OR_RETURN(StoreFrameHeader header,
                          DecodeStoreRequestHeader(frame.first(kStoreFrameHeaderBytes)));
  return DecodeStoreRequestBody(header, frame.subspan(kStoreFrameHeaderBytes));
}

Result<StoreReply> DecodeStoreReply(std::span<const uint8_t> frame) {
  if (frame.size() < kStoreFrameHeaderBytes) {
    return InvalidArgumentError("store frame of " + std::to_string(frame.size()) +
                                " bytes is shorter than its header");
  }
  COHORT_ASSIGN_OR_RETURN(StoreFrameHeader header,
                          DecodeStoreReplyHeader(frame.first(kStoreFrameHeaderBytes)));
  return DecodeStoreReplyBody(header, frame.subspan(kStoreFrameHeaderBytes));
}

}  // namespace cohort
