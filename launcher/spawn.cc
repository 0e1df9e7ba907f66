// Rank spawning (see spawn.h). Everything the child needs is built before fork(): the launcher
// runs the store server thread, so between fork and exec the child may only make
// async-signal-safe calls (no allocation, no locks).
#include "launcher/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cohort::launcher {
namespace {

// Identity variables of other launchers. Inherited from an outer launcher (an sbatch script,
// a torchrun worker), they would contradict COHORT_RANK and make identity detection fail.
constexpr const char* kForeignIdentity[] = {
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "SLURM_PROCID",
    "SLURM_LOCALID", "SLURM_NODEID", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
    "GROUP_RANK"};

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

Status CannotStart(const std::string& program, int err) {
  return InvalidArgumentError("cannot start '" + program + "': " + std::strerror(err));
}

Status MakePipe(UniqueFd* read_end, UniqueFd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  read_end->reset(fds[0]);
  write_end->reset(fds[1]);
  return Status::Ok();
}

// Runs in the child after fork(): async-signal-safe calls only. Never returns.
[[noreturn]] void ExecChild(const char* path, char* const* argv, char* const* envp, int out_fd,
                            int err_fd, int null_fd, int report_fd, pid_t launcher) {
  ::setpgid(0, 0);
  // Die with the launcher, whatever kills it; check for a launcher that is already gone.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != launcher) ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);  // the launcher ignores SIGPIPE; exec keeps ignored signals
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  ::execve(path, argv, envp);
  int err = errno;
  ssize_t ignored = ::write(report_fd, &err, sizeof(err));
  (void)ignored;
  ::_exit(127);
}

}  // namespace

Result<EnvMap> ApplyExports(const EnvMap& env, const std::vector<std::string>& exports) {
  EnvMap out = env;
  for (const std::string& entry : exports) {
    size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      out[entry.substr(0, eq)] = entry.substr(eq + 1);
    } else if (env.count(entry) == 0) {
      return InvalidArgumentError("-x " + entry + ": " + entry +
                                  " is not set in cohortrun's environment; use -x " + entry +
                                  "=VALUE to give it a value");
    }
  }
  return out;
}

EnvMap RankEnvironment(const EnvMap& env, const RankSlot& slot) {
  EnvMap out = env;
  for (const char* name : kForeignIdentity) out.erase(name);
  out["COHORT_RANK"] = std::to_string(slot.rank);
  out["COHORT_WORLD_SIZE"] = std::to_string(slot.world_size);
  out["COHORT_LOCAL_RANK"] = std::to_string(slot.local_rank);
  out["COHORT_LOCAL_SIZE"] = std::to_string(slot.local_size);
  out["COHORT_NODE_RANK"] = std::to_string(slot.node_rank);
  out["COHORT_STORE_ADDR"] = slot.store_addr;
  out["COHORT_JOB_ID"] = slot.job_id;
  out["COHORT_JOB_SECRET"] = slot.secret;
  return out;
}

Result<std::string> ResolveProgram(const std::string& program, const EnvMap& env) {
  if (program.empty()) return CannotStart(program, ENOENT);
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), F_OK) != 0) return CannotStart(program, errno);
    return program;
  }
  auto path_it = env.find("PATH");
  std::string path = path_it != env.end() ? path_it->second : "/usr/local/bin:/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(begin, end - begin);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (IsExecutableFile(candidate)) return candidate;
    begin = end + 1;
  }
  return CannotStart(program, ENOENT);
}

Result<SpawnedRank> SpawnRank(const std::string& path, const std::vector<std::string>& argv,
                              const EnvMap& env, bool pipe_stdin) {
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> argv_ptrs, envp_ptrs;
  for (const std::string& a : argv) argv_ptrs.push_back(const_cast<char*>(a.c_str()));
  argv_ptrs.push_back(nullptr);
  for (const std::string& e : env_strings) envp_ptrs.push_back(const_cast<char*>(e.c_str()));
  envp_ptrs.push_back(nullptr);

  UniqueFd out_read, out_write, err_read, err_write, report_read, report_write;
  COHORT_RETURN_IF_ERROR(MakePipe(&out_read, &out_write));
  COHORT_RETURN_IF_ERROR(MakePipe(&err_read, &err_write));
  COHORT_RETURN_IF_ERROR(MakePipe(&report_read, &report_write));
  UniqueFd null_fd, in_write;
  if (pipe_stdin) {
    COHORT_RETURN_IF_ERROR(MakePipe(&null_fd, &in_write));
  } else {
    null_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_fd.valid()) return ErrnoStatus("open /dev/null", errno);
  }

  pid_t launcher = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    ExecChild(path.c_str(), argv_ptrs.data(), envp_ptrs.data(), out_write.get(), err_write.get(),
              null_fd.get(), report_write.get(), launcher);
  }
  // Also set the group from the parent, so that signalling -pid works even before the child
  // has run (whichever of the two calls comes second fails harmlessly).
  ::setpgid(pid, pid);
  out_write.reset();
  err_write.reset();
  report_write.reset();
  null_fd.reset();  // the child's stdin: with pipe_stdin, EOF reaches it when in_write closes

  // The report pipe closes on a successful exec (close-on-exec) or carries exec's errno.
  int err = 0;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(err))) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return CannotStart(argv.empty() ? path : argv[0], err);
  }
  for (int fd : {out_read.get(), err_read.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  SpawnedRank spawned;
  spawned.pid = pid;
  spawned.stdout_fd = std::move(out_read);
  spawned.stderr_fd = std::move(err_read);
  if (in_write.valid()) {
    ::fcntl(in_write.get(), F_SETFL, ::fcntl(in_write.get(), F_GETFL) | O_NONBLOCK);
    spawned.stdin_fd = std::move(in_write);
  }
  return spawned;
}

std::string SignalName(int signal_number) {
  const char* abbrev = ::sigabbrev_np(signal_number);
  if (abbrev == nullptr) return "signal " + std::to_string(signal_number);
  return std::string("SIG") + abbrev;
}

std::string DescribeExit(int rank, pid_t pid, int wait_status) {
  std::string who = "rank " + std::to_string(rank) + " (pid " + std::to_string(pid) + ")";
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return who + " was killed by signal " + std::to_string(sig) + " (" + SignalName(sig) + ")";
  }
  return who + " exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

int ExitCodeFor(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

bool Failed(int wait_status) { return ExitCodeFor(wait_status) != 0; }

}  // namespace cohort::launcher
