// Config: every runtime setting, declared once in a table (settings.cc) with its type, default,
// help text and old aliases, read once from an EnvMap and passed down. Nothing below runtime/
// reads the environment. The README's variable table and `cohortrun --print-config` are printed
// from the same table.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/logging.h"
#include "runtime/base/status.h"
#include "runtime/config/env.h"

namespace cohort {

enum class TransportChoice { kAuto, kShm, kTcp, kUcx };
// How collectives on CUDA buffers run: NCCL when it loads (auto), NCCL or an error (nccl), or
// staged through pinned host memory into the CPU path (staged; slow, always available).
enum class CudaBackendChoice { kAuto, kNccl, kStaged };

struct Config {
  std::chrono::milliseconds timeout{600'000};  // COHORT_TIMEOUT: every blocking wait
  LogLevel log_level = LogLevel::kWarn;        // COHORT_DEBUG
  bool check_fingerprints = false;             // COHORT_DEBUG=DETAIL
  TransportChoice transport = TransportChoice::kAuto;  // COHORT_TRANSPORT
  std::string socket_ifname;                   // COHORT_SOCKET_IFNAME: interface for tcp
  int socket_nstreams = 1;                     // COHORT_SOCKET_NSTREAMS: tcp sockets per peer
  std::string algorithm = "auto";              // COHORT_ALGO: force one collective algorithm
  size_t shm_ring_bytes = 4u << 20;            // COHORT_SHM_RING_BYTES: per directed pair
  size_t chunk_bytes = 1u << 20;               // COHORT_CHUNK_BYTES: pipelining unit
  size_t shm_slot_bytes = 256u << 10;          // COHORT_SHM_SLOT_BYTES: arena slot; 0 = no arena
  std::chrono::milliseconds connect_timeout{60'000};  // COHORT_CONNECT_TIMEOUT
  std::string job_id;                          // COHORT_JOB_ID: names shm segments
  std::string secret;                          // COHORT_JOB_SECRET: never logged, never in argv
  CudaBackendChoice cuda_backend = CudaBackendChoice::kAuto;  // COHORT_CUDA_BACKEND
  std::string nccl_library;                    // COHORT_NCCL_LIBRARY: path of libnccl.so.2
  size_t staging_chunk_bytes = 4u << 20;       // COHORT_STAGING_CHUNK_BYTES: staged-path unit
  int ps_servers = 0;                          // COHORT_PS_SERVERS: dedicated parameter servers
  // COHORT_ELASTIC (cohortrun --elastic): a lost rank does not end the job; the survivors'
  // failures stay with their communicator, so that shrink() can make a smaller one.
  bool elastic = false;
  // COHORT_BUSY_WAIT: how long a rank waiting for another keeps its CPU before sleeping; empty
  // = auto (backoff::CallerYieldFor).
  std::optional<std::chrono::milliseconds> busy_wait;
};

// One row of the settings table.
struct SettingInfo {
  std::string name;                  // COHORT_TIMEOUT
  std::vector<std::string> aliases;  // older names still accepted, with a warning
  std::string default_text;          // as shown to users
  std::string help;
  bool secret = false;               // value never printed
};

const std::vector<SettingInfo>& AllSettings();

// Parses every setting present in `env`; a malformed value is an error naming the variable,
// the value and what is accepted. Uses of old aliases are appended to `warnings` if given.
Result<Config> ParseConfig(const EnvMap& env, std::vector<std::string>* warnings = nullptr);

// Table of settings with the values `env` gives them (secrets masked), for --print-config.
std::string DescribeConfig(const EnvMap& env);
// The settings table as a Markdown table, for the README.
std::string SettingsMarkdownTable();

// Parses "600", "600s", "1500ms", "2m" into milliseconds; plain numbers are seconds.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text);
// Parses "4194304", "4M", "4MiB", "64k" into bytes.
Result<size_t> ParseBytes(const std::string& text);

}  // namespace cohort
