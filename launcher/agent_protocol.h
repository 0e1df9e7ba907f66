// What cohortrun and its per-host agent (`cohortrun --remote-agent`, started through --rsh) say
// to each other. The job, secret included, travels on the agent's stdin, so that it never
// appears in any process's argv; the stdin then stays open as the control channel: "signal N"
// lines, and EOF meaning "the launcher is gone: stop everything". The agent's stdout carries its
// ranks' prefixed output plus control lines that start with kAgentMarker, which no rank's line
// can start with (those begin with "[").
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/base/status.h"

namespace cohort::launcher {

inline constexpr const char* kAgentMarker = "@@cohort-agent ";
// The first line on the agent's stdin: the magic word and the byte count of what follows.
inline constexpr const char* kAgentMagic = "cohort-agent-1";

struct AgentJob {
  int world_size = 1;
  int node_rank = 0;
  int first_rank = 0;  // the host's ranks are first_rank .. first_rank + count - 1
  int count = 1;
  bool tag_output = false;
  std::string store_addr, job_id, secret;
  std::vector<std::string> command;                          // program and arguments
  std::vector<std::pair<std::string, std::string>> env;      // set in every rank (-x, COHORT_*)
};

// "cohort-agent-1 <bytes>\n" followed by NUL-terminated fields.
std::string EncodeAgentJob(const AgentJob& job);
// Decodes the fields after the header line; errors say what was malformed.
Result<AgentJob> DecodeAgentJob(const std::string& payload);
// Parses the header line ("cohort-agent-1 123"): the payload's size.
Result<size_t> DecodeAgentHeader(const std::string& line);

// A control line from the agent, parsed.
struct AgentEvent {
  enum Kind { kStarted, kExit, kError } kind = kStarted;
  int rank = 0, pid = 0, wait_status = 0;  // kExit
  std::string message;                     // kError
};
std::string AgentStartedLine();
std::string AgentExitLine(int rank, int pid, int wait_status);
std::string AgentErrorLine(const std::string& message);
// False when `line` is not a control line (then it is rank output to forward).
bool ParseAgentLine(const std::string& line, AgentEvent* event);

}  // namespace cohort::launcher
