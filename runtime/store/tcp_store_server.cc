// TcpStoreServer: one thread polls the listening socket, an eventfd (stop and SetLocal) and every
// client. Client sockets are non-blocking; each client runs the handshake, then sends frames
// one at a time. Input is read only up to the end of the current frame (so a client's buffer is
// bounded by the frame limit), replies are queued per client (bounded), and Get/Wait that cannot
// be answered yet are parked until a change to one of their keys or their deadline.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>

#include "runtime/base/logging.h"
#include "runtime/store/auth.h"
#include "runtime/store/store_server_state.h"
#include "runtime/store/tcp_store.h"

namespace cohort {
namespace {

constexpr std::string_view kPurpose = "store";
// A client whose unread replies exceed this is dropped (a legitimate client has one reply
// outstanding at a time).
constexpr size_t kMaxClientOutputBytes = 2 * (kStoreFrameHeaderBytes + kMaxStoreReplyBodyBytes);
constexpr size_t kMaxClients = 65536;
constexpr size_t kReadChunkBytes = 256 * 1024;
// Bytes read from one client per poll round, so that one busy client cannot starve the others.
constexpr size_t kReadBudgetBytes = 4u << 20;

std::string PeerName(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown peer";
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(ntohs(addr.sin_port));
}

}  // namespace

struct TcpStoreServer::Impl {
  enum class Phase { kHandshake, kReady, kClosing };

  struct Client {
    UniqueFd fd;
    std::string peer;
    Phase phase = Phase::kHandshake;
    detail::AuthNonce server_nonce{};
    Bytes in;                      // the handshake response, or the current frame so far
    std::optional<StoreFrameHeader> header;  // set once the current frame's header is in
    Clock::time_point stall_deadline = Clock::time_point::max();
    std::deque<Bytes> out;
    size_t out_offset = 0;         // bytes of out.front() already sent
    size_t out_bytes = 0;
    bool parked = false;           // a Get or Wait is waiting for keys
  };

  Options options;
  UniqueFd listen_fd;
  UniqueFd wake_fd;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> rejected{0};
  std::thread thread;
  StoreServerState state;

  std::unordered_map<uint64_t, Client> clients;
  uint64_t next_id = 1;
  Clock::time_point accept_paused_until = Clock::time_point::min();

  void Run();
  void Accept();
  void Drop(uint64_t id, const std::string& why, bool count_as_rejected);
  void OnReadable(uint64_t id);
  void OnWritable(uint64_t id);
  bool Consume(uint64_t id, Client& client);
  void Queue(uint64_t id, Client& client, Bytes frame);
  void Deliver(const std::vector<StoreServerState::Answer>& answers);
  int PollTimeoutMs(Clock::time_point now) const;
};

void TcpStoreServer::Impl::Drop(uint64_t id, const std::string& why, bool count_as_rejected) {
  auto it = clients.find(id);
  if (it == clients.end()) return;
  if (count_as_rejected) {
    rejected.fetch_add(1);
    COHORT_LOG(kWarn) << "store: dropped client " << it->second.peer << ": " << why;
  } else {
    COHORT_LOG(kDetail) << "store: client " << it->second.peer << " left: " << why;
  }
  if (it->second.parked) state.Unpark(id);
  clients.erase(it);
}

void TcpStoreServer::Impl::Accept() {
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the listening socket stays readable, so stop polling it for a
        // moment instead of spinning; stalled clients will be dropped meanwhile.
        COHORT_LOG(kWarn) << "store: accept() failed: " << std::strerror(errno);
        accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
      }
      return;
    }
    UniqueFd owned(fd);
    if (clients.size() >= kMaxClients) {
      rejected.fetch_add(1);
      COHORT_LOG(kWarn) << "store: refusing a connection: " << kMaxClients << " clients already";
      continue;
    }
    (void)SetNoDelay(fd);
    Client client;
    client.peer = PeerName(fd);
    client.fd = std::move(owned);
    if (!RandomBytes(client.server_nonce.data(), client.server_nonce.size()).ok()) continue;
    client.stall_deadline = Clock::now() + options.stall_timeout;
    uint64_t id = next_id++;
    auto [it, inserted] = clients.emplace(id, std::move(client));
    detail::AuthHello hello = detail::MakeAuthHello(it->second.server_nonce);
    Queue(id, it->second, Bytes(hello.begin(), hello.end()));
  }
}

void TcpStoreServer::Impl::Queue(uint64_t id, Client& client, Bytes frame) {
  client.out_bytes += frame.size();
  client.out.push_back(std::move(frame));
  if (client.out_bytes > kMaxClientOutputBytes) {
    Drop(id, "it does not read its replies (" + std::to_string(client.out_bytes) +
                 " bytes queued)", true);
    return;
  }
  OnWritable(id);  // most replies fit the socket buffer at once
}

void TcpStoreServer::Impl::OnWritable(uint64_t id) {
  auto it = clients.find(id);
  if (it == clients.end()) return;
  Client& client = it->second;
  while (!client.out.empty()) {
    const Bytes& front = client.out.front();
    ssize_t n = ::send(client.fd.get(), front.data() + client.out_offset,
                       front.size() - client.out_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      Drop(id, std::string("send failed: ") + std::strerror(errno), false);
      return;
    }
    client.out_offset += static_cast<size_t>(n);
    client.out_bytes -= static_cast<size_t>(n);
    if (client.out_offset == front.size()) {
      client.out.pop_front();
      client.out_offset = 0;
    }
  }
  if (client.phase == Phase::kClosing) Drop(id, "refused after the handshake", false);
}

void TcpStoreServer::Impl::OnReadable(uint64_t id) {
  size_t budget = kReadBudgetBytes;
  while (budget > 0) {
    auto it = clients.find(id);
    if (it == clients.end()) return;
    if (it->second.phase == Phase::kClosing) {  // only polled for hang-up and errors
      Drop(id, "hung up before taking its refusal", false);
      return;
    }
    Client& client = it->second;
    // Read no further than the end of the current unit (handshake response, header or body).
    size_t unit = client.phase == Phase::kHandshake ? detail::kAuthResponseBytes
                  : client.header ? kStoreFrameHeaderBytes + client.header->body_bytes
                                  : kStoreFrameHeaderBytes;
    size_t want = std::min({unit - client.in.size(), kReadChunkBytes, budget});
    size_t had = client.in.size();
    client.in.resize(had + want);
    ssize_t n = ::recv(client.fd.get(), client.in.data() + had, want, MSG_DONTWAIT);
    client.in.resize(had + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0) {
      Drop(id, had > 0 ? "closed the connection in the middle of a frame" : "closed the connection",
           false);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      Drop(id, std::string("recv failed: ") + std::strerror(errno), false);
      return;
    }
    if (client.parked) {
      Drop(id, "sent a request while its previous one was still waiting", true);
      return;
    }
    budget -= static_cast<size_t>(n);
    if (had == 0 && client.phase == Phase::kReady) {
      client.stall_deadline = Clock::now() + options.stall_timeout;
    }
    if (client.in.size() == unit && !Consume(id, client)) return;
  }
}

// Handles a complete unit in client.in; returns false when the client was dropped.
bool TcpStoreServer::Impl::Consume(uint64_t id, Client& client) {
  if (client.phase == Phase::kHandshake) {
    auto verdict = detail::CheckAuthResponse(options.secret, kPurpose, client.server_nonce,
                                             client.in.data());
    client.in.clear();
    if (!verdict.ok()) {
      rejected.fetch_add(1);
      COHORT_LOG(kWarn) << "store: refused " << client.peer
                        << ": it did not prove the job secret (COHORT_JOB_SECRET differs)";
      client.phase = Phase::kClosing;
      Queue(id, client, Bytes{detail::kAuthRefused});
      return false;
    }
    client.phase = Phase::kReady;
    client.stall_deadline = Clock::time_point::max();
    Queue(id, client, Bytes(verdict->begin(), verdict->end()));
    return clients.count(id) > 0;
  }
  std::span<const uint8_t> bytes(client.in);
  if (!client.header) {
    auto header = DecodeStoreRequestHeader(bytes);
    if (!header.ok()) {
      Drop(id, header.status().message(), true);
      return false;
    }
    client.header = *header;
    if (header->body_bytes > 0) return true;
  }
  auto request = DecodeStoreRequestBody(*client.header, bytes.subspan(kStoreFrameHeaderBytes));
  client.header.reset();
  client.in.clear();
  client.in.shrink_to_fit();
  client.stall_deadline = Clock::time_point::max();
  if (!request.ok()) {
    Drop(id, request.status().message(), true);
    return false;
  }
  std::optional<StoreReply> reply = state.Execute(id, std::move(request).value(), Clock::now());
  Deliver(state.TakeAnswers());
  if (!clients.count(id)) return false;
  if (reply) {
    Queue(id, client, EncodeStoreReply(*reply));
  } else {
    client.parked = true;
  }
  return clients.count(id) > 0;
}

void TcpStoreServer::Impl::Deliver(const std::vector<StoreServerState::Answer>& answers) {
  for (const auto& answer : answers) {
    auto it = clients.find(answer.client);
    if (it == clients.end()) continue;
    it->second.parked = false;
    Queue(answer.client, it->second, EncodeStoreReply(answer.reply));
  }
}

int TcpStoreServer::Impl::PollTimeoutMs(Clock::time_point now) const {
  Clock::time_point next = state.NextDeadline();
  for (const auto& [id, client] : clients) next = std::min(next, client.stall_deadline);
  if (accept_paused_until > now) next = std::min(next, accept_paused_until);
  if (next == Clock::time_point::max()) return -1;
  if (next <= now) return 0;
  // Round up so that a wake-up never comes a fraction of a millisecond early and spins.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

void TcpStoreServer::Impl::Run() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  while (!stopping.load()) {
    Clock::time_point now = Clock::now();
    fds.clear();
    ids.clear();
    fds.push_back({wake_fd.get(), POLLIN, 0});
    fds.push_back({accept_paused_until > now ? -1 : listen_fd.get(), POLLIN, 0});
    for (const auto& [id, client] : clients) {
      short events = client.phase == Phase::kClosing ? 0 : POLLIN;
      if (!client.out.empty()) events |= POLLOUT;
      fds.push_back({client.fd.get(), events, 0});
      ids.push_back(id);
    }
    int n = ::poll(fds.data(), fds.size(), PollTimeoutMs(now));
    if (n < 0 && errno != EINTR) {
      COHORT_LOG(kError) << "store: poll() failed: " << std::strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (stopping.load()) break;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      uint64_t counter = 0;
      ssize_t ignored = ::read(wake_fd.get(), &counter, sizeof(counter));
      (void)ignored;
      Deliver(state.TakeAnswers());  // waiters woken by SetLocal
    }
    for (size_t i = 0; n > 0 && i < ids.size(); ++i) {
      short revents = fds[i + 2].revents;
      if (revents == 0) continue;
      if (revents & (POLLIN | POLLHUP | POLLERR)) OnReadable(ids[i]);
      if (revents & POLLOUT) OnWritable(ids[i]);
      if ((revents & POLLNVAL) && clients.count(ids[i])) Drop(ids[i], "invalid descriptor", false);
    }
    if (n > 0 && (fds[1].revents & POLLIN)) Accept();

    now = Clock::now();
    Deliver(state.ExpireWaits(now));
    std::vector<uint64_t> stalled;
    for (const auto& [id, client] : clients) {
      if (client.stall_deadline <= now) stalled.push_back(id);
    }
    for (uint64_t id : stalled) {
      auto& client = clients.at(id);
      Drop(id, client.phase == Phase::kHandshake ? "no handshake within the stall timeout"
               : client.phase == Phase::kClosing ? "did not take its refusal"
                                                 : "stalled in the middle of a frame",
           client.phase != Phase::kClosing);
    }
  }
  clients.clear();
}

Result<std::unique_ptr<TcpStoreServer>> TcpStoreServer::Start(const Options& options) {
  if (options.secret.empty()) {
    return InvalidArgumentError("the TCP store needs a non-empty job secret (COHORT_JOB_SECRET)");
  }
  if (options.stall_timeout.count() <= 0) {
    return InvalidArgumentError("store stall_timeout must be positive, got " +
                                std::to_string(options.stall_timeout.count()) + " ms");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  COHORT_ASSIGN_OR_RETURN(auto listening, Listen(options.bind_host, options.port));
  impl->listen_fd = std::move(listening.first);
  impl->port = listening.second;
  COHORT_RETURN_IF_ERROR(SetNonBlocking(impl->listen_fd.get(), true));
  impl->wake_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!impl->wake_fd.valid()) return ErrnoStatus("eventfd() for the store server", errno);
  int wake = impl->wake_fd.get();
  impl->state.SetWakeCallback([wake] {
    uint64_t one = 1;
    ssize_t ignored = ::write(wake, &one, sizeof(one));
    (void)ignored;
  });
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  COHORT_LOG(kInfo) << "store: listening on " << options.bind_host << ":" << impl->port;
  return std::unique_ptr<TcpStoreServer>(new TcpStoreServer(std::move(impl)));
}

TcpStoreServer::TcpStoreServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TcpStoreServer::~TcpStoreServer() {
  impl_->stopping.store(true);
  uint64_t one = 1;
  ssize_t ignored = ::write(impl_->wake_fd.get(), &one, sizeof(one));
  (void)ignored;
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t TcpStoreServer::port() const { return impl_->port; }

size_t TcpStoreServer::rejected_connections() const { return impl_->rejected.load(); }

void TcpStoreServer::SetLocal(const std::string& key, const Bytes& value) {
  impl_->state.SetLocal(key, value);
}

std::optional<Bytes> TcpStoreServer::GetLocal(const std::string& key) const {
  return impl_->state.GetLocal(key);
}

}  // namespace cohort
