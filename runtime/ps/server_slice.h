// ServerSlice: what a server keeps for one slice of one key, and the arithmetic on it: f32 master
// values (plus the f16/bf16 copy that pulls send, for 16-bit keys), the optimizer state, the
// synchronous step's gradient sum, the asynchronous mode's pull snapshot, and the checkpoint
// record. The protocol around it (who waits for what) is server.cc's.
//
// Buffers are allocated once, when the slice is created (the accumulator and the snapshot on
// first use), and reused for every step.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/base/status.h"
#include "runtime/optim/shard_optimizer.h"
#include "runtime/ps/checkpoint_io.h"
#include "runtime/ps/wire.h"

namespace cohort::ps {

// A request the server answers later: a push waiting for its step (sync) or for slower workers
// (bounded staleness), a pull waiting for a step, an init waiting for every worker.
struct Waiter {
  MsgType type = MsgType::kPush;
  int member = -1;
  int worker = -1;
  uint64_t request_id = 0;
  int64_t step = 0;
  Clock::time_point since;
};

class ServerSlice {
 public:
  static Result<std::unique_ptr<ServerSlice>> Make(uint32_t id, const InitBody& init);

  const uint32_t id;
  const InitBody init;  // key, slice, optimizer, initializer and rules as declared

  const KeySpec& key() const { return init.key; }
  uint64_t count() const { return init.slice.count; }
  const StoreRules& rules() const { return init.rules; }
  int num_workers() const { return init.num_workers; }
  // "key 'fc.weight' elements [0, 1000)".
  std::string Describe() const;

  // Values in the key's dtype (what pulls send).
  const void* values() const;
  uint64_t value_bytes() const { return count() * DataTypeSize(key().dtype); }
  // Sets the values from `data` (key dtype): worker 0's initial tensor.
  void SetValues(const void* data);

  const OptimizerSpec& optimizer_spec() const { return optimizer_.spec(); }
  Status SetOptimizer(const OptimizerSpec& spec) { return optimizer_.SetSpec(spec, Describe()); }
  // Updates applied: synchronous steps, or asynchronous pushes of all workers together.
  int64_t step() const { return optimizer_.step(); }
  size_t state_bytes() const { return optimizer_.state_bytes(); }

  // Synchronous mode: adds one worker's gradient (key dtype) to this step's sum; `first` starts
  // a new sum. `scratch` holds count() floats (16-bit keys only).
  void Accumulate(const void* grad, bool first, float* scratch);
  // Applies the summed gradient times `scale` (1/N to average): one optimizer step, or with the
  // aggregate optimizer the values become the scaled sum.
  Status ApplyAccumulated(double scale);

  // Asynchronous mode: applies one worker's push at once (aggregate: adds it to the values).
  Status ApplyPush(const void* grad, float* scratch);
  // The values as of now, copied aside so that later pushes do not change bytes being sent.
  // Refreshes only when the values changed since the last copy.
  const void* Snapshot();
  bool snapshot_fresh() const { return snapshot_version_ == version_; }

  // Appends this slice's checkpoint record to `file` (at byte `at`).
  Status WriteSegment(AtomicFileWriter& file, SegmentInfo* info) const;
  // Replaces values, optimizer state and steps from a checkpoint (sources cover this slice).
  Status LoadFrom(const LoadBody& body);

  // ---- protocol state, owned by the server ----
  std::vector<int64_t> worker_pushes;  // async: pushes applied from each worker
  std::vector<uint8_t> arrived;        // sync: workers whose push of step()+1 is in the sum
  int arrived_count = 0;
  bool apply_ready = false;            // sync: every push arrived; waits for sends to finish
  int sending = 0;                     // sync: replies being sent from values()
  int snapshot_sending = 0;            // async: replies being sent from the snapshot
  std::vector<Waiter> waiting;         // pushes and pulls answered later
  // Declaration barrier (init and load): which workers declared the slice.
  std::vector<uint8_t> declared;
  int declared_count = 0;
  bool ready = false;                  // every worker declared it (and worker 0's values came)
  bool values_set = false;             // the initial values are in place
  std::vector<Waiter> declare_waiters;

 private:
  ServerSlice(uint32_t id, const InitBody& init) : id(id), init(init) {}
  void UpdateModelCopy();

  ShardOptimizer optimizer_;
  std::vector<float> master_;     // f32 values
  std::vector<uint16_t> model_;   // f16/bf16 keys: what pulls send
  std::vector<float> sum_;        // sync: this step's gradient sum (allocated on first push)
  std::vector<uint8_t> snapshot_; // async: values being sent (allocated on first pull)
  uint64_t version_ = 0, snapshot_version_ = ~uint64_t{0};
};

}  // namespace cohort::ps
