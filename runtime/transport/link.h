// Link: the transport interface. One Link connects this rank to one peer rank and moves tagged,
// contiguous messages both ways. Implementations: shm (same host) and tcp; both are byte streams
// underneath (stream_link.h), so framing, matching and errors are written once. A tcp pair with
// several sockets (COHORT_SOCKET_NSTREAMS) is a StripedLink over one StreamLink per socket.
//
// Matching: messages in one direction are matched in order. The n-th PostSend on one side meets
// the n-th PostRecv on the other; their tags and byte counts must agree, or both requests fail
// with a mismatch error (the stream is then unusable and the link reports it from then on).
//
// Threading: a Link is driven by one thread at a time (the communicator's progress thread).
// Buffers and Request objects must stay valid until the Request is done.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"

namespace cohort {

// Completion record of one posted send or receive, owned by the caller.
struct Request {
  bool done = false;
  Status status;  // set when done
};

class Link {
 public:
  virtual ~Link() = default;

  virtual std::string_view kind() const = 0;  // "shm" or "tcp"
  virtual int peer() const = 0;               // the peer's rank in the communicator

  virtual Status PostSend(uint64_t tag, const void* data, size_t bytes, Request* request) = 0;
  virtual Status PostRecv(uint64_t tag, void* data, size_t bytes, Request* request) = 0;

  // Moves whatever can move now without blocking and completes requests. Returns whether any
  // progress was made; a failed Status means the link is broken (peer gone, mismatch, garbage),
  // and every pending request has been completed with that error.
  virtual Result<bool> Progress() = 0;

  // True while a posted request is not done.
  virtual bool busy() const = 0;

  // Appends what to poll() while waiting for this link: one pollfd per socket, with POLLIN when
  // incoming bytes could make progress now (not while a received header waits for its receive
  // to be posted) and POLLOUT when a send is blocked on a full socket. Returns true when the link
  // (or a part of it) has nothing to poll (shm, or a closed stream): it moves only when looked
  // at, so a waiter must nap and look again rather than block in poll(). Callers combine that
  // with busy() as they need (the progress waiter only naps for busy links; the parameter store,
  // which must notice unsolicited messages, naps for any).
  virtual bool AppendPollFds(std::vector<pollfd>* fds) const {
    (void)fds;
    return true;
  }

  // Checks, without blocking, that the peer still exists (shm: its pid). Links whose peer's
  // death shows up as an error on its own (tcp: EOF, reset) return Ok.
  virtual Status CheckPeerAlive() { return Status::Ok(); }

  // Breaks the link because this rank failed (`why`): completes pending requests with it and,
  // where the transport can (tcp), tells the peer why before closing, so that a rank
  // waiting for this one learns the first failure rather than a bare close. No-op once broken;
  // shm peers watch each other's pids and learn the cause from the store.
  virtual void Close(const Status& why) { (void)why; }
};

}  // namespace cohort
