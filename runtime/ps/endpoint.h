// Endpoint: one process's place in a parameter store: links to every other member (shm on the
// same host, tcp otherwise, authenticated, set up through the store like a communicator's) and
// one progress thread that moves messages and runs the server and client logic that consume them.
//
// Every member always has a header receive posted on every link, so a request or reply is read
// as soon as it arrives; its payload goes where the consuming Sink says (a staging buffer on a
// server, the caller's own buffer on a worker), so values are never copied in between. Messages to
// this member itself (a worker and its co-located server) skip the links: the Sink reads the
// sender's memory directly.
//
// Threading: Connect and the destructor from the owner's thread; Send and all Sink callbacks on the
// progress thread only; Wake from any thread. No wait is unbounded: links are checked for dead
// peers every 100 ms and the Sinks' Poll(tick) enforces their deadlines.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/base/status.h"
#include "runtime/config/config.h"
#include "runtime/ps/group.h"
#include "runtime/ps/wire.h"
#include "runtime/store/store.h"
#include "runtime/transport/link.h"

namespace cohort::ps {

class Endpoint {
 public:
  // The server and the client of this member consume messages through this interface.
  class Sink {
   public:
    virtual ~Sink() = default;
    // A remote message's header announces `header.payload_bytes`: where must the payload go?
    // An error breaks the link to `from` (the payload cannot be skipped).
    virtual Result<void*> PayloadDestination(int from, const WireHeader& header) = 0;
    // A whole message. Remote: `payload` is where PayloadDestination said. Local: it is the
    // sender's memory, valid only during the call.
    virtual void OnMessage(int from, const WireHeader& header, const void* payload) = 0;
    // A Send with this sink as owner is finished (failed when the link broke); its header and
    // payload memory may be reused.
    virtual void OnSent(uint64_t token, const Status& status) = 0;
    // The link to `member` broke (its process died or closed at teardown).
    virtual void OnPeerLost(int member, const Status& status) = 0;
    // Called on every round of the progress loop (cheap), and with tick = true about every 100 ms.
    virtual void Poll(bool tick) = 0;
  };

  struct Options {
    Config config;
    GroupLayout layout;
    int member = 0;
    std::shared_ptr<Store> store;  // the job's store; keys go under "ps/<name>/"
    std::string name = "ps";
  };

  // Agrees on the layout with every member, learns hosts and connects links, within
  // config.connect_timeout. The message names this member and what disagreed or did not answer.
  static Result<std::unique_ptr<Endpoint>> Connect(const Options& options);
  ~Endpoint();

  // Starts the progress thread; either sink may be null (a dedicated server has no client).
  void Start(Sink* server, Sink* client);
  // Stops the progress thread (idempotent); links stay open until destruction.
  void Stop();

  // Progress thread only. `payload` (payload_bytes from the header) must stay valid and
  // unchanged until owner->OnSent(token).
  void Send(int to, const WireHeader& header, const void* payload, Sink* owner, uint64_t token);
  // Progress thread only: stops using the link to `member` (a peer that stopped answering), as if
  // it had broken with `status`; its pending sends fail and no buffer is touched through it again.
  void Abandon(int member, const Status& status) { LinkFailed(member, status); }
  // Any thread: makes the progress thread run a round now.
  void Wake();

  int member() const { return member_; }
  const GroupLayout& layout() const { return layout_; }
  const Config& config() const { return config_; }
  // "server 1 (member 5, host node3)", "worker 2 (host node1)".
  std::string DescribeMember(int member) const;
  const std::string& host_of(int member) const;

 private:
  struct OutMsg {
    WireHeader header;
    Request header_request;
    Request payload_request;
    const void* payload = nullptr;
    int to = -1;
    Sink* owner = nullptr;
    uint64_t token = 0;
    bool orphan = false;  // its link failed: the link may still point at it, so never reuse it
  };
  struct InState {
    WireHeader header;
    Request header_request;
    Request payload_request;
    bool payload_posted = false;
    void* destination = nullptr;
  };

  Endpoint(const Options& options, std::vector<std::string> hosts,
           std::vector<std::unique_ptr<Link>> links);
  void Loop();
  bool DrainLocal();
  bool HandleIncoming(int from);
  bool ReapSends();
  void PostHeaderReceive(int from);
  void LinkFailed(int member, const Status& status);
  Sink* SinkFor(const WireHeader& header) const;
  OutMsg* NewMsg();
  void Block(Clock::duration idle);

  Config config_;
  GroupLayout layout_;
  int member_;
  std::vector<std::string> hosts_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<Status> link_error_;  // Ok while the link is alive
  std::vector<InState> in_;

  Sink* server_ = nullptr;
  Sink* client_ = nullptr;
  std::vector<std::unique_ptr<OutMsg>> pool_;  // every message ever allocated (reused)
  std::vector<OutMsg*> free_;
  std::vector<OutMsg*> active_;                // posted on links
  std::deque<OutMsg*> local_;                  // to this member itself

  std::vector<pollfd> poll_fds_;  // Block(), reused
  int wake_fd_ = -1;  // eventfd
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cohort::ps
