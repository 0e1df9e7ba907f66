#include "runtime/ps/wire.h"

#include <cmath>

namespace cohort::ps {

std::string_view MsgTypeName(MsgType type) {
  switch (type) {
    case MsgType::kInit: return "init";
    case MsgType::kPush: return "push";
    case MsgType::kPull: return "pull";
    case MsgType::kPushPull: return "push_pull";
    case MsgType::kSetOptimizer: return "set_optimizer";
    case MsgType::kSave: return "save";
    case MsgType::kLoad: return "load";
    case MsgType::kBye: return "goodbye";
    case MsgType::kInitValues: return "init values";
    case MsgType::kReply: return "reply";
  }
  return "unknown message";
}

void ByteWriter::PutString(std::string_view s) {
  Put<uint32_t>(static_cast<uint32_t>(s.size()));
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

void ByteWriter::PutBytes(const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  bytes_.insert(bytes_.end(), p, p + bytes);
}

Status ByteReader::GetString(std::string* s, size_t max_bytes) {
  uint32_t n = 0;
  COHORT_RETURN_IF_ERROR(Get(&n));
  if (n > max_bytes) {
    return InvalidArgumentError("message body holds a string of " + std::to_string(n) +
                                " bytes; at most " + std::to_string(max_bytes) + " are allowed");
  }
  const uint8_t* data = nullptr;
  COHORT_RETURN_IF_ERROR(GetSpan(&data, n));
  s->assign(reinterpret_cast<const char*>(data), n);
  return Status::Ok();
}

Status ByteReader::GetSpan(const uint8_t** data, size_t bytes) {
  if (left_ < bytes) return Truncated();
  *data = p_;
  p_ += bytes;
  left_ -= bytes;
  return Status::Ok();
}

void PutOptimizer(ByteWriter& w, const OptimizerSpec& s) {
  w.Put<uint8_t>(static_cast<uint8_t>(s.type));
  for (double v : {s.lr, s.momentum, s.dampening, s.weight_decay, s.beta1, s.beta2, s.eps}) w.Put(v);
  w.Put<uint8_t>(static_cast<uint8_t>((s.nesterov ? 1 : 0) | (s.amsgrad ? 2 : 0) | (s.maximize ? 4 : 0)));
}

Status GetOptimizer(ByteReader& r, OptimizerSpec* s) {
  uint8_t type = 0, bits = 0;
  COHORT_RETURN_IF_ERROR(r.Get(&type));
  if (type > static_cast<uint8_t>(OptimizerType::kAdamW)) {
    return InvalidArgumentError("unknown optimizer type " + std::to_string(type));
  }
  s->type = static_cast<OptimizerType>(type);
  for (double* v : {&s->lr, &s->momentum, &s->dampening, &s->weight_decay, &s->beta1, &s->beta2, &s->eps}) {
    COHORT_RETURN_IF_ERROR(r.Get(v));
  }
  COHORT_RETURN_IF_ERROR(r.Get(&bits));
  s->nesterov = (bits & 1) != 0;
  s->amsgrad = (bits & 2) != 0;
  s->maximize = (bits & 4) != 0;
  return ValidateOptimizerSpec(*s, "optimizer in message");
}

void PutKey(ByteWriter& w, const KeySpec& key) {
  w.PutString(key.name);
  w.Put<uint8_t>(static_cast<uint8_t>(key.dtype));
  w.Put<uint32_t>(static_cast<uint32_t>(key.shape.size()));
  for (int64_t d : key.shape) w.Put(d);
}

Status GetKey(ByteReader& r, KeySpec* key) {
  COHORT_RETURN_IF_ERROR(r.GetString(&key->name, 1024));
  uint8_t dtype = 0;
  uint32_t dims = 0;
  COHORT_RETURN_IF_ERROR(r.Get(&dtype));
  COHORT_RETURN_IF_ERROR(r.Get(&dims));
  if (dtype > static_cast<uint8_t>(DataType::kI64) || dims > 16) {
    return InvalidArgumentError("malformed key description (dtype " + std::to_string(dtype) +
                                ", " + std::to_string(dims) + " dimensions)");
  }
  key->dtype = static_cast<DataType>(dtype);
  key->shape.resize(dims);
  for (int64_t& d : key->shape) COHORT_RETURN_IF_ERROR(r.Get(&d));
  return ValidateKeySpec(*key);
}

namespace {

// A count read from a body is believed only as far as the bytes behind it go: `count` elements of
// at least `min_bytes` each must still fit in `r`, or nothing is allocated for them.
Status CheckCount(const ByteReader& r, uint64_t count, size_t min_bytes, const char* what) {
  if (count <= r.left() / min_bytes) return Status::Ok();
  return InvalidArgumentError("message body announces " + std::to_string(count) + " " + what +
                              " but only " + std::to_string(r.left()) + " bytes follow");
}

// Smallest encodings: a LoadSource (empty file name), a SavedSlice (no worker counts).
constexpr size_t kMinSourceBytes = 4 + 7 * 8;
constexpr size_t kMinOptimizerBytes = 1 + 7 * 8 + 1;
constexpr size_t kMinSavedSliceBytes = 4 + 6 * 8 + kMinOptimizerBytes + 8 + 4;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1): 53 random bits, never exactly 0 (Box-Muller takes its log).
double Uniform01(uint64_t seed, uint64_t index) {
  const uint64_t bits = SplitMix64(seed ^ SplitMix64(index)) >> 11;
  return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
}

}  // namespace

float InitialValue(const Initializer& init, uint64_t index) {
  switch (init.kind) {
    case Initializer::Kind::kValues:
    case Initializer::Kind::kZeros:
      return 0.0f;
    case Initializer::Kind::kConstant:
      return static_cast<float>(init.a);
    case Initializer::Kind::kUniform:
      return static_cast<float>(init.a + (init.b - init.a) * Uniform01(init.seed, index));
    case Initializer::Kind::kNormal: {
      const double u1 = Uniform01(init.seed, 2 * index), u2 = Uniform01(init.seed, 2 * index + 1);
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
      return static_cast<float>(init.a + init.b * z);
    }
  }
  return 0.0f;
}

std::string DescribeRules(const StoreRules& rules) {
  if (rules.mode == Mode::kSync) {
    return std::string("synchronous, gradients ") + (rules.average_gradients ? "averaged" : "summed");
  }
  return rules.staleness < 0 ? "asynchronous"
                             : "asynchronous, staleness " + std::to_string(rules.staleness);
}

void PutInit(ByteWriter& w, const InitBody& b) {
  PutKey(w, b.key);
  w.Put<int32_t>(b.slice.server);
  w.Put(b.slice.offset);
  w.Put(b.slice.count);
  PutOptimizer(w, b.optimizer);
  w.Put<uint8_t>(static_cast<uint8_t>(b.initializer.kind));
  w.Put(b.initializer.a);
  w.Put(b.initializer.b);
  w.Put(b.initializer.seed);
  w.Put<uint8_t>(static_cast<uint8_t>(b.rules.mode));
  w.Put(b.rules.staleness);
  w.Put(b.rules.average_gradients);
  w.Put(b.num_workers);
}

Status GetInit(ByteReader& r, InitBody* b) {
  COHORT_RETURN_IF_ERROR(GetKey(r, &b->key));
  int32_t server = 0;
  COHORT_RETURN_IF_ERROR(r.Get(&server));
  b->slice.server = server;
  COHORT_RETURN_IF_ERROR(r.Get(&b->slice.offset));
  COHORT_RETURN_IF_ERROR(r.Get(&b->slice.count));
  COHORT_RETURN_IF_ERROR(GetOptimizer(r, &b->optimizer));
  uint8_t kind = 0, mode = 0;
  COHORT_RETURN_IF_ERROR(r.Get(&kind));
  if (kind > static_cast<uint8_t>(Initializer::Kind::kNormal)) {
    return InvalidArgumentError("unknown initializer " + std::to_string(kind));
  }
  b->initializer.kind = static_cast<Initializer::Kind>(kind);
  COHORT_RETURN_IF_ERROR(r.Get(&b->initializer.a));
  COHORT_RETURN_IF_ERROR(r.Get(&b->initializer.b));
  COHORT_RETURN_IF_ERROR(r.Get(&b->initializer.seed));
  COHORT_RETURN_IF_ERROR(r.Get(&mode));
  if (mode > 1) return InvalidArgumentError("unknown mode " + std::to_string(mode));
  b->rules.mode = static_cast<Mode>(mode);
  COHORT_RETURN_IF_ERROR(r.Get(&b->rules.staleness));
  COHORT_RETURN_IF_ERROR(r.Get(&b->rules.average_gradients));
  COHORT_RETURN_IF_ERROR(r.Get(&b->num_workers));
  const uint64_t count = b->key.count();
  if (b->slice.offset > count || b->slice.count > count - b->slice.offset) {
    return InvalidArgumentError("slice [" + std::to_string(b->slice.offset) + ", +" +
                                std::to_string(b->slice.count) + ") lies outside key " +
                                DescribeKey(b->key));
  }
  return Status::Ok();
}

void PutLoad(ByteWriter& w, const LoadBody& b) {
  w.PutString(b.checkpoint_id);
  PutInit(w, b.init);
  w.Put(b.step);
  w.Put<uint32_t>(static_cast<uint32_t>(b.worker_pushes.size()));
  for (int64_t n : b.worker_pushes) w.Put(n);
  w.Put<uint32_t>(static_cast<uint32_t>(b.sources.size()));
  for (const LoadSource& s : b.sources) {
    w.PutString(s.file);
    for (uint64_t v : {s.key_offset, s.count, s.file_offset, s.stride_bytes, s.segment_offset,
                       s.segment_bytes, s.segment_hash}) {
      w.Put(v);
    }
  }
}

Status GetLoad(ByteReader& r, LoadBody* b) {
  COHORT_RETURN_IF_ERROR(r.GetString(&b->checkpoint_id, 256));
  COHORT_RETURN_IF_ERROR(GetInit(r, &b->init));
  COHORT_RETURN_IF_ERROR(r.Get(&b->step));
  uint32_t workers = 0, sources = 0;
  COHORT_RETURN_IF_ERROR(r.Get(&workers));
  if (workers > 1'000'000) return InvalidArgumentError("load body names too many workers");
  COHORT_RETURN_IF_ERROR(CheckCount(r, workers, sizeof(int64_t), "workers"));
  b->worker_pushes.resize(workers);
  for (int64_t& n : b->worker_pushes) COHORT_RETURN_IF_ERROR(r.Get(&n));
  COHORT_RETURN_IF_ERROR(r.Get(&sources));
  if (sources > 1'000'000) return InvalidArgumentError("load body names too many sources");
  COHORT_RETURN_IF_ERROR(CheckCount(r, sources, kMinSourceBytes, "sources"));
  b->sources.resize(sources);
  for (LoadSource& s : b->sources) {
    COHORT_RETURN_IF_ERROR(r.GetString(&s.file, 4096));
    for (uint64_t* v : {&s.key_offset, &s.count, &s.file_offset, &s.stride_bytes,
                        &s.segment_offset, &s.segment_bytes, &s.segment_hash}) {
      COHORT_RETURN_IF_ERROR(r.Get(v));
    }
  }
  return Status::Ok();
}

void PutSaveReply(ByteWriter& w, const SaveReply& reply) {
  w.PutString(reply.file);
  w.Put(reply.file_bytes);
  w.Put(reply.file_hash);
  w.Put<uint32_t>(static_cast<uint32_t>(reply.slices.size()));
  for (const SavedSlice& s : reply.slices) {
    const SegmentInfo& g = s.segment;
    w.Put(g.key);
    for (uint64_t v : {g.key_offset, g.count, g.segment_offset, g.segment_bytes, g.values_offset, g.hash}) {
      w.Put(v);
    }
    PutOptimizer(w, s.optimizer);
    w.Put(s.step);
    w.Put<uint32_t>(static_cast<uint32_t>(s.worker_pushes.size()));
    for (int64_t n : s.worker_pushes) w.Put(n);
  }
}

Status GetSaveReply(ByteReader& r, SaveReply* reply) {
  COHORT_RETURN_IF_ERROR(r.GetString(&reply->file, 4096));
  COHORT_RETURN_IF_ERROR(r.Get(&reply->file_bytes));
  COHORT_RETURN_IF_ERROR(r.Get(&reply->file_hash));
  uint32_t n = 0;
  COHORT_RETURN_IF_ERROR(r.Get(&n));
  if (n > kMaxKeys) return InvalidArgumentError("save reply lists too many slices");
  COHORT_RETURN_IF_ERROR(CheckCount(r, n, kMinSavedSliceBytes, "slices"));
  reply->slices.resize(n);
  for (SavedSlice& s : reply->slices) {
    SegmentInfo& g = s.segment;
    COHORT_RETURN_IF_ERROR(r.Get(&g.key));
    for (uint64_t* v : {&g.key_offset, &g.count, &g.segment_offset, &g.segment_bytes, &g.values_offset, &g.hash}) {
      COHORT_RETURN_IF_ERROR(r.Get(v));
    }
    COHORT_RETURN_IF_ERROR(GetOptimizer(r, &s.optimizer));
    COHORT_RETURN_IF_ERROR(r.Get(&s.step));
    uint32_t workers = 0;
    COHORT_RETURN_IF_ERROR(r.Get(&workers));
    if (workers > 1'000'000) return InvalidArgumentError("save reply names too many workers");
    COHORT_RETURN_IF_ERROR(CheckCount(r, workers, sizeof(int64_t), "workers"));
    s.worker_pushes.resize(workers);
    for (int64_t& p : s.worker_pushes) COHORT_RETURN_IF_ERROR(r.Get(&p));
  }
  return Status::Ok();
}

}  // namespace cohort::ps
