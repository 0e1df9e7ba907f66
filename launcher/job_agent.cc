// The remote agent's part of JobRunner (see job_runner.h): `cohortrun --remote-agent` reads its
// job from stdin, starts this host's ranks, reports each rank's end on stdout, and takes
// "signal N" lines on stdin. EOF on stdin means the launcher (or the rsh connection to it) is
// gone, so the agent stops its ranks: with ssh no signal would reach them otherwise.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "launcher/job.h"
#include "launcher/job_runner.h"
#include "launcher/spawn.h"

namespace cohort::launcher {
namespace {

// How long the agent waits for its job on stdin before giving up.
constexpr std::chrono::seconds kJobReadTimeout{60};

// Reads exactly `bytes` from `fd` (or up to a newline when `line`), bounded by `deadline`.
Result<std::string> ReadStdin(int fd, size_t bytes, bool line, Deadline deadline) {
  std::string out;
  while (out.size() < bytes) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, deadline.remaining_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return DeadlineExceededError("no job on stdin within 60 s");
    char buffer[4096];
    // One byte at a time for the header line, so that nothing after it is consumed here.
    size_t want = line ? 1 : std::min(sizeof(buffer), bytes - out.size());
    ssize_t n = ::read(fd, buffer, want);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return UnavailableError("stdin closed before the whole job arrived");
    if (line && buffer[0] == '\n') return out;
    out.append(buffer, static_cast<size_t>(n));
  }
  if (line) return InvalidArgumentError("the job's first line is too long");
  return out;
}

}  // namespace

void JobRunner::Emit(const std::string& line) {
  // One write per line, like the forwarders', so that control lines never split rank output.
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;  // the launcher is gone; EOF on stdin will stop the ranks
    done += static_cast<size_t>(n);
  }
}

Result<std::string> JobRunner::StartAgent() {
  const Deadline deadline = Deadline::After(kJobReadTimeout);
  COHORT_ASSIGN_OR_RETURN(std::string header, ReadStdin(STDIN_FILENO, 128, true, deadline));
  COHORT_ASSIGN_OR_RETURN(size_t bytes, DecodeAgentHeader(header));
  COHORT_ASSIGN_OR_RETURN(std::string payload, ReadStdin(STDIN_FILENO, bytes, false, deadline));
  COHORT_ASSIGN_OR_RETURN(AgentJob job, DecodeAgentJob(payload));
  // From here stdin is the control channel; the ranks get /dev/null (SpawnRank).
  control_.reset(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3));
  if (!control_.valid()) return ErrnoStatus("dup stdin", errno);
  ::fcntl(control_.get(), F_SETFL, ::fcntl(control_.get(), F_GETFL) | O_NONBLOCK);
  tag_output_ = job.tag_output;
  job_id_ = job.job_id;  // removes the job's leftover /dev/shm segments on this host at the end

  EnvMap env = ProcessEnvironment();
  for (const auto& [name, value] : job.env) env[name] = value;
  Result<std::string> path = ResolveProgram(job.command[0], env);
  if (!path.ok()) return InvalidArgumentError(path.status().message() + " on " + Hostname());
  for (int k = 0; k < job.count; ++k) {
    RankSlot slot{job.first_rank + k, job.world_size, k, job.count, job.node_rank,
                  job.store_addr, job.job_id, job.secret};
    COHORT_RETURN_IF_ERROR(Spawn(slot.rank, -1, *path, job.command, RankEnvironment(env, slot)));
  }
  Emit(AgentStartedLine());
  return *path;
}

void JobRunner::ReadControl() {
  char buffer[512];
  for (;;) {
    ssize_t n = ::read(control_.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      // The launcher closed our stdin, or died: stop every rank here (SIGTERM, then SIGKILL).
      control_.reset();
      if (!stopping_) {
        Stop(1, "", Clock::now());
      } else if (!kill_at_) {
        term_at_ = Clock::now();
      }
      return;
    }
    control_buffer_.append(buffer, static_cast<size_t>(n));
  }
  size_t newline;
  while ((newline = control_buffer_.find('\n')) != std::string::npos) {
    const std::string line = control_buffer_.substr(0, newline);
    control_buffer_.erase(0, newline + 1);
    if (line.compare(0, 7, "signal ") == 0) {
      int sig = std::atoi(line.c_str() + 7);
      if (sig > 0 && sig < 65) {
        stopping_ = true;  // the launcher is ending the job: rank ends are not news
        SignalLive(sig);
      }
    }
  }
}

void JobRunner::AgentRankExited(const Rank& r, int wait_status) {
  Emit(AgentExitLine(r.rank, r.pid, wait_status));
  if (Failed(wait_status) && agent_exit_code_ == 0) agent_exit_code_ = ExitCodeFor(wait_status);
}

}  // namespace cohort::launcher
