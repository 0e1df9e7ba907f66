// TcpStoreClient: connects and authenticates, then sends one request and reads one reply at a
// time under a mutex. Every read and write has a deadline (the server-side wait plus a margin);
// once the connection breaks, this call and every later one fail with kUnavailable naming the
// server.
#include <algorithm>

#include "runtime/store/auth.h"
#include "runtime/store/store_protocol.h"
#include "runtime/store/tcp_store.h"

namespace cohort {
namespace {

constexpr std::string_view kPurpose = "store";
// How long past its own wait the server may take to answer before we give up on it.
constexpr std::chrono::milliseconds kReplyMargin{30'000};
// Longest wait we pass to the server (it clamps further); keeps deadlines from overflowing.
constexpr std::chrono::milliseconds kMaxWait{int64_t{30} * 24 * 3600 * 1000};

// Validates (kInvalidArgument naming the op and sizes) and encodes one request.
Result<Bytes> Encode(StoreOp op, int64_t number, std::vector<Bytes> fields) {
  StoreRequest request;
  request.op = op;
  request.number = number;
  request.fields = std::move(fields);
  COHORT_RETURN_IF_ERROR(ValidateStoreRequest(request));
  return EncodeStoreRequest(request);
}

std::chrono::milliseconds ClampWait(std::chrono::milliseconds timeout) {
  return std::clamp(timeout, std::chrono::milliseconds(0), kMaxWait);
}

}  // namespace

struct TcpStoreClient::Reply {
  StoreReply frame;
};

Result<std::unique_ptr<TcpStoreClient>> TcpStoreClient::Connect(
    const HostPort& server, const std::string& secret, std::chrono::milliseconds connect_timeout) {
  if (secret.empty()) {
    return InvalidArgumentError("cannot connect to the store at " + server.ToString() +
                                " without a job secret (COHORT_JOB_SECRET is empty)");
  }
  Deadline deadline = Deadline::After(connect_timeout);
  const std::string what = "store at " + server.ToString();
  COHORT_ASSIGN_OR_RETURN(UniqueFd fd, cohort::Connect(server, deadline));
  (void)SetNoDelay(fd.get());
  Status auth = AuthenticateAsClient(fd.get(), secret, kPurpose, deadline, what);
  if (!auth.ok()) {
    if (auth.code() == StatusCode::kUnauthenticated) return auth;
    return auth.WithContext("cannot open a session with the " + what + ": ");
  }
  return std::unique_ptr<TcpStoreClient>(new TcpStoreClient(server, std::move(fd)));
}

TcpStoreClient::TcpStoreClient(HostPort server, UniqueFd fd)
    : server_(std::move(server)), fd_(std::move(fd)) {}

TcpStoreClient::~TcpStoreClient() = default;

Result<TcpStoreClient::Reply> TcpStoreClient::Call(const Bytes& request,
                                                   std::chrono::milliseconds server_wait) {
  std::lock_guard lock(mutex_);
  const std::string lost = "lost connection to the store at " + server_.ToString() +
                           " (is the launcher / rank 0 still running?)";
  if (broken_) return UnavailableError(lost);
  const std::string what = "store at " + server_.ToString();
  Deadline deadline = Deadline::After(server_wait + kReplyMargin);
  // Any failure below leaves the stream out of step with the server: give the connection up.
  auto fail = [&](const Status& status) {
    broken_ = true;
    fd_.reset();
    if (status.code() == StatusCode::kDeadlineExceeded) {
      return DeadlineExceededError(what + " did not answer within " +
                                   std::to_string((server_wait + kReplyMargin).count()) +
                                   " ms; giving up on the connection");
    }
    return UnavailableError(lost + ": " + status.message());
  };
  Status sent = WriteFull(fd_.get(), request.data(), request.size(), deadline, what);
  if (!sent.ok()) return fail(sent);
  uint8_t header_bytes[kStoreFrameHeaderBytes];
  Status got = ReadFull(fd_.get(), header_bytes, sizeof(header_bytes), deadline, what);
  if (!got.ok()) return fail(got);
  auto header = DecodeStoreReplyHeader(header_bytes);
  if (!header.ok()) return fail(header.status().WithContext("malformed reply: "));
  Bytes body(header->body_bytes);
  got = ReadFull(fd_.get(), body.data(), body.size(), deadline, what);
  if (!got.ok()) return fail(got);
  auto reply = DecodeStoreReplyBody(*header, body);
  if (!reply.ok()) return fail(reply.status().WithContext("malformed reply: "));
  if (reply->code != StatusCode::kOk) return Status(reply->code, ToString(reply->fields.at(0)));
  return Reply{std::move(reply).value()};
}

constexpr std::chrono::milliseconds kNoWait{0};

Status TcpStoreClient::Set(const std::string& key, const Bytes& value) {
  COHORT_ASSIGN_OR_RETURN(Bytes request, Encode(StoreOp::kSet, 0, {ToBytes(key), value}));
  return Call(request, kNoWait).status();
}

Result<Bytes> TcpStoreClient::Get(const std::string& key, std::chrono::milliseconds timeout) {
  timeout = ClampWait(timeout);
  COHORT_ASSIGN_OR_RETURN(Bytes request, Encode(StoreOp::kGet, timeout.count(), {ToBytes(key)}));
  COHORT_ASSIGN_OR_RETURN(Reply reply, Call(request, timeout));
  if (reply.frame.fields.size() != 1) return InternalError("store reply to get without a value");
  return std::move(reply.frame.fields[0]);
}

Result<int64_t> TcpStoreClient::Add(const std::string& key, int64_t delta) {
  COHORT_ASSIGN_OR_RETURN(Bytes request, Encode(StoreOp::kAdd, delta, {ToBytes(key)}));
  COHORT_ASSIGN_OR_RETURN(Reply reply, Call(request, kNoWait));
  return reply.frame.number;
}

Result<Bytes> TcpStoreClient::CompareSet(const std::string& key, const Bytes& expected,
                                         const Bytes& desired) {
  COHORT_ASSIGN_OR_RETURN(Bytes request,
                          Encode(StoreOp::kCompareSet, 0, {ToBytes(key), expected, desired}));
  COHORT_ASSIGN_OR_RETURN(Reply reply, Call(request, kNoWait));
  if (reply.frame.fields.size() != 1) {
    return InternalError("store reply to compare-set without a value");
  }
  return std::move(reply.frame.fields[0]);
}

Result<bool> TcpStoreClient::Delete(const std::string& key) {
  COHORT_ASSIGN_OR_RETURN(Bytes request, Encode(StoreOp::kDelete, 0, {ToBytes(key)}));
  COHORT_ASSIGN_OR_RETURN(Reply reply, Call(request, kNoWait));
  return reply.frame.number != 0;
}

Result<bool> TcpStoreClient::Check(const std::string& key) {
  COHORT_ASSIGN_OR_RETURN(Bytes request, Encode(StoreOp::kCheck, 0, {ToBytes(key)}));
  COHORT_ASSIGN_OR_RETURN(Reply reply, Call(request, kNoWait));
  return reply.frame.number != 0;
}

Status TcpStoreClient::Wait(const std::vector<std::string>& keys,
                            std::chrono::milliseconds timeout) {
  timeout = ClampWait(timeout);
  std::vector<Bytes> fields;
  fields.reserve(keys.size());
  for (const auto& key : keys) fields.push_back(ToBytes(key));
  COHORT_ASSIGN_OR_RETURN(Bytes request, Encode(StoreOp::kWait, timeout.count(), std::move(fields)));
  return Call(request, timeout).status();
}

}  // namespace cohort
