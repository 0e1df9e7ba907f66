// Fuzz target: cohort's settings (runtime/config/config.h): ParseConfig over an environment of
// COHORT_* variables (and their old names) with fuzzer-chosen values, --print-config's
// DescribeConfig, and the duration and size parsers every setting uses. Properties: an accepted
// configuration is in range (what each setting's help promises); a parsed duration or size
// prints back to text that parses to the same value; DescribeConfig never echoes the secret.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/config/config.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort {
namespace {

void CheckConfig(const Config& c) {
  FUZZ_CHECK(c.timeout.count() > 0 && c.connect_timeout.count() > 0, "a timeout of 0 or less");
  FUZZ_CHECK(c.socket_nstreams >= 1 && c.socket_nstreams <= 64, "%d streams", c.socket_nstreams);
  FUZZ_CHECK(c.shm_ring_bytes >= 4096, "ring of %zu bytes", c.shm_ring_bytes);
  FUZZ_CHECK(c.chunk_bytes >= 1, "chunk of 0 bytes");
  FUZZ_CHECK(c.shm_slot_bytes == 0 || c.shm_slot_bytes >= 16384, "slot of %zu", c.shm_slot_bytes);
  FUZZ_CHECK(c.staging_chunk_bytes >= 4096, "staging chunk of %zu", c.staging_chunk_bytes);
  FUZZ_CHECK(c.ps_servers >= 0 && c.ps_servers <= 65536, "%d servers", c.ps_servers);
  FUZZ_CHECK(!c.busy_wait || (c.busy_wait->count() >= 0 && *c.busy_wait <= std::chrono::hours(1)),
             "busy wait of %lld ms", static_cast<long long>(c.busy_wait->count()));
  if (!c.job_id.empty()) {
    FUZZ_CHECK(c.job_id.size() <= 64, "job id of %zu characters", c.job_id.size());
    for (char ch : c.job_id) {
      const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
      FUZZ_CHECK(plain, "job id with character %d", ch);
    }
  }
}

void CheckValueParsers(const std::string& text) {
  Result<std::chrono::milliseconds> ms = ParseDuration(text);
  if (ms.ok()) {
    FUZZ_CHECK(ms->count() >= 0 && ms->count() <= (int64_t{1} << 50), "duration %lld ms",
               static_cast<long long>(ms->count()));
    Result<std::chrono::milliseconds> again = ParseDuration(std::to_string(ms->count()) + "ms");
    FUZZ_CHECK(again.ok() && *again == *ms, "a duration does not print back");
  }
  Result<size_t> bytes = ParseBytes(text);
  if (bytes.ok()) {
    Result<size_t> again = ParseBytes(std::to_string(*bytes));
    FUZZ_CHECK(again.ok() && *again == *bytes, "a size does not print back");
  }
}

}  // namespace
}  // namespace cohort

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  FuzzInput in(data, size);
  std::vector<std::string> names;
  for (const SettingInfo& s : AllSettings()) {
    names.push_back(s.name);
    for (const std::string& alias : s.aliases) names.push_back(alias);
  }
  const std::string secret = "fuzz-secret-value-0123456789";
  EnvMap env;
  env["COHORT_JOB_SECRET"] = secret;
  while (in.remaining_bytes() > 0 && env.size() < 32) {
    const size_t pick = in.ConsumeIntegralInRange<size_t>(0, names.size());
    std::string name = pick < names.size() ? names[pick] : in.ConsumeRandomLengthString(32);
    std::string value = in.ConsumeRandomLengthString(64);
    CheckValueParsers(value);
    env[name] = value;
  }
  std::vector<std::string> warnings;
  Result<Config> config = ParseConfig(env, &warnings);
  if (config.ok()) CheckConfig(*config);
  const std::string described = DescribeConfig(env);
  // (Only when no other variable holds the secret's text, which may be shown.)
  bool secret_elsewhere = false;
  for (const auto& [name, value] : env) {
    secret_elsewhere = secret_elsewhere ||
                       (name != "COHORT_JOB_SECRET" && value.find(secret) != std::string::npos);
  }
  if (env["COHORT_JOB_SECRET"] == secret && !secret_elsewhere) {
    FUZZ_CHECK(described.find(secret) == std::string::npos, "--print-config shows the secret");
  }
  return 0;
}
