#include "runtime/ps/manifest.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "runtime/ps/checkpoint_io.h"

namespace cohort::ps {
namespace {

constexpr char kMagicLine[] = "cohort-ps-checkpoint 1";

std::string Encode(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/' || c == ':') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

bool Decode(const std::string& text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      *out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    char* end = nullptr;
    const std::string hex = text.substr(i + 1, 2);
    long v = std::strtol(hex.c_str(), &end, 16);
    if (end != hex.c_str() + 2) return false;
    *out += static_cast<char>(v);
    i += 2;
  }
  return true;
}

std::string Double(double v) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.17g", v);
  return text;
}

std::string Hex(uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof(text), "%016" PRIx64, v);
  return text;
}

// Tokens of one manifest line, read with checks; the first failure is kept.
class Line {
 public:
  Line(const std::string& text, std::string where) : where_(std::move(where)) {
    std::istringstream in(text);
    std::string token;
    while (in >> token) tokens_.push_back(token);
  }
  const std::string& word(size_t i) {
    static const std::string empty;
    if (i >= tokens_.size()) {
      Bad("missing field " + std::to_string(i + 1));
      return empty;
    }
    return tokens_[i];
  }
  size_t size() const { return tokens_.size(); }
  int64_t Int(size_t i) {
    const std::string& w = word(i);
    char* end = nullptr;
    long long v = std::strtoll(w.c_str(), &end, 10);
    if (w.empty() || *end != '\0') Bad("'" + w + "' is not an integer");
    return v;
  }
  uint64_t Hex64(size_t i) {
    const std::string& w = word(i);
    char* end = nullptr;
    unsigned long long v = std::strtoull(w.c_str(), &end, 16);
    if (w.empty() || *end != '\0') Bad("'" + w + "' is not a hex number");
    return v;
  }
  double Real(size_t i) {
    const std::string& w = word(i);
    char* end = nullptr;
    double v = std::strtod(w.c_str(), &end);
    if (w.empty() || *end != '\0') Bad("'" + w + "' is not a number");
    return v;
  }
  void Bad(const std::string& why) {
    if (status_.ok()) status_ = InvalidArgumentError(where_ + ": " + why);
  }
  const Status& status() const { return status_; }

 private:
  std::string where_;
  std::vector<std::string> tokens_;
  Status status_;
};

}  // namespace

std::string FormatManifest(const Manifest& m) {
  std::ostringstream out;
  out << kMagicLine << "\n";
  out << "id " << m.id << "\n";
  out << "servers " << m.num_servers << "\n";
  out << "workers " << m.num_workers << "\n";
  out << "rules " << (m.rules.mode == Mode::kSync ? "sync" : "async") << " " << m.rules.staleness
      << " " << static_cast<int>(m.rules.average_gradients) << "\n";
  for (const ManifestKey& k : m.keys) {
    const OptimizerSpec& o = k.optimizer;
    out << "key " << Encode(k.spec.name) << " " << DataTypeName(k.spec.dtype) << " "
        << ShapeText(k.spec.shape) << " " << k.step << " " << OptimizerTypeName(o.type);
    for (double v : {o.lr, o.momentum, o.dampening, o.weight_decay, o.beta1, o.beta2, o.eps}) {
      out << " " << Double(v);
    }
    out << " " << (o.nesterov ? 1 : 0) << " " << (o.amsgrad ? 1 : 0) << " " << (o.maximize ? 1 : 0)
        << " " << k.worker_pushes.size();
    for (int64_t p : k.worker_pushes) out << " " << p;
    out << "\n";
  }
  for (const ManifestFile& f : m.files) {
    out << "file " << f.server << " " << Encode(f.name) << " " << f.bytes << " " << Hex(f.hash) << "\n";
  }
  for (const ManifestSlice& s : m.slices) {
    const SegmentInfo& g = s.segment;
    out << "slice " << s.key << " " << s.server << " " << g.key_offset << " " << g.count << " "
        << g.segment_offset << " " << g.segment_bytes << " " << g.values_offset << " " << Hex(g.hash)
        << "\n";
  }
  out << "end\n";
  return out.str();
}

Result<Manifest> ParseManifest(const std::string& text, const std::string& where) {
  Manifest m;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  bool ended = false;
  while (std::getline(in, raw)) {
    ++number;
    Line line(raw, where + " line " + std::to_string(number));
    if (number == 1) {
      if (raw != kMagicLine) {
        return InvalidArgumentError(where + " is not a cohort parameter-store manifest (first line '" +
                                    raw.substr(0, 60) + "')");
      }
      continue;
    }
    if (line.size() == 0) continue;
    const std::string what = line.word(0);
    if (what == "id") {
      m.id = line.word(1);
    } else if (what == "servers") {
      m.num_servers = static_cast<int>(line.Int(1));
    } else if (what == "workers") {
      m.num_workers = static_cast<int>(line.Int(1));
    } else if (what == "rules") {
      m.rules.mode = line.word(1) == "async" ? Mode::kAsync : Mode::kSync;
      m.rules.staleness = static_cast<int32_t>(line.Int(2));
      m.rules.average_gradients = line.Int(3) != 0;
    } else if (what == "key") {
      ManifestKey k;
      if (!Decode(line.word(1), &k.spec.name)) line.Bad("bad key name encoding");
      Result<DataType> dtype = ParseDataType(line.word(2));
      if (!dtype.ok()) line.Bad(dtype.status().message());
      k.spec.dtype = dtype.ok() ? *dtype : DataType::kF32;
      const std::string shape = line.word(3);
      if (shape != "scalar") {
        std::istringstream dims(shape);
        std::string d;
        while (std::getline(dims, d, 'x')) {
          char* end = nullptr;
          long long v = std::strtoll(d.c_str(), &end, 10);
          if (d.empty() || *end != '\0' || v < 0) line.Bad("bad shape '" + shape + "'");
          k.spec.shape.push_back(v);
        }
      }
      k.step = line.Int(4);
      Result<OptimizerType> type = ParseOptimizerType(line.word(5));
      if (!type.ok()) line.Bad(type.status().message());
      OptimizerSpec& o = k.optimizer;
      o.type = type.ok() ? *type : OptimizerType::kSgd;
      double* reals[] = {&o.lr, &o.momentum, &o.dampening, &o.weight_decay, &o.beta1, &o.beta2, &o.eps};
      for (size_t i = 0; i < 7; ++i) *reals[i] = line.Real(6 + i);
      o.nesterov = line.Int(13) != 0;
      o.amsgrad = line.Int(14) != 0;
      o.maximize = line.Int(15) != 0;
      const int64_t workers = line.Int(16);
      if (workers < 0 || workers > 1'000'000) line.Bad("bad worker count");
      for (int64_t i = 0; line.status().ok() && i < workers; ++i) {
        k.worker_pushes.push_back(line.Int(17 + static_cast<size_t>(i)));
      }
      if (line.status().ok()) {
        Status valid = ValidateKeySpec(k.spec);
        if (valid.ok()) valid = ValidateOptimizerSpec(k.optimizer, "key '" + k.spec.name + "'");
        if (!valid.ok()) line.Bad(valid.message());
      }
      m.keys.push_back(std::move(k));
    } else if (what == "file") {
      ManifestFile f;
      f.server = static_cast<int>(line.Int(1));
      if (!Decode(line.word(2), &f.name) || f.name.find('/') != std::string::npos) {
        line.Bad("bad file name");
      }
      f.bytes = static_cast<uint64_t>(line.Int(3));
      f.hash = line.Hex64(4);
      m.files.push_back(f);
    } else if (what == "slice") {
      ManifestSlice s;
      s.key = static_cast<uint32_t>(line.Int(1));
      s.server = static_cast<int>(line.Int(2));
      SegmentInfo& g = s.segment;
      g.key = s.key;
      g.key_offset = static_cast<uint64_t>(line.Int(3));
      g.count = static_cast<uint64_t>(line.Int(4));
      g.segment_offset = static_cast<uint64_t>(line.Int(5));
      g.segment_bytes = static_cast<uint64_t>(line.Int(6));
      g.values_offset = static_cast<uint64_t>(line.Int(7));
      g.hash = line.Hex64(8);
      m.slices.push_back(s);
    } else if (what == "end") {
      ended = true;
    } else {
      line.Bad("unknown entry '" + what + "'");
    }
    COHORT_RETURN_IF_ERROR(line.status());
  }
  if (number == 0) return InvalidArgumentError(where + " is empty");
  if (!ended) return InvalidArgumentError(where + " is truncated (no 'end' line)");
  // Cross-checks: every slice names a known key and file, and the slices tile every key.
  std::vector<uint64_t> covered(m.keys.size(), 0);
  for (const ManifestSlice& s : m.slices) {
    if (s.key >= m.keys.size() || s.server < 0 || s.server >= static_cast<int>(m.files.size()) ||
        s.segment.key_offset + s.segment.count > m.keys[s.key].spec.count()) {
      return InvalidArgumentError(where + ": a slice of key id " + std::to_string(s.key) +
                                  " does not fit the keys and files listed");
    }
    covered[s.key] += s.segment.count;
  }
  for (size_t k = 0; k < m.keys.size(); ++k) {
    if (covered[k] != m.keys[k].spec.count()) {
      return InvalidArgumentError(where + ": the slices of key '" + m.keys[k].spec.name + "' cover " +
                                  std::to_string(covered[k]) + " of its " +
                                  std::to_string(m.keys[k].spec.count()) + " elements");
    }
  }
  return m;
}

Result<Manifest> ReadCheckpoint(const std::string& dir) {
  if (!IsDirectory(dir)) {
    return InvalidArgumentError("checkpoint directory '" + dir + "' does not exist (or is not a "
                                "directory); pass the directory that save() wrote");
  }
  const std::string path = dir + "/" + kManifestName;
  if (!FileSize(path).ok()) {
    return InvalidArgumentError("'" + dir + "' holds no " + kManifestName +
                                ": it is not a checkpoint, or its save did not finish (a save writes "
                                "the manifest last)");
  }
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 256u << 20));
  COHORT_ASSIGN_OR_RETURN(Manifest m, ParseManifest(text, path));
  for (const ManifestFile& f : m.files) {
    const std::string file = dir + "/" + f.name;
    Result<uint64_t> size = FileSize(file);
    if (!size.ok()) {
      return InvalidArgumentError("partial checkpoint in '" + dir + "': shard file " + f.name +
                                  " of server " + std::to_string(f.server) + " is missing");
    }
    if (*size != f.bytes) {
      return InvalidArgumentError("partial checkpoint in '" + dir + "': shard file " + f.name + " has " +
                                  std::to_string(*size) + " bytes but the manifest says " +
                                  std::to_string(f.bytes));
    }
    char header[64] = {};
    COHORT_RETURN_IF_ERROR(ReadFileRange(file, 0, header, std::min<uint64_t>(sizeof(header), *size)));
    const std::string id(header + 24, strnlen(header + 24, 40));
    if (id != m.id) {
      return InvalidArgumentError("checkpoint in '" + dir + "' mixes saves: shard file " + f.name +
                                  " belongs to checkpoint '" + id + "', the manifest to '" + m.id + "'");
    }
  }
  return m;
}

Result<Manifest> BuildManifest(const std::string& id, const std::vector<KeySpec>& keys,
                               const StoreRules& rules, int num_workers,
                               const std::vector<SaveReply>& replies) {
  Manifest m;
  m.id = id;
  m.num_servers = static_cast<int>(replies.size());
  m.num_workers = num_workers;
  m.rules = rules;
  m.keys.resize(keys.size());
  std::vector<bool> seen(keys.size(), false);
  for (size_t k = 0; k < keys.size(); ++k) m.keys[k].spec = keys[k];
  for (size_t s = 0; s < replies.size(); ++s) {
    m.files.push_back({static_cast<int>(s), replies[s].file, replies[s].file_bytes, replies[s].file_hash});
    for (const SavedSlice& saved : replies[s].slices) {
      const uint32_t key = saved.segment.key;
      if (key >= keys.size()) {
        return InternalError("server " + std::to_string(s) + " saved key id " + std::to_string(key) +
                             ", which this worker never declared");
      }
      ManifestKey& mk = m.keys[key];
      if (!seen[key]) {
        seen[key] = true;
        mk.optimizer = saved.optimizer;
        mk.step = saved.step;
        mk.worker_pushes = saved.worker_pushes;
      } else if (mk.step != saved.step || mk.worker_pushes != saved.worker_pushes ||
                 !(mk.optimizer == saved.optimizer)) {
        return InternalError("the slices of key '" + keys[key].name + "' disagree on their step or "
                             "optimizer (" + std::to_string(mk.step) + " vs " +
                             std::to_string(saved.step) + "); a push to it did not reach every "
                             "server, so the checkpoint would not be consistent");
      }
      m.slices.push_back({key, static_cast<int>(s), saved.segment});
    }
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    if (!seen[k] && keys[k].count() > 0) {
      return InternalError("no server saved key '" + keys[k].name + "'");
    }
  }
  return m;
}

Status CommitManifest(const std::string& dir, const Manifest& m) {
  COHORT_ASSIGN_OR_RETURN(AtomicFileWriter file, AtomicFileWriter::Open(dir + "/" + kManifestName));
  const std::string text = FormatManifest(m);
  COHORT_RETURN_IF_ERROR(file.Write(text.data(), text.size()));
  COHORT_RETURN_IF_ERROR(file.Commit());
  // The new checkpoint is complete: shard files of older saves are garbage now.
  std::set<std::string> keep;
  for (const ManifestFile& f : m.files) keep.insert(f.name);
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* entry = ::readdir(d)) {
      const std::string name = entry->d_name;
      if (name.rfind("shard-", 0) == 0 && name.size() > 4 &&
          name.compare(name.size() - 4, 4, ".bin") == 0 && keep.count(name) == 0) {
        ::unlink((dir + "/" + name).c_str());
      }
    }
    ::closedir(d);
  }
  return Status::Ok();
}

std::vector<LoadSource> SourcesFor(const Manifest& m, const std::string& dir, uint32_t key,
                                   uint64_t offset, uint64_t count) {
  std::vector<LoadSource> out;
  const uint64_t end = offset + count;
  for (const ManifestSlice& s : m.slices) {
    const SegmentInfo& g = s.segment;
    if (s.key != key) continue;
    const uint64_t a = std::max(offset, g.key_offset), b = std::min(end, g.key_offset + g.count);
    if (a >= b) continue;
    LoadSource source;
    source.file = dir + "/" + m.files[static_cast<size_t>(s.server)].name;
    source.key_offset = a;
    source.count = b - a;
    source.file_offset = g.values_offset + (a - g.key_offset) * sizeof(float);
    source.stride_bytes = g.count * sizeof(float);
    source.segment_offset = g.segment_offset;
    source.segment_bytes = g.segment_bytes;
    source.segment_hash = g.hash;
    out.push_back(std::move(source));
  }
  return out;
}

Result<KeyState> ReadKeyState(const std::string& dir, const Manifest& m, uint32_t key) {
  if (key >= m.keys.size()) return InvalidArgumentError("no key id " + std::to_string(key) + " in the checkpoint");
  const ManifestKey& mk = m.keys[key];
  const size_t n = mk.spec.count();
  KeyState out;
  out.step = mk.step;
  out.values.resize(n);
  out.state.assign(static_cast<size_t>(StateBufferCount(mk.optimizer)), std::vector<float>(n));
  std::vector<uint8_t> record;
  for (const ManifestSlice& s : m.slices) {
    if (s.key != key) continue;
    const SegmentInfo& g = s.segment;
    const std::string file = dir + "/" + m.files[static_cast<size_t>(s.server)].name;
    record.resize(g.segment_bytes);
    COHORT_RETURN_IF_ERROR(ReadFileRange(file, g.segment_offset, record.data(), record.size()));
    Hash64 hash;
    hash.Update(record.data(), record.size());
    const uint64_t values_at = g.values_offset - g.segment_offset;
    const uint64_t bytes = g.count * sizeof(float);
    if (hash.value() != g.hash || values_at + (out.state.size() + 1) * bytes > record.size()) {
      return InvalidArgumentError(file + ": the record of key '" + mk.spec.name +
                                  "' does not match the manifest");
    }
    std::memcpy(out.values.data() + g.key_offset, record.data() + values_at, bytes);
    for (size_t i = 0; i < out.state.size(); ++i) {
      std::memcpy(out.state[i].data() + g.key_offset, record.data() + values_at + (i + 1) * bytes, bytes);
    }
  }
  return out;
}

}  // namespace cohort::ps
