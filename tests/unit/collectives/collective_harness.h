// CollectiveHarness: runs one collective call on a FakeWorld with per-rank guarded buffers and
// checks everything about it: every result element against a value computed independently from
// InputValue, bytes outside the result region (guards, other blocks, non-root receive buffers)
// untouched, out-of-place send buffers unmodified, every request waited for, no message left
// undelivered, and a bounded number of outstanding requests.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "collectives/collective_args.h"
#include "fake_peer_io.h"

namespace cohort::testing {

using CollectiveFn = std::function<Status(PeerIo&, const CollectiveArgs&, Workspace&)>;

struct Case {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  int size = 1;
  DataType dtype = DataType::kF32;
  ReduceOp op = ReduceOp::kSum;
  size_t count = 0;
  bool in_place = false;
  int root = 0;
  size_t chunk_bytes = 1000;  // the workspaces' pipelining unit for this call
  std::string ToString() const;
};

class CollectiveHarness {
 public:
  // `with_arena`: the world is one host and offers the FakeArena (fake_peer_io.h).
  explicit CollectiveHarness(int size, bool with_arena = true);
  FakeWorld& world() { return world_; }

  // Runs fn on every rank and checks the outcome; returns "" or the first problem found.
  std::string RunAndCheck(const Case& c, const CollectiveFn& fn);

  // Runs fn on every rank with the buffers of c and returns each rank's Status unchecked.
  std::vector<Status> RunRaw(const Case& c, const CollectiveFn& fn);

 private:
  FakeWorld world_;
  std::vector<std::unique_ptr<Workspace>> workspaces_;
};

}  // namespace cohort::testing
