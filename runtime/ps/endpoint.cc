// Endpoint: link set-up through the store and the progress loop (see endpoint.h).
//
// Waiting: after a round that moved nothing the loop spins briefly, then yields, then blocks in
// ppoll() on the tcp links and an eventfd that Wake() writes. Shared-memory links have no file
// descriptor, so while any is open the block is a short nap that grows with idleness (50 us for
// the first 2 ms, 250 us until 20 ms, then 1 ms) so that an idle store costs little CPU: training
// computes between steps, and the ranks' other threads (the communicator's) need the cores.
#include "runtime/ps/endpoint.h"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/base/logging.h"
#include "runtime/comm/topology.h"
#include "runtime/transport/connect.h"

namespace cohort::ps {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr uint64_t kHeaderTag = 1;
constexpr uint64_t kPayloadTag = 2;
constexpr milliseconds kTickEvery{100};

std::string LayoutText(const GroupLayout& layout) { return layout.Describe(); }

}  // namespace

Result<std::unique_ptr<Endpoint>> Endpoint::Connect(const Options& options) {
  const GroupLayout& layout = options.layout;
  const int me = options.member;
  const std::string who = "parameter store '" + options.name + "' member " + std::to_string(me);
  if (layout.num_workers < 1 || layout.num_servers < 1 ||
      (!layout.dedicated && layout.num_servers > layout.num_workers) || me < 0 ||
      me >= layout.size()) {
    return InvalidArgumentError(who + ": invalid layout (" + LayoutText(layout) +
                                "); co-located servers need 1 <= servers <= workers");
  }
  auto root = std::make_shared<PrefixStore>("ps/" + options.name, options.store);
  const auto timeout = options.config.connect_timeout;

  // Every member must see the same layout, or links and roles would not match.
  COHORT_RETURN_IF_ERROR(root->Set("layout/" + std::to_string(me), ToBytes(LayoutText(layout))));
  Result<Bytes> first = root->Get("layout/0", timeout);
  if (!first.ok()) {
    return first.status().WithContext(who + ": waiting for worker 0 to create the store: ");
  }
  if (ToString(*first) != LayoutText(layout)) {
    return InvalidArgumentError(who + " expects " + LayoutText(layout) + " but worker 0 expects " +
                                ToString(*first) + "; every worker must pass the same number of "
                                "servers (COHORT_PS_SERVERS / cohortrun --servers)");
  }

  // For tools and tests that need to find a member's process (e.g. to stop a server).
  COHORT_RETURN_IF_ERROR(root->Set("pid/" + std::to_string(me), ToBytes(std::to_string(::getpid()))));
  auto topo_store = std::make_shared<PrefixStore>("topo", root);
  Result<Topology> topo = ExchangeTopology(*topo_store, me, layout.size(), timeout);
  if (!topo.ok()) {
    return topo.status().WithContext(who + " (" + LayoutText(layout) +
                                     "): not every member joined: ");
  }
  LinkSetup setup;
  setup.rank = me;
  setup.size = layout.size();
  setup.node_of_rank = topo->node_of_rank;
  setup.host_of_rank = topo->host_of_rank;
  setup.store = std::make_shared<PrefixStore>("links", root);
  setup.comm_name = "ps." + options.name;
  setup.config = options.config;
  setup.config.shm_slot_bytes = 0;  // messages only: no arena for the direct collectives
  Result<Connections> links = ConnectLinks(setup);
  if (!links.ok()) return links.status().WithContext(who + ": ");
  std::unique_ptr<Endpoint> endpoint(
      new Endpoint(options, topo->host_of_rank, std::move(links->links)));
  if (endpoint->wake_fd_ < 0) return ErrnoStatus(who + ": eventfd", errno);
  return endpoint;
}

Endpoint::Endpoint(const Options& options, std::vector<std::string> hosts,
                   std::vector<std::unique_ptr<Link>> links)
    : config_(options.config),
      layout_(options.layout),
      member_(options.member),
      hosts_(std::move(hosts)),
      links_(std::move(links)),
      link_error_(links_.size()),
      in_(links_.size()),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Endpoint::~Endpoint() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Endpoint::Start(Sink* server, Sink* client) {
  server_ = server;
  client_ = client;
  for (int m = 0; m < static_cast<int>(links_.size()); ++m) {
    if (links_[static_cast<size_t>(m)] != nullptr) PostHeaderReceive(m);
  }
  thread_ = std::thread([this] { Loop(); });
}

void Endpoint::Stop() {
  stop_.store(true);
  Wake();
  if (thread_.joinable()) thread_.join();
}

void Endpoint::Wake() {
  const uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

const std::string& Endpoint::host_of(int member) const {
  static const std::string unknown = "?";
  return member >= 0 && member < static_cast<int>(hosts_.size()) ? hosts_[static_cast<size_t>(member)]
                                                                  : unknown;
}

std::string Endpoint::DescribeMember(int member) const {
  const int server = layout_.server_on(member), worker = layout_.worker_on(member);
  std::string role;
  if (worker >= 0) role = "worker " + std::to_string(worker);
  if (server >= 0) {
    role += (role.empty() ? "server " : " and server ") + std::to_string(server);
  }
  return role + " (member " + std::to_string(member) + ", host " + host_of(member) + ")";
}

Endpoint::OutMsg* Endpoint::NewMsg() {
  if (free_.empty()) {
    pool_.push_back(std::make_unique<OutMsg>());
    return pool_.back().get();
  }
  OutMsg* msg = free_.back();
  free_.pop_back();
  return msg;
}

void Endpoint::Send(int to, const WireHeader& header, const void* payload, Sink* owner,
                    uint64_t token) {
  OutMsg* msg = NewMsg();
  msg->header = header;
  msg->header.magic = kWireMagic;
  msg->payload = payload;
  msg->to = to;
  msg->owner = owner;
  msg->token = token;
  msg->header_request = Request{};
  msg->payload_request = Request{};
  msg->orphan = false;
  if (to == member_) {
    local_.push_back(msg);
    return;
  }
  Link* link = to >= 0 && to < static_cast<int>(links_.size()) ? links_[static_cast<size_t>(to)].get()
                                                                : nullptr;
  if (link == nullptr || !link_error_[static_cast<size_t>(to)].ok()) {
    // Reaped on the next round like any failed send, so owners never see a re-entrant OnSent.
    msg->header_request = {true, link == nullptr ? InternalError("no link to member " + std::to_string(to))
                                                 : link_error_[static_cast<size_t>(to)]};
    msg->payload_request = {true, Status::Ok()};
    active_.push_back(msg);
    return;
  }
  (void)link->PostSend(kHeaderTag, &msg->header, sizeof(WireHeader), &msg->header_request);
  if (header.payload_bytes > 0) {
    (void)link->PostSend(kPayloadTag, payload, header.payload_bytes, &msg->payload_request);
  } else {
    msg->payload_request.done = true;
  }
  active_.push_back(msg);  // a failed post completed its request with the link's error
}

Endpoint::Sink* Endpoint::SinkFor(const WireHeader& header) const {
  return header.type == static_cast<uint8_t>(MsgType::kReply) ? client_ : server_;
}

bool Endpoint::DrainLocal() {
  bool any = false;
  while (!local_.empty()) {
    OutMsg* msg = local_.front();
    local_.pop_front();
    Sink* sink = SinkFor(msg->header);
    if (sink != nullptr) sink->OnMessage(member_, msg->header, msg->payload);
    msg->owner->OnSent(msg->token, Status::Ok());
    free_.push_back(msg);
    any = true;
  }
  return any;
}

bool Endpoint::ReapSends() {
  bool any = false;
  for (size_t i = 0; i < active_.size();) {
    OutMsg* msg = active_[i];
    if (!msg->header_request.done || !msg->payload_request.done) {
      ++i;
      continue;
    }
    Status status = !msg->header_request.status.ok() ? msg->header_request.status
                                                     : msg->payload_request.status;
    active_[i] = active_.back();
    active_.pop_back();
    msg->owner->OnSent(msg->token, status);
    if (!msg->orphan) free_.push_back(msg);
    any = true;
  }
  return any;
}

void Endpoint::PostHeaderReceive(int from) {
  InState& in = in_[static_cast<size_t>(from)];
  in.header_request = Request{};
  in.payload_posted = false;
  (void)links_[static_cast<size_t>(from)]->PostRecv(kHeaderTag, &in.header, sizeof(WireHeader),
                                                    &in.header_request);
}

bool Endpoint::HandleIncoming(int from) {
  InState& in = in_[static_cast<size_t>(from)];
  Link* link = links_[static_cast<size_t>(from)].get();
  bool any = false;
  while (link_error_[static_cast<size_t>(from)].ok() && in.header_request.done) {
    if (!in.header_request.status.ok()) return any;  // the link's own failure is reported
    if (!in.payload_posted) {
      const WireHeader& h = in.header;
      Sink* sink = SinkFor(h);
      if (h.magic != kWireMagic || sink == nullptr) {
        LinkFailed(from, InvalidArgumentError(
                             "protocol error: " + DescribeMember(from) + " sent " +
                             (h.magic != kWireMagic ? "a message with a bad magic number"
                                                    : "a " + std::string(MsgTypeName(static_cast<MsgType>(h.type))) +
                                                          " message to a member with no role for it")));
        return true;
      }
      if (h.payload_bytes > 0) {
        Result<void*> destination = sink->PayloadDestination(from, h);
        if (!destination.ok()) {
          LinkFailed(from, destination.status());
          return true;
        }
        in.destination = *destination;
        in.payload_posted = true;
        (void)link->PostRecv(kPayloadTag, in.destination, h.payload_bytes, &in.payload_request);
        any = true;
        continue;
      }
      in.destination = nullptr;
    } else if (!in.payload_request.done) {
      return any;
    } else if (!in.payload_request.status.ok()) {
      return any;
    }
    // Copy the header: the sink may send, and the next header lands in `in.header`.
    const WireHeader header = in.header;
    void* payload = in.destination;
    PostHeaderReceive(from);
    SinkFor(header)->OnMessage(from, header, payload);
    any = true;
  }
  return any;
}

void Endpoint::LinkFailed(int member, const Status& status) {
  Status& error = link_error_[static_cast<size_t>(member)];
  if (!error.ok()) return;
  error = status.ok() ? UnavailableError("link closed") : status;
  // The link is never progressed again: fail what was posted on it (a broken StreamLink did so
  // already) and keep those messages out of the free list, since the link still points at them.
  for (OutMsg* msg : active_) {
    if (msg->to != member) continue;
    msg->orphan = true;
    for (Request* r : {&msg->header_request, &msg->payload_request}) {
      if (!r->done) *r = Request{true, error};
    }
  }
  COHORT_LOG(kInfo) << "parameter store: link to " << DescribeMember(member)
                    << " lost: " << error.message();
  if (server_ != nullptr) server_->OnPeerLost(member, error);
  if (client_ != nullptr) client_->OnPeerLost(member, error);
}

void Endpoint::Block(Clock::duration idle) {
  uint64_t drained;
  std::vector<pollfd>& fds = poll_fds_;
  fds.clear();
  fds.push_back({wake_fd_, POLLIN, 0});
  bool fdless = false;
  for (size_t m = 0; m < links_.size(); ++m) {
    Link* link = links_[m].get();
    if (link == nullptr || !link_error_[m].ok()) continue;
    // Any link with nothing to poll (shm), busy or not: a request may arrive on it unasked.
    if (link->AppendPollFds(&fds)) fdless = true;
  }
  microseconds nap = kTickEvery;
  if (fdless) {
    nap = idle < milliseconds(2) ? microseconds(50)
          : idle < milliseconds(20) ? microseconds(250)
                                    : microseconds(1000);
  }
  timespec ts{0, std::chrono::duration_cast<std::chrono::nanoseconds>(nap).count()};
  if (::ppoll(fds.data(), fds.size(), &ts, nullptr) > 0 && (fds[0].revents & POLLIN) != 0) {
    ssize_t ignored = ::read(wake_fd_, &drained, sizeof(drained));
    (void)ignored;
  }
}

void Endpoint::Loop() {
  Clock::time_point last_progress = Clock::now();
  Clock::time_point next_tick = last_progress + kTickEvery;
  while (!stop_.load(std::memory_order_relaxed)) {
    bool progressed = DrainLocal();
    for (int m = 0; m < static_cast<int>(links_.size()); ++m) {
      Link* link = links_[static_cast<size_t>(m)].get();
      if (link == nullptr || !link_error_[static_cast<size_t>(m)].ok()) continue;
      Result<bool> moved = link->Progress();
      if (!moved.ok()) {
        LinkFailed(m, moved.status());
        progressed = true;
        continue;
      }
      progressed = HandleIncoming(m) || *moved || progressed;
    }
    progressed = ReapSends() || progressed;

    const Clock::time_point now = Clock::now();
    const bool tick = now >= next_tick;
    if (tick) {
      next_tick = now + kTickEvery;
      for (int m = 0; m < static_cast<int>(links_.size()); ++m) {
        Link* link = links_[static_cast<size_t>(m)].get();
        if (link == nullptr || !link_error_[static_cast<size_t>(m)].ok()) continue;
        Status alive = link->CheckPeerAlive();
        if (!alive.ok()) LinkFailed(m, alive);
      }
    }
    if (server_ != nullptr) server_->Poll(tick);
    if (client_ != nullptr) client_->Poll(tick);
    if (progressed || !local_.empty()) {
      last_progress = now;
      continue;
    }
    const Clock::duration idle = now - last_progress;
    if (idle < microseconds(20)) {
      continue;
    } else if (idle < microseconds(100)) {
      sched_yield();
    } else {
      Block(idle);
    }
  }
}

}  // namespace cohort::ps
