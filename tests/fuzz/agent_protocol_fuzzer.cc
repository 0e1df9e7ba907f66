// Fuzz target: what cohortrun's per-host agent reads from its stdin (launcher/agent_protocol.h):
// the header line, the job (NUL-separated fields), and the control lines both sides parse.
// Properties: a decoded job places its ranks inside the world and re-encodes to a job that
// decodes to the same fields; the header of an encoding announces its payload's size; exit and
// error lines round-trip through ParseAgentLine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "launcher/agent_protocol.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort::launcher {
namespace {

bool SameJob(const AgentJob& a, const AgentJob& b) {
  return a.world_size == b.world_size && a.node_rank == b.node_rank &&
         a.first_rank == b.first_rank && a.count == b.count && a.tag_output == b.tag_output &&
         a.store_addr == b.store_addr && a.job_id == b.job_id && a.secret == b.secret &&
         a.command == b.command && a.env == b.env;
}

void FuzzJob(const std::string& payload) {
  Result<AgentJob> job = DecodeAgentJob(payload);
  if (!job.ok()) return;
  FUZZ_CHECK(job->count >= 1 && job->first_rank >= 0 &&
                 int64_t{job->first_rank} + job->count <= job->world_size,
             "ranks %d+%d in a world of %d", job->first_rank, job->count, job->world_size);
  FUZZ_CHECK(job->node_rank >= 0 && job->node_rank < job->world_size, "node %d of %d",
             job->node_rank, job->world_size);
  FUZZ_CHECK(!job->command.empty(), "a job without a program");
  for (const auto& [name, value] : job->env) {
    FUZZ_CHECK(!name.empty() && name.find('=') == std::string::npos, "environment name '%s'",
               name.c_str());
  }
  const std::string encoded = EncodeAgentJob(*job);
  const size_t newline = encoded.find('\n');
  FUZZ_CHECK(newline != std::string::npos, "an encoding without a header line");
  Result<size_t> bytes = DecodeAgentHeader(encoded.substr(0, newline));
  FUZZ_CHECK(bytes.ok() && *bytes == encoded.size() - newline - 1,
             "the header does not announce the payload's size");
  Result<AgentJob> again = DecodeAgentJob(encoded.substr(newline + 1));
  FUZZ_CHECK(again.ok() && SameJob(*job, *again), "a job does not survive encode -> decode");
}

void FuzzLines(FuzzInput& in) {
  AgentEvent event;
  const std::string line = in.ConsumeRandomLengthString(512);
  if (ParseAgentLine(line, &event)) {
    FUZZ_CHECK(line.compare(0, std::string(kAgentMarker).size(), kAgentMarker) == 0,
               "a control line without the marker");
  }
  const int rank = in.ConsumeIntegral<int>();
  const int pid = in.ConsumeIntegral<int>();
  const int status = in.ConsumeIntegral<int>();
  std::string exit_line = AgentExitLine(rank, pid, status);
  exit_line.pop_back();  // the reader strips the newline
  FUZZ_CHECK(ParseAgentLine(exit_line, &event) && event.kind == AgentEvent::kExit &&
                 event.rank == rank && event.pid == pid && event.wait_status == status,
             "an exit line does not round-trip");
  const std::string message = in.ConsumeRemainingBytesAsString();
  std::string error_line = AgentErrorLine(message);
  error_line.pop_back();
  std::string one_line = message;
  for (char& c : one_line) {
    if (c == '\n') c = ' ';
  }
  FUZZ_CHECK(ParseAgentLine(error_line, &event) && event.kind == AgentEvent::kError &&
                 event.message == one_line,
             "an error line does not round-trip");
}

}  // namespace
}  // namespace cohort::launcher

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::launcher;
  FuzzInput in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: FuzzJob(in.ConsumeRemainingBytesAsString()); break;
    case 1: {
      const std::string line = in.ConsumeRemainingBytesAsString();
      cohort::Result<size_t> bytes = DecodeAgentHeader(line);
      if (bytes.ok()) FUZZ_CHECK(*bytes >= 1 && *bytes <= (64u << 20), "payload of %zu", *bytes);
      break;
    }
    case 2: FuzzLines(in); break;
  }
  return 0;
}
