// The parameter store's messages between workers and servers. Every message is a fixed 64-byte
// header (one link message), followed by a second link message with `payload_bytes` bytes when
// that is not zero: a gradient or values straight from/to the caller's buffer, or a small encoded
// body (ByteWriter/ByteReader) for control messages. Links are authenticated and ordered per
// direction (runtime/transport/link.h); the receiver still checks every header field against what
// it knows (the key's slice, its dtype and size), so a bad message is an error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/dtype.h"
#include "runtime/base/status.h"
#include "runtime/optim/optimizer_spec.h"
#include "runtime/ps/placement.h"

namespace cohort::ps {

enum class MsgType : uint8_t {
  // worker -> server
  kInit = 1,          // body: InitBody (+ the slice's initial values from worker 0)
  kPush = 2,          // payload: the gradient slice; step = the worker's step
  kPull = 3,          // step = the worker's last pushed step (the value must include it)
  kPushPull = 4,      // payload: the gradient slice; reply: the values after it was applied
  kSetOptimizer = 5,  // body: key id (or kAllKeys) and an OptimizerSpec
  kSave = 6,          // body: directory, checkpoint id
  kLoad = 7,          // body: LoadBody
  kBye = 8,           // the worker is done with this server
  kInitValues = 9,    // payload: worker 0's initial values of a slice (after its kInit)
  // server -> worker
  kReply = 16,        // status; payload: values (pull, push_pull) or an error message
};

std::string_view MsgTypeName(MsgType type);

inline constexpr uint32_t kWireMagic = 0x31535043;  // "CPS1"
inline constexpr uint32_t kAllKeys = 0xffffffffu;
// Control bodies and error messages are small; values are bounded by the slice they belong to.
inline constexpr uint64_t kMaxBodyBytes = 16u << 20;
// Key ids are declaration indices; a server refuses ids beyond this (garbage, not a real model).
inline constexpr uint32_t kMaxKeys = 1u << 22;

struct WireHeader {
  uint32_t magic = kWireMagic;
  uint8_t type = 0;
  uint8_t dtype = 0;
  uint16_t flags = 0;
  int32_t status = 0;     // kReply: StatusCode
  uint32_t key = 0;       // key id (declaration order), or kAllKeys
  uint64_t request_id = 0;
  int64_t step = 0;       // push: the step; pull: the step the value must include; reply: the
                          // server's step (sync) or this worker's applied pushes (async)
  uint64_t offset = 0;    // element offset of the slice in its key
  uint64_t count = 0;     // elements
  uint64_t payload_bytes = 0;
  uint64_t reserved = 0;
};
static_assert(sizeof(WireHeader) == 64);

// kSetOptimizer flags.
inline constexpr uint16_t kFlagLearningRateOnly = 1;  // change only lr, keep each key's optimizer

// Little-endian-agnostic (same-job, same-build) encoding of control bodies with bounds checks.
class ByteWriter {
 public:
  template <typename T>
  void Put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void PutString(std::string_view s);
  void PutBytes(const void* data, size_t bytes);
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(const void* data, size_t bytes)
      : p_(static_cast<const uint8_t*>(data)), left_(bytes) {}
  template <typename T>
  Status Get(T* value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (left_ < sizeof(T)) return Truncated();
    std::memcpy(value, p_, sizeof(T));
    p_ += sizeof(T);
    left_ -= sizeof(T);
    return Status::Ok();
  }
  Status GetString(std::string* s, size_t max_bytes);
  // Points `data` at the next `bytes` bytes without copying.
  Status GetSpan(const uint8_t** data, size_t bytes);
  size_t left() const { return left_; }

 private:
  Status Truncated() const { return InvalidArgumentError("message body is truncated"); }
  const uint8_t* p_;
  size_t left_;
};

void PutOptimizer(ByteWriter& w, const OptimizerSpec& spec);
Status GetOptimizer(ByteReader& r, OptimizerSpec* spec);
void PutKey(ByteWriter& w, const KeySpec& key);
Status GetKey(ByteReader& r, KeySpec* key);

enum class Mode : uint8_t { kSync = 0, kAsync = 1 };

// How a key's values start: sent by worker 0, or generated on the server from a seed (the same
// values whatever the slicing: element i depends only on (seed, i)).
struct Initializer {
  enum class Kind : uint8_t { kValues = 0, kZeros, kConstant, kUniform, kNormal };
  Kind kind = Kind::kZeros;
  double a = 0;  // constant value; uniform low; normal mean
  double b = 0;  // uniform high; normal standard deviation
  uint64_t seed = 0;

  static Initializer Zeros() { return {}; }
  static Initializer Constant(double value) { return {Kind::kConstant, value, 0, 0}; }
  static Initializer Uniform(double low, double high, uint64_t seed) {
    return {Kind::kUniform, low, high, seed};
  }
  static Initializer Normal(double mean, double stddev, uint64_t seed) {
    return {Kind::kNormal, mean, stddev, seed};
  }
};
// Element `index` of a generated key (f32; the server rounds to the key's dtype).
float InitialValue(const Initializer& init, uint64_t index);

// The rules every worker of a store shares; the server refuses a worker that disagrees.
struct StoreRules {
  Mode mode = Mode::kSync;
  int32_t staleness = -1;         // async: how many steps a worker may be ahead; -1: unbounded
  uint8_t average_gradients = 1;  // sync: a step's gradients are averaged (1) or summed (0)
  bool operator==(const StoreRules&) const = default;
};
std::string DescribeRules(const StoreRules& rules);

// The body of kInit: one slice of one key. Worker 0 appends the slice's values when
// initializer.kind == kValues (its payload then ends with count * dtype bytes).
struct InitBody {
  KeySpec key;
  SliceSpec slice;
  OptimizerSpec optimizer;
  Initializer initializer;
  StoreRules rules;
  int32_t num_workers = 0;
};
void PutInit(ByteWriter& w, const InitBody& body);
Status GetInit(ByteReader& r, InitBody* body);

// Where a slice's data comes from when a checkpoint is loaded: `count` elements starting at
// element `key_offset` of the key, read from `file` at byte `file_offset` (values; each state
// buffer follows at + (i + 1) * stride_bytes). The whole old segment [segment_offset,
// segment_offset + segment_bytes) is read to check its hash.
struct LoadSource {
  std::string file;
  uint64_t key_offset = 0;
  uint64_t count = 0;
  uint64_t file_offset = 0;     // of element key_offset's value
  uint64_t stride_bytes = 0;    // between a segment's value array and each state array
  uint64_t segment_offset = 0;  // the old slice's whole record, for the hash
  uint64_t segment_bytes = 0;
  uint64_t segment_hash = 0;
};

// The body of kLoad: one slice (as kInit, with the checkpoint's optimizer and step) and where its
// data lies in the checkpoint.
struct LoadBody {
  std::string checkpoint_id;
  InitBody init;
  int64_t step = 0;                     // sync: the key's step
  std::vector<int64_t> worker_pushes;   // async: pushes applied from each worker
  std::vector<LoadSource> sources;
};
void PutLoad(ByteWriter& w, const LoadBody& body);
Status GetLoad(ByteReader& r, LoadBody* body);

// Where a slice's checkpoint record lies in its server's shard file.
struct SegmentInfo {
  uint32_t key = 0;
  uint64_t key_offset = 0;
  uint64_t count = 0;
  uint64_t segment_offset = 0;
  uint64_t segment_bytes = 0;
  uint64_t values_offset = 0;  // file offset of the f32 values; state buffer i follows at
                               // values_offset + (i + 1) * count * 4
  uint64_t hash = 0;           // of the whole record
};

// A server's reply to kSave: its shard file and every slice in it, with the state the manifest
// records (the optimizer as it is now, after any learning-rate changes, and the steps).
struct SavedSlice {
  SegmentInfo segment;
  OptimizerSpec optimizer;
  int64_t step = 0;
  std::vector<int64_t> worker_pushes;
};
struct SaveReply {
  std::string file;  // name inside the checkpoint directory
  uint64_t file_bytes = 0;
  uint64_t file_hash = 0;
  std::vector<SavedSlice> slices;
};
void PutSaveReply(ByteWriter& w, const SaveReply& reply);
Status GetSaveReply(ByteReader& r, SaveReply* reply);

}  // namespace cohort::ps
