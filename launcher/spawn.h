// Starting one rank: its environment (the launcher's, minus other launchers' identity variables,
// plus -x exports and cohort's own), finding the program on PATH, and fork/exec into a process
// group of its own with stdout/stderr on pipes. Also how a rank's end is described to users.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/config/env.h"
#include "runtime/net/socket.h"

namespace cohort::launcher {

// What one rank is told about itself and the job.
struct RankSlot {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_size = 1;
  int node_rank = 0;
  std::string store_addr;  // "127.0.0.1:port"
  std::string job_id;
  std::string secret;      // goes into the environment only, never argv
};

// Applies -x entries to `env`: "VAR=VAL" sets, bare "VAR" must be set in `env` (copied as is).
Result<EnvMap> ApplyExports(const EnvMap& env, const std::vector<std::string>& exports);

// The environment of one rank: `env` (already with exports) without identity variables that an
// outer launcher (Slurm, Open MPI, torchrun) left behind, which would contradict ours, plus the
// COHORT_* identity, store address, job id and secret.
EnvMap RankEnvironment(const EnvMap& env, const RankSlot& slot);

// Finds `program` like execvp: as given when it contains '/', else on `env`'s PATH. The error
// reads "cannot start 'foo': No such file or directory".
Result<std::string> ResolveProgram(const std::string& program, const EnvMap& env);

struct SpawnedRank {
  pid_t pid = -1;   // also its process group id
  UniqueFd stdout_fd;  // read ends, non-blocking, close-on-exec
  UniqueFd stderr_fd;
  UniqueFd stdin_fd;   // with pipe_stdin: the write end, non-blocking, close-on-exec
};

// Forks and execs `path` with `argv` and `env` in a new process group; stdin is /dev/null, or
// with `pipe_stdin` a pipe whose write end comes back (how a remote agent gets its job).
// The rank gets SIGKILL if the launcher dies. Exec failures come back as an error
// ("cannot start 'prog': Permission denied") after the child has been reaped.
Result<SpawnedRank> SpawnRank(const std::string& path, const std::vector<std::string>& argv,
                              const EnvMap& env, bool pipe_stdin = false);

// "SIGKILL" for 9; "signal 64" when the number has no name.
std::string SignalName(int signal_number);
// "rank 3 (pid 1234) was killed by signal 9 (SIGKILL)" or "rank 2 (pid 99) exited with status 3".
std::string DescribeExit(int rank, pid_t pid, int wait_status);
// The launcher's exit code for a rank's end: its exit status, or 128 + signal.
int ExitCodeFor(int wait_status);
bool Failed(int wait_status);

}  // namespace cohort::launcher
