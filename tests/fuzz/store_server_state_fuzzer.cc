// Fuzz target: the TCP store server's request handling (runtime/store/store_server_state.h), driven
// by a sequence of hostile but well-formed requests from a few clients, local sets, clients that
// leave and time that passes. A reference map of the data checks every reply: set, add (integers
// only, no overflow), compare-set, delete and check answer as the model says; a get or wait
// parks exactly when a key is missing and a timeout was given, is answered as soon as its keys
// exist and times out only after its deadline; every reply is one a client accepts.
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/store/store_server_state.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort {
namespace {

constexpr uint64_t kClients = 4;

struct Parked {
  StoreOp op;
  std::vector<std::string> keys;
  Clock::time_point deadline;
};

class Harness {
 public:
  explicit Harness(FuzzInput& in) : in_(in) {}

  void Run() {
    for (int step = 0; step < 200 && in_.remaining_bytes() > 0; ++step) {
      switch (in_.ConsumeIntegralInRange<int>(0, 4)) {
        case 0:
        case 1: Request(); break;
        case 2: {
          now_ += std::chrono::milliseconds(in_.ConsumeIntegralInRange<int64_t>(0, 100'000));
          for (const auto& answer : state_.ExpireWaits(now_)) Expired(answer);
          for (const auto& [client, parked] : parked_) {
            FUZZ_CHECK(parked.deadline > now_, "client %llu waits past its deadline",
                       static_cast<unsigned long long>(client));
          }
          break;
        }
        case 3: {
          uint64_t client = Client();
          state_.Unpark(client);  // the client went away
          parked_.erase(client);
          break;
        }
        case 4: {
          std::string key = Key();
          Bytes value = Value();
          state_.SetLocal(key, value);
          data_[key] = value;
          Deliver();
          break;
        }
      }
    }
  }

 private:
  uint64_t Client() { return in_.ConsumeIntegralInRange<uint64_t>(1, kClients); }
  std::string Key() {
    // Mostly a few shared names, so that requests meet; sometimes anything (even too long).
    if (in_.ConsumeBool()) return "k" + std::to_string(in_.ConsumeIntegralInRange<int>(0, 5));
    return in_.ConsumeRandomLengthString(kMaxStoreKeyBytes + 8);
  }
  Bytes Value() {
    if (in_.ConsumeBool()) return ToBytes(std::to_string(in_.ConsumeIntegral<int64_t>()));
    return ToBytes(in_.ConsumeRandomLengthString(256));
  }

  static void CheckClientAccepts(const StoreReply& reply) {
    Result<StoreReply> decoded = DecodeStoreReply(EncodeStoreReply(reply));
    FUZZ_CHECK(decoded.ok(), "a client would refuse the reply: %s",
               decoded.status().ToString().c_str());
  }

  void Request() {
    StoreRequest request;
    request.op = static_cast<StoreOp>(in_.ConsumeIntegralInRange<int>(1, 7));
    request.number = in_.ConsumeBool() ? in_.ConsumeIntegralInRange<int64_t>(-1, 200'000)
                                       : in_.ConsumeIntegral<int64_t>();
    const size_t fields = in_.ConsumeIntegralInRange<size_t>(0, 6);
    for (size_t i = 0; i < fields; ++i) {
      request.fields.push_back(i == 0 || request.op == StoreOp::kWait ? ToBytes(Key()) : Value());
    }
    // What the server runs has passed the decoder, which validates; encode -> decode holds.
    Result<StoreRequest> decoded = DecodeStoreRequest(EncodeStoreRequest(request));
    FUZZ_CHECK(decoded.ok() == ValidateStoreRequest(request).ok(),
               "the decoder and the validator disagree on a %s request",
               std::string(StoreOpName(request.op)).c_str());
    if (!decoded.ok()) return;
    FUZZ_CHECK(decoded->op == request.op && decoded->number == request.number &&
                   decoded->fields == request.fields,
               "a request does not survive encode -> decode");
    const uint64_t client = Client();
    if (parked_.count(client)) {  // the server drops a client that sends while it waits
      state_.Unpark(client);
      parked_.erase(client);
    }
    std::optional<StoreReply> reply = state_.Execute(client, request, now_);
    if (reply) CheckClientAccepts(*reply);
    CheckReply(client, request, reply);
    Deliver();
  }

  void CheckReply(uint64_t client, const StoreRequest& request,
                  const std::optional<StoreReply>& reply) {
    const std::string key = ToString(request.fields[0]);
    auto it = data_.find(key);
    switch (request.op) {
      case StoreOp::kSet:
        FUZZ_CHECK(reply && reply->code == StatusCode::kOk, "set failed");
        data_[key] = request.fields[1];
        return;
      case StoreOp::kAdd: {
        FUZZ_CHECK(reply.has_value(), "add parked");
        int64_t value = 0;
        bool integer = true;
        if (it != data_.end()) {
          const char* begin = reinterpret_cast<const char*>(it->second.data());
          const char* end = begin + it->second.size();
          auto [ptr, ec] = std::from_chars(begin, end, value);
          integer = ec == std::errc() && ptr == end && begin != end;
        }
        int64_t sum = 0;
        if (!integer || __builtin_add_overflow(value, request.number, &sum)) {
          FUZZ_CHECK(reply->code == StatusCode::kInvalidArgument, "a bad add succeeded");
          return;
        }
        FUZZ_CHECK(reply->code == StatusCode::kOk && reply->number == sum,
                   "add returned %lld, expected %lld", static_cast<long long>(reply->number),
                   static_cast<long long>(sum));
        data_[key] = ToBytes(std::to_string(sum));
        return;
      }
      case StoreOp::kCompareSet: {
        FUZZ_CHECK(reply && reply->code == StatusCode::kOk && reply->fields.size() == 1,
                   "compare-set failed");
        const bool matches =
            it == data_.end() ? request.fields[1].empty() : it->second == request.fields[1];
        if (matches) {
          FUZZ_CHECK(reply->fields[0] == request.fields[2], "compare-set returned another value");
          data_[key] = request.fields[2];
        } else {
          FUZZ_CHECK(reply->fields[0] == (it == data_.end() ? Bytes{} : it->second),
                     "a failed compare-set did not return the current value");
        }
        return;
      }
      case StoreOp::kDelete:
        FUZZ_CHECK(reply && reply->number == (it != data_.end() ? 1 : 0), "delete reply");
        data_.erase(key);
        return;
      case StoreOp::kCheck:
        FUZZ_CHECK(reply && reply->number == (it != data_.end() ? 1 : 0), "check reply");
        return;
      case StoreOp::kGet:
      case StoreOp::kWait: {
        std::vector<std::string> keys;
        for (const Bytes& field : request.fields) keys.push_back(ToString(field));
        if (AllPresent(keys)) {
          FUZZ_CHECK(reply && reply->code == StatusCode::kOk, "a get/wait for present keys failed");
          if (request.op == StoreOp::kGet) {
            FUZZ_CHECK(reply->fields.size() == 1 && reply->fields[0] == data_.at(key),
                       "get returned another value");
          }
        } else if (request.number == 0) {
          FUZZ_CHECK(reply && reply->code == StatusCode::kDeadlineExceeded,
                     "a get/wait without a timeout did not fail at once");
        } else {
          FUZZ_CHECK(!reply, "a get/wait for a missing key did not park");
          const int64_t max_ms = int64_t{30} * 24 * 3600 * 1000;  // the server's cap
          parked_[client] = {request.op, keys,
                             now_ + std::chrono::milliseconds(std::min(request.number, max_ms))};
        }
        return;
      }
    }
  }

  bool AllPresent(const std::vector<std::string>& keys) const {
    for (const auto& k : keys) {
      if (!data_.count(k)) return false;
    }
    return true;
  }

  // What the server does after each change: hand out the answers of waits it completed.
  void Deliver() {
    for (const auto& answer : state_.TakeAnswers()) {
      auto it = parked_.find(answer.client);
      FUZZ_CHECK(it != parked_.end(), "an answer for client %llu, which was not waiting",
                 static_cast<unsigned long long>(answer.client));
      CheckClientAccepts(answer.reply);
      FUZZ_CHECK(answer.reply.code == StatusCode::kOk && AllPresent(it->second.keys),
                 "a wait was answered before its keys existed");
      if (it->second.op == StoreOp::kGet) {
        FUZZ_CHECK(answer.reply.fields.size() == 1 &&
                       answer.reply.fields[0] == data_.at(it->second.keys[0]),
                   "a parked get was answered with another value");
      }
      parked_.erase(it);
    }
    for (const auto& [client, parked] : parked_) {
      FUZZ_CHECK(!AllPresent(parked.keys), "client %llu still waits for keys that all exist",
                 static_cast<unsigned long long>(client));
    }
  }

  void Expired(const StoreServerState::Answer& answer) {
    auto it = parked_.find(answer.client);
    FUZZ_CHECK(it != parked_.end(), "a timeout for a client that was not waiting");
    FUZZ_CHECK(it->second.deadline <= now_, "a wait timed out before its deadline");
    FUZZ_CHECK(answer.reply.code == StatusCode::kDeadlineExceeded, "a timeout that is not one");
    CheckClientAccepts(answer.reply);
    parked_.erase(it);
  }

  FuzzInput& in_;
  StoreServerState state_;
  Clock::time_point now_ = Clock::time_point{} + std::chrono::hours(1);
  std::map<std::string, Bytes> data_;
  std::map<uint64_t, Parked> parked_;
};

}  // namespace
}  // namespace cohort

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  cohort::Harness(in).Run();
  return 0;
}
