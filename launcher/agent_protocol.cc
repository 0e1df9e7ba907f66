// Encoding of the agent's job and control lines (see agent_protocol.h).
#include "launcher/agent_protocol.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace cohort::launcher {
namespace {

void Put(std::string* out, const std::string& field) {
  out->append(field);
  out->push_back('\0');
}

bool ToInt(const std::string& text, int* value) {
  if (text.empty()) return false;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || v < -(1L << 30) || v > (1L << 30)) return false;
  *value = static_cast<int>(v);
  return true;
}

}  // namespace

std::string EncodeAgentJob(const AgentJob& job) {
  std::string payload;
  for (int v : {job.world_size, job.node_rank, job.first_rank, job.count, job.tag_output ? 1 : 0}) {
    Put(&payload, std::to_string(v));
  }
  Put(&payload, job.store_addr);
  Put(&payload, job.job_id);
  Put(&payload, job.secret);
  Put(&payload, std::to_string(job.command.size()));
  for (const std::string& a : job.command) Put(&payload, a);
  Put(&payload, std::to_string(job.env.size()));
  for (const auto& [name, value] : job.env) Put(&payload, name + "=" + value);
  return std::string(kAgentMagic) + " " + std::to_string(payload.size()) + "\n" + payload;
}

Result<size_t> DecodeAgentHeader(const std::string& line) {
  const std::string magic = std::string(kAgentMagic) + " ";
  int bytes = 0;
  if (line.compare(0, magic.size(), magic) != 0 || !ToInt(line.substr(magic.size()), &bytes) ||
      bytes <= 0 || bytes > (64 << 20)) {
    return InvalidArgumentError("cohortrun --remote-agent is started by cohortrun through --rsh "
                                "and reads its job from stdin; got '" + line.substr(0, 40) + "'");
  }
  return static_cast<size_t>(bytes);
}

Result<AgentJob> DecodeAgentJob(const std::string& payload) {
  std::vector<std::string> fields;
  size_t begin = 0;
  while (begin < payload.size()) {
    size_t end = payload.find('\0', begin);
    if (end == std::string::npos) return InvalidArgumentError("agent job: unterminated field");
    fields.push_back(payload.substr(begin, end - begin));
    begin = end + 1;
  }
  auto bad = [](const std::string& what) { return InvalidArgumentError("agent job: " + what); };
  AgentJob job;
  size_t i = 0;
  auto next = [&](std::string* out) {
    if (i >= fields.size()) return false;
    *out = fields[i++];
    return true;
  };
  std::string f;
  int tag = 0;
  int* ints[] = {&job.world_size, &job.node_rank, &job.first_rank, &job.count, &tag};
  for (int* v : ints) {
    if (!next(&f) || !ToInt(f, v)) return bad("bad number");
  }
  job.tag_output = tag != 0;
  if (!next(&job.store_addr) || !next(&job.job_id) || !next(&job.secret)) return bad("truncated");
  int n = 0;
  if (!next(&f) || !ToInt(f, &n) || n < 1) return bad("no program");
  for (int k = 0; k < n; ++k) {
    if (!next(&f)) return bad("truncated program arguments");
    job.command.push_back(f);
  }
  if (!next(&f) || !ToInt(f, &n) || n < 0) return bad("bad environment count");
  for (int k = 0; k < n; ++k) {
    if (!next(&f)) return bad("truncated environment");
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0) return bad("bad environment entry");
    job.env.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  if (i != fields.size()) return bad("trailing fields");
  // In 64 bits: first_rank and count may each be up to 2^30 (found by tests/fuzz).
  if (job.count < 1 || job.first_rank < 0 || int64_t{job.first_rank} + job.count > job.world_size) {
    return bad("ranks outside the world");
  }
  if (job.node_rank < 0 || job.node_rank >= job.world_size) {
    return bad("node rank outside the world");
  }
  return job;
}

std::string AgentStartedLine() { return std::string(kAgentMarker) + "started\n"; }

std::string AgentExitLine(int rank, int pid, int wait_status) {
  return std::string(kAgentMarker) + "exit " + std::to_string(rank) + " " + std::to_string(pid) +
         " " + std::to_string(wait_status) + "\n";
}

std::string AgentErrorLine(const std::string& message) {
  std::string one_line = message;
  for (char& c : one_line) {
    if (c == '\n') c = ' ';
  }
  return std::string(kAgentMarker) + "error " + one_line + "\n";
}

bool ParseAgentLine(const std::string& line, AgentEvent* event) {
  const size_t m = std::strlen(kAgentMarker);
  if (line.compare(0, m, kAgentMarker) != 0) return false;
  const std::string rest = line.substr(m);
  if (rest == "started") {
    event->kind = AgentEvent::kStarted;
    return true;
  }
  if (rest.compare(0, 6, "error ") == 0) {
    event->kind = AgentEvent::kError;
    event->message = rest.substr(6);
    return true;
  }
  std::istringstream words(rest);
  std::string word;
  if (words >> word && word == "exit" && words >> event->rank >> event->pid >> event->wait_status) {
    event->kind = AgentEvent::kExit;
    return true;
  }
  return false;
}

}  // namespace cohort::launcher
