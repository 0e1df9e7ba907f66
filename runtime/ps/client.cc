// Client, progress-thread side: dispatching messages, matching replies, completing operations,
// lost servers and deadlines (see client.h). The calls that build operations are in
// client_calls.cc.
#include "runtime/ps/client.h"

#include <cstring>

#include "runtime/base/logging.h"

namespace cohort::ps {
namespace {

constexpr uint32_t kNoSlot = ~uint32_t{0};
// Servers answer their own waits at COHORT_TIMEOUT with an explanation; the client waits this much
// longer before it gives up on a server that says nothing at all.
constexpr std::chrono::milliseconds kGrace{10'000};

Status ReplyStatus(int32_t code, std::string text) {
  if (code <= 0 || code > static_cast<int32_t>(StatusCode::kInternal)) {
    return InternalError("reply with an unknown status code " + std::to_string(code) + ": " + text);
  }
  return Status(static_cast<StatusCode>(code), std::move(text));
}

}  // namespace

Client::Client(Endpoint& endpoint, int worker, std::shared_ptr<Store> store, const std::string& name,
               ClientOptions options)
    : endpoint_(endpoint),
      worker_(worker),
      layout_(endpoint.layout()),
      store_(std::make_shared<PrefixStore>("ps/" + name + "/client", std::move(store))),
      options_(std::move(options)),
      server_bytes_(static_cast<size_t>(layout_.num_servers), 0),
      server_lost_(static_cast<size_t>(layout_.num_servers)),
      said_goodbye_(static_cast<size_t>(layout_.num_servers), 0),
      error_text_(static_cast<size_t>(layout_.num_servers)) {}

Client::~Client() = default;

std::string Client::ServerName(int server) const {
  return "parameter server " + std::to_string(server) + " (host " +
         endpoint_.host_of(layout_.server_member(server)) + ")";
}

std::string Client::KeyRanges(int server) const {
  std::lock_guard lock(keys_mutex_);
  std::string out;
  int listed = 0, more = 0;
  uint64_t bytes = 0;
  for (const Key& key : keys_) {
    for (const SliceSpec& slice : key.placement) {
      if (slice.server != server) continue;
      bytes += slice.count * DataTypeSize(key.spec.dtype);
      if (listed == 4) {
        ++more;
        continue;
      }
      out += (listed++ ? ", " : "") + std::string("key '") + key.spec.name + "' elements [" +
             std::to_string(slice.offset) + ", " + std::to_string(slice.offset + slice.count) + ")";
    }
  }
  if (listed == 0) return "no keys";
  if (more > 0) out += " and " + std::to_string(more) + " more slices";
  return out + " (" + std::to_string(bytes) + " bytes)";
}

// ---- dispatching ----

void Client::Poll(bool tick) {
  if (has_submitted_.load(std::memory_order_acquire)) {
    {
      std::lock_guard lock(submit_mutex_);
      dispatching_.swap(submitted_);
      has_submitted_.store(false, std::memory_order_relaxed);
    }
    for (Sub* sub : dispatching_) Dispatch(sub);
    dispatching_.clear();
  }
  if (tick) CheckDeadlines();
}

void Client::Dispatch(Sub* sub) {
  const Status& lost = server_lost_[static_cast<size_t>(sub->server)];
  if (!lost.ok()) {
    sub->sent = true;
    CompleteSub(sub, ForCall(*sub, lost));
    MaybeRetire(sub);
    return;
  }
  if (sub->gate != nullptr) {
    if (sub->gate->busy) {
      sub->gate->queue.push_back(sub);
      return;
    }
    sub->gate->busy = true;
  }
  Send(sub);
}

void Client::Send(Sub* sub) {
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(nullptr);
    slot_generation_.push_back(0);
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  slots_[slot] = sub;
  sub->slot = slot;
  sub->header.request_id = (static_cast<uint64_t>(slot_generation_[slot]) << 32) | slot;
  sub->deadline = Deadline::After(endpoint_.config().timeout + kGrace);
  endpoint_.Send(sub->member, sub->header, sub->payload, this, slot);
}

Client::Sub* Client::SubFor(uint64_t request_id) {
  const uint32_t slot = static_cast<uint32_t>(request_id);
  if (slot >= slots_.size() || slots_[slot] == nullptr ||
      slot_generation_[slot] != static_cast<uint32_t>(request_id >> 32)) {
    return nullptr;
  }
  return slots_[slot];
}

void Client::CompleteSub(Sub* sub, Status status) {
  if (sub->done) return;
  sub->done = true;
  Op* op = sub->op;
  if (sub->gate != nullptr && status.code() == StatusCode::kInvalidArgument) {
    // The server refused the push and applied nothing: the worker's step count goes back too,
    // unless later pushes were numbered since.
    std::lock_guard lock(keys_mutex_);
    Key& key = keys_[sub->header.key];
    if (key.pushes == sub->header.step) key.pushes = sub->previous_pushes;
  }
  if (!status.ok() && op->error.ok()) op->error = std::move(status);
  if (Gate* gate = sub->gate; gate != nullptr) {
    gate->busy = false;
    if (!gate->queue.empty()) {
      Sub* next = gate->queue.front();
      gate->queue.pop_front();
      Dispatch(next);
    }
  }
  if (--op->pending > 0) return;
  Status result = op->error;
  if (result.ok() && op->finish) result = op->finish(*op);
  op->work->Complete(result);
  op->completion->Set(result);
  std::lock_guard lock(submit_mutex_);
  --outstanding_;
  idle_cv_.notify_all();
}

void Client::MaybeRetire(Sub* sub) {
  if (!sub->done || !sub->sent) return;
  if (sub->slot != kNoSlot) {
    slots_[sub->slot] = nullptr;
    ++slot_generation_[sub->slot];
    free_slots_.push_back(sub->slot);
    sub->slot = kNoSlot;
  }
  Op* op = sub->op;
  if (--op->live == 0) delete op;
}

// ---- replies ----

Result<void*> Client::PayloadDestination(int from, const WireHeader& h) {
  Sub* sub = SubFor(h.request_id);
  if (sub == nullptr || sub->member != from) {
    return InvalidArgumentError("protocol error: " + endpoint_.DescribeMember(from) +
                                " replied to request " + std::to_string(h.request_id) +
                                ", which worker " + std::to_string(worker_) + " is not waiting for");
  }
  if (h.status != 0 || sub->dest == nullptr) {
    if (h.payload_bytes > kMaxBodyBytes) {
      return InvalidArgumentError("protocol error: a reply of " + std::to_string(h.payload_bytes) +
                                  " bytes from " + endpoint_.DescribeMember(from));
    }
    // One error buffer per server: replies from several servers arrive at once, each link
    // receiving into its own (a shared one could be reallocated under another's receive).
    std::vector<uint8_t>& into =
        h.status != 0 ? error_text_[static_cast<size_t>(sub->server)] : sub->reply_body;
    into.resize(h.payload_bytes);
    return static_cast<void*>(into.data());
  }
  const uint64_t expected = sub->header.count * DataTypeSize(static_cast<DataType>(sub->header.dtype));
  if (h.payload_bytes != expected || h.offset != sub->header.offset || h.count != sub->header.count) {
    return InvalidArgumentError("protocol error: " + endpoint_.DescribeMember(from) + " replied with " +
                                std::to_string(h.payload_bytes) + " bytes of values where " +
                                std::to_string(expected) + " were asked for");
  }
  return sub->dest;
}

void Client::OnMessage(int from, const WireHeader& h, const void* payload) {
  Sub* sub = SubFor(h.request_id);
  if (sub == nullptr) {
    COHORT_LOG(kWarn) << "parameter store worker " << worker_ << ": reply to unknown request "
                      << h.request_id << " from " << endpoint_.DescribeMember(from) << " ignored";
    return;
  }
  const bool local = from == endpoint_.member();
  if (h.status != 0) {
    const char* text = static_cast<const char*>(payload);
    CompleteSub(sub, ForCall(*sub, ReplyStatus(h.status, std::string(text, text + h.payload_bytes))));
  } else {
    Status status;
    if (local && h.payload_bytes > 0) {
      // The co-located server's memory: copy it now (remote replies landed in place already).
      if (sub->dest != nullptr) {
        const uint64_t expected =
            sub->header.count * DataTypeSize(static_cast<DataType>(sub->header.dtype));
        if (h.payload_bytes == expected) {
          std::memcpy(sub->dest, payload, h.payload_bytes);
        } else {
          status = InternalError("local reply of " + std::to_string(h.payload_bytes) +
                                 " bytes where " + std::to_string(expected) + " were expected");
        }
      } else {
        const auto* p = static_cast<const uint8_t*>(payload);
        sub->reply_body.assign(p, p + h.payload_bytes);
      }
    }
    sub->reply_step = h.step;
    if (sub->header.type == static_cast<uint8_t>(MsgType::kBye)) {
      said_goodbye_[static_cast<size_t>(sub->server)] = 1;  // its link may close from now on
    }
    CompleteSub(sub, status);
  }
  MaybeRetire(sub);
}

void Client::OnSent(uint64_t token, const Status& status) {
  Sub* sub = slots_[token];
  if (sub == nullptr) return;
  sub->sent = true;
  if (!status.ok()) {
    const Status& lost = server_lost_[static_cast<size_t>(sub->server)];
    CompleteSub(sub, !lost.ok() ? ForCall(*sub, lost)
                                : UnavailableError("worker " + std::to_string(worker_) +
                                                   " could not send to " + ServerName(sub->server) +
                                                   ": " + status.message()));
  }
  MaybeRetire(sub);
}

void Client::OnPeerLost(int member, const Status& status) {
  const int server = layout_.server_on(member);
  if (server < 0 || said_goodbye_[static_cast<size_t>(server)]) return;
  Status& lost = server_lost_[static_cast<size_t>(server)];
  if (!lost.ok()) return;
  lost = UnavailableError(ServerName(server) + " is gone (" + status.message() + "); it held " +
                          KeyRanges(server) + ". Calls to it fail from now on: restart the job and "
                          "load the last checkpoint (ParameterStore::load)");
  COHORT_LOG(kWarn) << "parameter store worker " << worker_ << ": " << lost.message();
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    Sub* sub = slots_[slot];
    if (sub != nullptr && sub->server == server) CompleteSub(sub, ForCall(*sub, lost));
  }
}

Status Client::ForCall(const Sub& sub, const Status& status) const {
  const std::string_view call = MsgTypeName(static_cast<MsgType>(sub.header.type));
  // Most server replies already begin with the call ("push of key 'w' elements ...").
  if (status.message().rfind(std::string(call) + " of ", 0) == 0) return status;
  std::string key;
  {
    std::lock_guard lock(keys_mutex_);
    if (sub.header.key < keys_.size()) key = " of key '" + keys_[sub.header.key].spec.name + "'";
  }
  return Status(status.code(), std::string(call) + key +
                                   " on worker " + std::to_string(worker_) + " failed: " +
                                   status.message());
}

void Client::CheckDeadlines() {
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    Sub* sub = slots_[slot];
    if (sub == nullptr || sub->done || !sub->deadline.expired()) continue;
    if (sub->member == endpoint_.member()) continue;  // in-process: the server answers its own waits
    const auto waited = std::chrono::duration_cast<std::chrono::seconds>(
        endpoint_.config().timeout + kGrace);
    endpoint_.Abandon(sub->member,
                      DeadlineExceededError("it did not answer a " +
                                            std::string(MsgTypeName(static_cast<MsgType>(sub->header.type))) +
                                            " of worker " + std::to_string(worker_) + " in " +
                                            std::to_string(waited.count()) +
                                            " s (COHORT_TIMEOUT + 10 s)"));
  }
}

}  // namespace cohort::ps
