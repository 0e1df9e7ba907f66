// Store frame encoding: round trips, rejection of truncated, oversize and inconsistent frames, and
// a randomized garbage loop that the decoders must survive.
#include "runtime/store/store_protocol.h"

#include <gtest/gtest.h>

#include <random>

namespace cohort {
namespace {

StoreRequest Request(StoreOp op, int64_t number, std::vector<std::string> fields) {
  StoreRequest request;
  request.op = op;
  request.number = number;
  for (const auto& f : fields) request.fields.push_back(ToBytes(f));
  return request;
}

void PutU32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

TEST(StoreProtocolTest, RequestsRoundTrip) {
  std::vector<StoreRequest> requests = {
      Request(StoreOp::kSet, 0, {"key", "value"}),
      Request(StoreOp::kSet, 0, {"k", ""}),
      Request(StoreOp::kGet, 1500, {"some/key"}),
      Request(StoreOp::kAdd, -42, {"counter"}),
      Request(StoreOp::kAdd, INT64_MIN, {"counter"}),
      Request(StoreOp::kCompareSet, 0, {"k", "", "new"}),
      Request(StoreOp::kDelete, 0, {"k"}),
      Request(StoreOp::kCheck, 0, {"k"}),
      Request(StoreOp::kWait, 7, {"a", "b", "c"}),
  };
  Bytes binary_value(300);
  for (size_t i = 0; i < binary_value.size(); ++i) binary_value[i] = static_cast<uint8_t>(i);
  requests.push_back(StoreRequest{StoreOp::kSet, 0, {ToBytes("bin"), binary_value}});
  for (const auto& request : requests) {
    ASSERT_TRUE(ValidateStoreRequest(request).ok());
    Bytes frame = EncodeStoreRequest(request);
    auto decoded = DecodeStoreRequest(frame);
    ASSERT_TRUE(decoded.ok()) << StoreOpName(request.op) << ": " << decoded.status().ToString();
    EXPECT_EQ(decoded->op, request.op);
    EXPECT_EQ(decoded->number, request.number);
    EXPECT_EQ(decoded->fields, request.fields);
  }
}

TEST(StoreProtocolTest, RepliesRoundTrip) {
  std::vector<StoreReply> replies(3);
  replies[0].number = 12345;
  replies[1].fields.push_back(ToBytes("a value"));
  replies[2].code = StatusCode::kDeadlineExceeded;
  replies[2].fields.push_back(ToBytes("timed out waiting for store key 'x'"));
  for (const auto& reply : replies) {
    auto decoded = DecodeStoreReply(EncodeStoreReply(reply));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->code, reply.code);
    EXPECT_EQ(decoded->number, reply.number);
    EXPECT_EQ(decoded->fields, reply.fields);
  }
}

TEST(StoreProtocolTest, LargestValueRoundTrips) {
  StoreRequest request{StoreOp::kCompareSet, 0,
                       {Bytes(kMaxStoreKeyBytes, 'k'), Bytes(kMaxStoreValueBytes, 1),
                        Bytes(kMaxStoreValueBytes, 2)}};
  ASSERT_TRUE(ValidateStoreRequest(request).ok());
  auto decoded = DecodeStoreRequest(EncodeStoreRequest(request));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->fields[2].size(), kMaxStoreValueBytes);
}

TEST(StoreProtocolTest, ValidationRejectsBadRequests) {
  EXPECT_FALSE(ValidateStoreRequest(Request(StoreOp::kSet, 0, {"k"})).ok());
  EXPECT_FALSE(ValidateStoreRequest(Request(StoreOp::kGet, 0, {""})).ok());
  EXPECT_FALSE(ValidateStoreRequest(Request(StoreOp::kGet, -1, {"k"})).ok());
  EXPECT_FALSE(ValidateStoreRequest(Request(StoreOp::kWait, 0, {})).ok());
  EXPECT_FALSE(ValidateStoreRequest(Request(StoreOp::kCheck, 0, {std::string(5000, 'k')})).ok());
  StoreRequest big{StoreOp::kSet, 0, {ToBytes("k"), Bytes(kMaxStoreValueBytes + 1)}};
  Status status = ValidateStoreRequest(big);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(std::to_string(kMaxStoreValueBytes + 1)), std::string::npos);
  StoreRequest bad_op = Request(StoreOp::kSet, 0, {"k", "v"});
  bad_op.op = static_cast<StoreOp>(99);
  EXPECT_FALSE(ValidateStoreRequest(bad_op).ok());
}

TEST(StoreProtocolTest, TruncatedFramesAreRejected) {
  Bytes frame = EncodeStoreRequest(Request(StoreOp::kSet, 0, {"key", "value"}));
  for (size_t length = 0; length < frame.size(); ++length) {
    auto decoded = DecodeStoreRequest(std::span<const uint8_t>(frame.data(), length));
    EXPECT_FALSE(decoded.ok()) << "length " << length;
  }
  Bytes longer = frame;
  longer.push_back(0);
  EXPECT_FALSE(DecodeStoreRequest(longer).ok());
}

TEST(StoreProtocolTest, HeaderChecks) {
  Bytes frame = EncodeStoreRequest(Request(StoreOp::kGet, 10, {"key"}));
  std::span<const uint8_t> header(frame.data(), kStoreFrameHeaderBytes);
  ASSERT_TRUE(DecodeStoreRequestHeader(header).ok());
  // The same bytes are not a reply header only by accident: kGet (2) is a valid status code.
  Bytes bad = frame;
  bad[0] ^= 0xff;
  EXPECT_FALSE(DecodeStoreRequest(bad).ok());  // magic
  bad = frame;
  bad[4] = 0;
  EXPECT_FALSE(DecodeStoreRequest(bad).ok());  // op 0
  bad[4] = 8;
  EXPECT_FALSE(DecodeStoreRequest(bad).ok());  // op past the last
  bad = frame;
  bad[5] = 1;
  EXPECT_FALSE(DecodeStoreRequest(bad).ok());  // reserved byte
  bad = frame;
  bad[6] = 200;  // 200 fields cannot fit the announced body
  EXPECT_FALSE(DecodeStoreRequestHeader(std::span<const uint8_t>(bad.data(), 20)).ok());
}

TEST(StoreProtocolTest, OversizeHeaderRejectedBeforeBody) {
  Bytes frame = EncodeStoreRequest(Request(StoreOp::kSet, 0, {"k", "v"}));
  Bytes header(frame.begin(), frame.begin() + kStoreFrameHeaderBytes);
  PutU32(header, 8, static_cast<uint32_t>(kMaxStoreRequestBodyBytes + 1));
  auto decoded = DecodeStoreRequestHeader(header);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("limit"), std::string::npos);
  PutU32(header, 8, 0xffffffffu);
  EXPECT_FALSE(DecodeStoreRequestHeader(header).ok());
  // Compare-set may carry two values; a set may not.
  header[4] = static_cast<uint8_t>(StoreOp::kCompareSet);
  PutU32(header, 8, static_cast<uint32_t>(kMaxStoreRequestBodyBytes + 1));
  EXPECT_TRUE(DecodeStoreRequestHeader(header).ok());
  PutU32(header, 8, static_cast<uint32_t>(kMaxStoreCompareSetBodyBytes + 1));
  EXPECT_FALSE(DecodeStoreRequestHeader(header).ok());
}

TEST(StoreProtocolTest, InconsistentFieldLengthsAreRejected) {
  Bytes frame = EncodeStoreRequest(Request(StoreOp::kSet, 0, {"key", "value"}));
  Bytes bad = frame;
  PutU32(bad, kStoreFrameHeaderBytes, 1000);  // first field overruns the body
  EXPECT_FALSE(DecodeStoreRequest(bad).ok());
  bad = frame;
  PutU32(bad, kStoreFrameHeaderBytes, 1);  // fields leave bytes over
  EXPECT_FALSE(DecodeStoreRequest(bad).ok());
  bad = frame;
  bad[6] = 1;  // one field announced, two present
  EXPECT_FALSE(DecodeStoreRequest(bad).ok());
}

TEST(StoreProtocolTest, ReplyChecks) {
  StoreReply error;
  error.code = StatusCode::kInternal;  // an error must carry exactly one message
  EXPECT_FALSE(DecodeStoreReply(EncodeStoreReply(error)).ok());
  Bytes frame = EncodeStoreReply(StoreReply{});
  frame[4] = 200;  // unknown status code
  EXPECT_FALSE(DecodeStoreReply(frame).ok());
  StoreReply two;
  two.fields = {ToBytes("a"), ToBytes("b")};
  EXPECT_FALSE(DecodeStoreReply(EncodeStoreReply(two)).ok());
}

// Random bytes, and valid frames with random corruptions, must decode or fail cleanly.
TEST(StoreProtocolTest, RandomGarbageNeverCrashes) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<Bytes> valid = {
      EncodeStoreRequest(Request(StoreOp::kSet, 0, {"key", "value"})),
      EncodeStoreRequest(Request(StoreOp::kWait, 5, {"a", "bb", "ccc"})),
      EncodeStoreRequest(Request(StoreOp::kCompareSet, 0, {"k", "x", "y"})),
      EncodeStoreReply(StoreReply{StatusCode::kOk, 3, {ToBytes("v")}}),
  };
  int decoded_ok = 0;
  for (int iteration = 0; iteration < 200'000; ++iteration) {
    Bytes input;
    if (iteration % 2 == 0) {
      input.resize(rng() % 64);
      for (auto& byte : input) byte = static_cast<uint8_t>(rng());
      if (input.size() >= 4 && rng() % 2) PutU32(input, 0, kStoreFrameMagic);
    } else {
      input = valid[rng() % valid.size()];
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips; ++i) input[rng() % input.size()] = static_cast<uint8_t>(rng());
      if (rng() % 4 == 0) input.resize(rng() % (input.size() + 1));
    }
    auto request = DecodeStoreRequest(input);
    auto reply = DecodeStoreReply(input);
    if (request.ok()) {
      ++decoded_ok;
      EXPECT_TRUE(ValidateStoreRequest(*request).ok());
      EXPECT_EQ(EncodeStoreRequest(*request), input);  // what decodes re-encodes identically
    }
    if (reply.ok()) {
      EXPECT_EQ(EncodeStoreReply(*reply), input);
    }
  }
  RecordProperty("decoded_ok", decoded_ok);
}

}  // namespace
}  // namespace cohort
