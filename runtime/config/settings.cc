// The settings table: every COHORT_* variable declared once with its aliases, default, help text
// and parser. ParseConfig, DescribeConfig (cohortrun --print-config) and SettingsMarkdownTable
// (the README) all walk this one table, so they cannot drift apart.
#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/config/config.h"

namespace cohort {
namespace {

// A setting's parser stores `value` into `config`, or returns why the value is refused
// (the caller prefixes the variable name and value).
using ParseFn = Status (*)(const std::string& value, Config* config);

struct Setting {
  SettingInfo info;
  ParseFn parse;
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Status ParsePositiveDuration(const std::string& value, std::chrono::milliseconds* out) {
  Result<std::chrono::milliseconds> parsed = ParseDuration(value);
  if (!parsed.ok()) return parsed.status();
  if (parsed->count() <= 0) return InvalidArgumentError("must be longer than 0");
  *out = *parsed;
  return Status::Ok();
}

Status ParseMinBytes(const std::string& value, size_t min_bytes, size_t* out) {
  Result<size_t> parsed = ParseBytes(value);
  if (!parsed.ok()) return parsed.status();
  if (*parsed < min_bytes) {
    return InvalidArgumentError("must be at least " + std::to_string(min_bytes) + " bytes");
  }
  *out = *parsed;
  return Status::Ok();
}

// A whole number from `min` to `max`; `what` names its unit in the error.
Status ParseIntInRange(const std::string& value, long min, long max, const std::string& what,
                       int* out) {
  char* end = nullptr;
  long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < min || n > max) {
    return InvalidArgumentError("expected a number of " + what + " from " + std::to_string(min) +
                                " to " + std::to_string(max));
  }
  *out = static_cast<int>(n);
  return Status::Ok();
}

Status ParseTimeout(const std::string& v, Config* c) { return ParsePositiveDuration(v, &c->timeout); }
Status ParseConnectTimeout(const std::string& v, Config* c) {
  return ParsePositiveDuration(v, &c->connect_timeout);
}

Status ParseDebug(const std::string& v, Config* c) {
  std::string level = Upper(v);
  if (level == "WARN" || level == "WARNING") {
    c->log_level = LogLevel::kWarn;
  } else if (level == "INFO") {
    c->log_level = LogLevel::kInfo;
  } else if (level == "DETAIL") {
    c->log_level = LogLevel::kDetail;
    c->check_fingerprints = true;  // DETAIL is also the collective-mismatch check
  } else {
    return InvalidArgumentError("expected WARN, INFO or DETAIL");
  }
  return Status::Ok();
}

Status ParseTransport(const std::string& v, Config* c) {
  std::string choice = Lower(v);
  if (choice == "auto") c->transport = TransportChoice::kAuto;
  else if (choice == "shm") c->transport = TransportChoice::kShm;
  else if (choice == "tcp") c->transport = TransportChoice::kTcp;
  else if (choice == "ucx") c->transport = TransportChoice::kUcx;
  else return InvalidArgumentError("expected auto, shm, tcp or ucx");
  return Status::Ok();
}

Status ParseIfname(const std::string& v, Config* c) {
  // Checked where sockets are opened (interface_select.h): the error lists the real interfaces.
  c->socket_ifname = v;
  return Status::Ok();
}

Status ParseNstreams(const std::string& v, Config* c) {
  return ParseIntInRange(v, 1, 64, "tcp sockets per pair of ranks", &c->socket_nstreams);
}

Status ParseAlgo(const std::string& v, Config* c) {
  // Validated by the algorithm selector, which knows the names per collective.
  c->algorithm = Lower(v);
  return Status::Ok();
}

Status ParseRingBytes(const std::string& v, Config* c) {
  return ParseMinBytes(v, 4096, &c->shm_ring_bytes);
}
Status ParseChunkBytes(const std::string& v, Config* c) {
  return ParseMinBytes(v, 1, &c->chunk_bytes);
}
Status ParseSlotBytes(const std::string& v, Config* c) {
  Result<size_t> parsed = ParseBytes(v);
  if (parsed.ok() && *parsed == 0) {
    c->shm_slot_bytes = 0;
    return Status::Ok();
  }
  // A slot holds a whole small message (up to 16 KiB) and is cut into cache-line-aligned slices.
  return ParseMinBytes(v, 16384, &c->shm_slot_bytes);
}

Status ParseJobId(const std::string& v, Config* c) {
  // The id becomes part of /dev/shm names, so it must be a plain file-name fragment.
  bool plain = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
  });
  if (!plain) return InvalidArgumentError("expected 1-64 characters from A-Z a-z 0-9 - _ .");
  c->job_id = v;
  return Status::Ok();
}

Status ParseCudaBackend(const std::string& v, Config* c) {
  std::string choice = Lower(v);
  if (choice == "auto") c->cuda_backend = CudaBackendChoice::kAuto;
  else if (choice == "nccl") c->cuda_backend = CudaBackendChoice::kNccl;
  else if (choice == "staged") c->cuda_backend = CudaBackendChoice::kStaged;
  else return InvalidArgumentError("expected auto, nccl or staged");
  return Status::Ok();
}

Status ParseNcclLibrary(const std::string& v, Config* c) {
  // Whether it loads is checked (with the paths tried) when a CUDA collective first needs it.
  c->nccl_library = v;
  return Status::Ok();
}

Status ParseStagingChunkBytes(const std::string& v, Config* c) {
  return ParseMinBytes(v, 4096, &c->staging_chunk_bytes);
}

Status ParsePsServers(const std::string& v, Config* c) {
  return ParseIntInRange(v, 0, 65536, "servers", &c->ps_servers);
}

Status ParseBusyWait(const std::string& v, Config* c) {
  if (Lower(v) == "auto") {
    c->busy_wait.reset();
    return Status::Ok();
  }
  Result<std::chrono::milliseconds> parsed = ParseDuration(v);
  if (!parsed.ok() || parsed->count() < 0 || *parsed > std::chrono::hours(1)) {
    return InvalidArgumentError("expected auto or a duration from 0 to 1h, such as 0, 500ms or 2s");
  }
  c->busy_wait = *parsed;
  return Status::Ok();
}

Status ParseElastic(const std::string& v, Config* c) {
  const std::string choice = Lower(v);
  if (choice == "1" || choice == "true" || choice == "yes") c->elastic = true;
  else if (choice == "0" || choice == "false" || choice == "no") c->elastic = false;
  else return InvalidArgumentError("expected 1 or 0");
  return Status::Ok();
}

Status ParseSecret(const std::string& v, Config* c) {
  c->secret = v;
  return Status::Ok();
}

const std::vector<Setting>& Table() {
  static const std::vector<Setting> table = {
      {{"COHORT_TIMEOUT", {}, "600s",
        "Deadline of every blocking wait (collectives, store); 600, 600s, 1500ms, 2m"},
       ParseTimeout},
      {{"COHORT_DEBUG", {"COHORT_LOG_LEVEL"}, "WARN",
        "Log level: WARN, INFO (transport per peer, algorithm per call), DETAIL (also checks that "
        "ranks call matching collectives)"},
       ParseDebug},
      {{"COHORT_TRANSPORT", {}, "auto", "Transport for every pair: auto (shm on one host; between hosts ucx where "
        "both have an RDMA device and cohort has UCX, else tcp), or force shm, tcp or ucx (UCX "
        "picks its own transports: UCX_TLS)"},
       ParseTransport},
      {{"COHORT_SOCKET_IFNAME", {}, "(first non-loopback)",
        "Network interface for tcp links and the store: a name or comma-separated name prefixes "
        "(eth0; eth,ib), =names for exact names (=eth0), ^names to exclude (^docker,lo), or an "
        "IPv4 subnet whose first local address is used (10.231.0.0/16); loopback only when "
        "nothing else matches"},
       ParseIfname},
      {{"COHORT_SOCKET_NSTREAMS", {}, "1",
        "tcp sockets per pair of ranks, 1 to 64. Above 1, messages of 64KiB or more are cut into "
        "equal pieces sent over all of them at once and smaller ones take turns, which helps "
        "where one tcp flow cannot fill the link (one core per flow, per-flow limits); every rank "
        "must use the same value"},
       ParseNstreams},
      {{"COHORT_ALGO", {}, "auto",
        "Force one collective algorithm: shm_express, shm_oneshot, shm_direct (one host, through "
        "the arena), ring, recursive_doubling, rabenseifner, recursive_halving, binomial, "
        "pairwise, dissemination, hierarchical (inside each host through shared memory, across "
        "hosts between one leader per host). auto picks hierarchical when ranks span hosts and "
        "share memory on each, else from the tuned table by size, world size and transport; an "
        "algorithm that does not apply falls back to auto"},
       ParseAlgo},
      {{"COHORT_SHM_RING_BYTES", {}, "4MiB",
        "Shared-memory ring size per directed pair of local ranks; at least 4096"},
       ParseRingBytes},
      {{"COHORT_CHUNK_BYTES", {}, "1MiB", "Pipelining unit for large messages"}, ParseChunkBytes},
      {{"COHORT_SHM_SLOT_BYTES", {}, "256KiB",
        "Slot of the shared-memory arena that ranks on one host reduce and copy through directly "
        "(3 slots per rank); at least 16KiB, or 0 to use only the shm links"},
       ParseSlotBytes},
      {{"COHORT_CONNECT_TIMEOUT", {}, "60s",
        "How long ranks wait for peers and the store while connecting"},
       ParseConnectTimeout},
      {{"COHORT_JOB_ID", {}, "(set by the launcher)",
        "Job name; prefixes shared-memory segments so jobs do not collide"},
       ParseJobId},
      {{"COHORT_CUDA_BACKEND", {}, "auto",
        "Collectives on CUDA buffers: auto (NCCL when libnccl.so.2 loads, else staged), nccl "
        "(an error without NCCL), staged (through pinned host memory and the CPU path; slow)"},
       ParseCudaBackend},
      {{"COHORT_NCCL_LIBRARY", {}, "libnccl.so.2",
        "NCCL library to load at run time (a path, or a name the dynamic loader finds)"},
       ParseNcclLibrary},
      {{"COHORT_STAGING_CHUNK_BYTES", {}, "4MiB",
        "Pipelining unit of the staged CUDA path (device-host copies overlap communication)"},
       ParseStagingChunkBytes},
      {{"COHORT_PS_SERVERS", {}, "0",
        "Dedicated parameter-server processes of the job (cohortrun --servers K sets it); 0: "
        "parameter-store servers live in the worker ranks"},
       ParsePsServers},
      {{"COHORT_ELASTIC", {}, "0",
        "1: a lost rank does not end the job (cohortrun --elastic sets it); the survivors catch "
        "the error and call shrink() for a smaller communicator (cohort.elastic in Python)"},
       ParseElastic},
      {{"COHORT_BUSY_WAIT", {}, "auto",
        "How long a thread that waits for a collective keeps its CPU (polling, yielding it to "
        "runnable threads) before it sleeps: auto is 100ms; 0 sleeps after a 20us spin. A "
        "sleeping rank gives its CPU back to a virtual machine's host, which can slow its next "
        "compute phase (README \"Waiting\")"},
       ParseBusyWait},
      {{"COHORT_JOB_SECRET", {}, "(set by the launcher)",
        "Secret that every store and link connection must prove; never printed", true},
       ParseSecret},
  };
  return table;
}

// The variable that supplies a setting: the canonical name if set, else the first alias set.
// Empty values count as unset. Appends a warning for aliases.
const std::string* FindSource(const EnvMap& env, const SettingInfo& info, std::string* name,
                              std::vector<std::string>* warnings) {
  auto it = env.find(info.name);
  bool have_canonical = it != env.end() && !it->second.empty();
  for (const std::string& alias : info.aliases) {
    auto a = env.find(alias);
    if (a == env.end() || a->second.empty()) continue;
    if (warnings != nullptr) {
      warnings->push_back(have_canonical
                              ? alias + " is an old name for " + info.name + " and is ignored "
                                    "because " + info.name + " is also set"
                              : alias + " is an old name for " + info.name + "; please use " +
                                    info.name + " instead");
    }
    if (!have_canonical) {
      *name = alias;
      return &a->second;
    }
  }
  if (!have_canonical) return nullptr;
  *name = info.name;
  return &it->second;
}

}  // namespace

const std::vector<SettingInfo>& AllSettings() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> out;
    for (const Setting& s : Table()) out.push_back(s.info);
    return out;
  }();
  return infos;
}

Result<Config> ParseConfig(const EnvMap& env, std::vector<std::string>* warnings) {
  Config config;
  for (const Setting& setting : Table()) {
    std::string name;
    const std::string* value = FindSource(env, setting.info, &name, warnings);
    if (value == nullptr) continue;
    Status status = setting.parse(*value, &config);
    if (!status.ok()) {
      // A secret's value is never echoed, not even when malformed.
      std::string shown = setting.info.secret ? "(hidden)" : "'" + *value + "'";
      return InvalidArgumentError("invalid " + name + "=" + shown + ": " + status.message());
    }
  }
  return config;
}

std::string DescribeConfig(const EnvMap& env) {
  size_t width = 0;
  for (const Setting& s : Table()) width = std::max(width, s.info.name.size());
  std::ostringstream out;
  out << "cohort settings (from the environment; [default] marks values not set):\n";
  for (const Setting& s : Table()) {
    std::string name;
    const std::string* value = FindSource(env, s.info, &name, nullptr);
    std::string shown;
    std::string note;
    if (value == nullptr) {
      shown = s.info.secret ? "(not set)" : s.info.default_text + " [default]";
    } else {
      shown = s.info.secret ? "(set, hidden)" : *value;
      if (name != s.info.name) note += " (from old name " + name + ")";
      Config scratch;
      Status status = s.parse(*value, &scratch);
      if (!status.ok()) note += " (invalid: " + status.message() + ")";
    }
    out << "  " << s.info.name << std::string(width - s.info.name.size() + 2, ' ') << shown
        << note << "\n";
    out << "  " << std::string(width + 2, ' ') << "# " << s.info.help << "\n";
  }
  return out.str();
}

std::string SettingsMarkdownTable() {
  std::ostringstream out;
  out << "| Variable | Default | Description |\n|---|---|---|\n";
  for (const Setting& s : Table()) {
    out << "| `" << s.info.name << "`";
    for (const std::string& alias : s.info.aliases) out << " (old name: `" << alias << "`)";
    out << " | " << s.info.default_text << " | " << s.info.help << " |\n";
  }
  return out.str();
}

}  // namespace cohort
