// RunJob: the launcher's single-threaded supervision loop (see job.h and job_runner.h). One
// poll() waits on every child's stdout/stderr pipe and on a self-pipe that signal handlers write
// to (SIGCHLD, SIGINT, SIGTERM), with a timeout set by the next deadline (--timeout, end of
// grace, SIGKILL time). The multi-host and agent roles add to it in job_remote.cc and
// job_agent.cc.
#include "launcher/job.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "launcher/job_runner.h"
#include "launcher/output_forwarder.h"
#include "launcher/spawn.h"
#include "runtime/base/deadline.h"
#include "runtime/store/auth.h"
#include "runtime/store/tcp_store.h"
#include "runtime/transport/connect.h"

namespace cohort::launcher {
namespace {

using std::chrono::milliseconds;

int g_signal_write_fd = -1;

// Async-signal-safe: only records which signal arrived; the loop does the work.
void OnSignal(int sig) {
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(sig);
  ssize_t ignored = ::write(g_signal_write_fd, &byte, 1);
  (void)ignored;
  errno = saved;
}

}  // namespace

void Say(const std::string& line) {
  std::string text = "cohortrun: " + line + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

std::string FormatDuration(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

Result<std::string> NewJobId() {
  uint8_t random[8];
  COHORT_RETURN_IF_ERROR(RandomBytes(random, sizeof(random)));
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", random[i]);
  return std::string("cohort-") + hex;
}

Status JobRunner::InstallSignals() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoStatus("pipe2", errno);
  signal_read_.reset(fds[0]);
  signal_write_.reset(fds[1]);
  g_signal_write_fd = signal_write_.get();
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill the supervisor
  return Status::Ok();
}

Status JobRunner::Start(const EnvMap& exported, const std::string& path) {
  if (role_ == Role::kMultiHost) return StartHosts(exported);
  COHORT_ASSIGN_OR_RETURN(std::string secret, GenerateSecret());
  COHORT_ASSIGN_OR_RETURN(job_id_, NewJobId());

  TcpStoreServer::Options store_options;
  store_options.bind_host = "127.0.0.1";  // local jobs only for now
  store_options.port = 0;
  store_options.secret = secret;
  COHORT_ASSIGN_OR_RETURN(store_, TcpStoreServer::Start(store_options));

  if (options_.timeout) job_deadline_ = Clock::now() + *options_.timeout;

  const std::string store_addr = "127.0.0.1:" + std::to_string(store_->port());
  EnvMap worker_env = exported;
  if (options_.servers > 0) worker_env["COHORT_PS_SERVERS"] = std::to_string(options_.servers);
  if (options_.elastic) worker_env["COHORT_ELASTIC"] = "1";
  std::string server_path;
  if (options_.servers > 0) {
    COHORT_ASSIGN_OR_RETURN(server_path, ServerProgram());
  }
  for (int i = 0; i < options_.np; ++i) {
    RankSlot slot{i, options_.np, i, options_.np, 0, store_addr, job_id_, secret};
    COHORT_RETURN_IF_ERROR(Spawn(i, -1, path, options_.command, RankEnvironment(worker_env, slot)));
  }
  for (int s = 0; s < options_.servers; ++s) {
    // A server is not a rank: it gets the job's store, secret and size, and its server index.
    RankSlot slot{0, options_.np, 0, options_.np, 0, store_addr, job_id_, secret};
    EnvMap env = RankEnvironment(worker_env, slot);
    for (const char* name : {"COHORT_RANK", "COHORT_LOCAL_RANK", "COHORT_LOCAL_SIZE", "COHORT_NODE_RANK"}) {
      env.erase(name);
    }
    env["COHORT_PS_SERVER_RANK"] = std::to_string(s);
    COHORT_RETURN_IF_ERROR(Spawn(options_.np + s, s, server_path, {server_path}, env));
  }
  return Status::Ok();
}

Result<std::string> JobRunner::ServerProgram() const {
  if (!options_.server_program.empty()) return ResolveProgram(options_.server_program, {});
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return ErrnoStatus("readlink /proc/self/exe", errno);
  std::string dir(self, static_cast<size_t>(n));
  dir = dir.substr(0, dir.find_last_of('/'));
  Result<std::string> found = ResolveProgram(dir + "/cohort-ps-server", {});
  if (!found.ok()) {
    return InvalidArgumentError(found.status().message() + " (--servers starts cohort-ps-server from "
                                "cohortrun's directory; pass --server-program PATH if it lives elsewhere)");
  }
  return found;
}

Status JobRunner::Spawn(int rank, int server, const std::string& path,
                        const std::vector<std::string>& argv, const EnvMap& env) {
  Result<SpawnedRank> spawned = SpawnRank(path, argv, env);
  if (!spawned.ok()) return spawned.status();  // processes already started are stopped by Run
  Rank& r = ranks_.emplace_back();
  r.rank = rank;
  r.server = server;
  r.pid = spawned->pid;
  r.alive = true;
  r.out = std::move(spawned->stdout_fd);
  r.err = std::move(spawned->stderr_fd);
  // Servers print as "[s0] "; ranks as before.
  auto prefix = [&](bool is_stderr) {
    return server < 0 ? OutputForwarder::Prefix(rank, is_stderr, tag_output_)
                      : "[s" + std::to_string(server) + "] ";
  };
  r.out_forwarder = std::make_unique<OutputForwarder>(prefix(false), STDOUT_FILENO);
  r.err_forwarder = std::make_unique<OutputForwarder>(prefix(true), STDERR_FILENO);
  return Status::Ok();
}

void JobRunner::StopIdleServers(Clock::time_point now) {
  if (options_.servers == 0 || stopping_ || servers_stopped_) return;
  for (const Rank& r : ranks_) {
    if (r.server < 0 && r.alive) return;  // ranks still running
  }
  bool any = false;
  for (const Rank& r : ranks_) any = any || (r.server >= 0 && r.alive);
  if (!any) return;
  if (!servers_until_) {
    servers_until_ = now + options_.grace;
    return;
  }
  if (now < *servers_until_) return;
  Say("every rank finished but parameter servers are still running after --grace " +
      FormatDuration(options_.grace) + " (did the ranks create a ParameterStore?); stopping them");
  servers_stopped_ = true;
  servers_until_.reset();
  for (const Rank& r : ranks_) {
    if (r.server >= 0 && r.alive) ::kill(-r.pid, SIGTERM);
  }
  kill_at_ = now + milliseconds(kTermToKillMs);
}

void JobRunner::SignalLive(int sig) {
  if (role_ == Role::kMultiHost) return SignalAgents(sig);
  // Whole process groups, so that a rank's own children (a shell's child, data loaders) go too.
  for (const Rank& r : ranks_) {
    if (!r.alive) continue;
    ::kill(-r.pid, sig);
    // A stopped rank (SIGSTOP, a debugger's ^Z) would hold SIGTERM until the SIGKILL seconds
    // later: wake it so that it ends now, as a shell's kill and Slurm do.
    if (sig == SIGTERM) ::kill(-r.pid, SIGCONT);
  }
}

std::string JobRunner::ReportedFailure() const {
  if (!store_) return "";
  std::optional<Bytes> report = store_->GetLocal(kAbortKey);
  if (!report) return "";
  // The error itself and the lines explaining it, not the history of operations under it.
  const std::string all = ToString(*report);
  std::string text;
  for (size_t at = 0; at < all.size();) {
    size_t end = std::min(all.find('\n', at), all.size());
    const std::string line = all.substr(at, end - at);
    const bool explains = line.rfind("  wait chain: ", 0) == 0 || line.rfind("  cause: ", 0) == 0;
    if (at == 0) {
      text = line.size() > 600 ? line.substr(0, 600) + "..." : line;
    } else if (explains) {
      text += ";" + line.substr(1);
    }
    at = end + 1;
  }
  return text;
}

void JobRunner::Stop(int exit_code, const std::string& abort_message,
                     std::optional<Clock::time_point> term_at) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = exit_code;
  if (store_) store_->SetLocal(kAbortKey, ToBytes(abort_message));
  term_at_ = term_at;
}

void JobRunner::Drain(Rank& r, bool is_stderr) {
  UniqueFd& fd = is_stderr ? r.err : r.out;
  OutputForwarder& forwarder = is_stderr ? *r.err_forwarder : *r.out_forwarder;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n > 0) {
      forwarder.Feed(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    forwarder.Flush();  // EOF (or a broken pipe): the rank's last partial line
    fd.reset();
    return;
  }
}

void JobRunner::HandleSignals() {
  unsigned char sigs[64];
  ssize_t n;
  while ((n = ::read(signal_read_.get(), sigs, sizeof(sigs))) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      int sig = sigs[i];
      if (sig == SIGCHLD) continue;  // Reap() runs every iteration
      if (!interrupted_) {
        // First interrupt: pass it on and give the ranks a little time to exit cleanly.
        interrupted_ = true;
        SignalLive(sig);
        if (!stopping_) {
          Stop(128 + sig, "cohortrun received " + SignalName(sig), std::nullopt);
          final_message_ = "received " + SignalName(sig) + "; stopped all ranks";
        }
        kill_at_ = Clock::now() + milliseconds(kTermToKillMs);
      } else {
        SignalLive(SIGKILL);  // a second interrupt: the user is not waiting any longer
      }
    }
  }
}

void JobRunner::Reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (Rank& r : ranks_) {
      if (r.pid != pid || !r.alive) continue;
      r.alive = false;
      if (role_ == Role::kMultiHost) {
        AgentExited(r, status);
        continue;
      }
      if (role_ == Role::kAgent) {
        AgentRankExited(r, status);
        continue;
      }
      if (Failed(status) && !stopping_ && !(r.server >= 0 && servers_stopped_)) {
        std::string what = DescribeExit(r.rank, pid, status);
        if (GoOnWithout({r.rank}, what)) continue;
        if (r.server >= 0) {  // "rank 5 (pid ...) ..." -> "parameter server 1 (pid ...) ..."
          what = "parameter server " + std::to_string(r.server) + what.substr(what.find(" ("));
        }
        // A rank that exited with an error often published why (it saw a mismatch, a timeout,
        // a lost peer) before exiting: that report is the first failure, keep and show it. A
        // rank killed by a signal could not say anything: its death is the cause.
        const std::string reported = WIFEXITED(status) ? ReportedFailure() : "";
        Stop(ExitCodeFor(status), reported.empty() ? what : reported, Clock::now() + options_.grace);
        final_message_ = what + (ranks_.size() > 1 ? "; stopped the other ranks" : "") +
                         (reported.empty() ? "" : "; the first error reported: " + reported);
      }
    }
  }
}

bool JobRunner::PipesOpen() const {
  for (const Rank& r : ranks_) {
    if (r.out.valid() || r.err.valid()) return true;
  }
  return false;
}

bool JobRunner::GoOnWithout(const std::vector<int>& lost, const std::string& what) {
  const size_t running = RanksRunning();
  if (!options_.elastic || running == 0) return false;
  // The survivors learn it from their links, and shrink() from these keys.
  for (int rank : lost) {
    if (store_) store_->SetLocal(kDeadRankKeyPrefix + std::to_string(rank), ToBytes(what));
  }
  Say(what + "; " + std::to_string(running) + " rank(s) go on (--elastic)");
  return true;
}

size_t JobRunner::RanksRunning() const {
  if (role_ != Role::kMultiHost) return LiveCount();
  size_t running = 0;
  for (const Rank& agent : ranks_) running += agent.alive ? static_cast<size_t>(agent.remote_live()) : 0;
  return running;
}

size_t JobRunner::LiveCount() const {
  size_t live = 0;
  for (const Rank& r : ranks_) live += r.alive ? 1 : 0;
  return live;
}

void JobRunner::Loop() {
  while (LiveCount() > 0 || PipesOpen()) {
    Clock::time_point now = Clock::now();
    if (job_deadline_ && now >= *job_deadline_ && LiveCount() > 0) {
      job_deadline_.reset();
      std::string what = "job exceeded --timeout " + FormatDuration(*options_.timeout);
      Say(what + "; stopping all ranks");
      if (!stopping_) {
        Stop(124, "cohortrun: " + what, now);
        final_message_.clear();  // already said
      } else {
        term_at_ = now;
      }
    }
    if (term_at_ && now >= *term_at_) {
      term_at_.reset();
      SignalLive(SIGTERM);
      kill_at_ = now + milliseconds(kTermToKillMs);
    }
    StopIdleServers(now);
    if (kill_at_ && now >= *kill_at_) {
      kill_at_.reset();
      SignalLive(SIGKILL);
    }
    if (agents_start_by_ && now >= *agents_start_by_) CheckAgentsStarted(now);
    if (rsh_kill_at_ && now >= *rsh_kill_at_) {
      // An rsh (or agent) that outlived "signal 9" and EOF on its stdin: end it here.
      rsh_kill_at_.reset();
      for (const Rank& r : ranks_) {
        if (r.alive) ::kill(-r.pid, SIGKILL);
      }
    }
    if (LiveCount() == 0) {
      // Every rank is gone but something it started still holds a pipe: give it a moment to
      // finish writing, then end the whole process groups.
      if (!drain_until_) drain_until_ = now + milliseconds(500);
      if (now >= *drain_until_) {
        for (Rank& r : ranks_) {
          ::kill(-r.pid, SIGKILL);
          for (UniqueFd* fd : {&r.out, &r.err}) {
            if (!fd->valid()) continue;
            Drain(r, fd == &r.err);
            fd->reset();
          }
          r.out_forwarder->Flush();
          r.err_forwarder->Flush();
        }
        break;
      }
    }

    std::vector<pollfd> fds{{signal_read_.get(), POLLIN, 0}};
    std::vector<std::pair<Rank*, bool>> owners{{nullptr, false}};
    const size_t first_rank_fd = control_.valid() ? 2 : 1;
    if (control_.valid()) {  // the agent's stdin: commands from the launcher
      fds.push_back({control_.get(), POLLIN, 0});
      owners.push_back({nullptr, false});
    }
    for (Rank& r : ranks_) {
      if (r.out.valid()) { fds.push_back({r.out.get(), POLLIN, 0}); owners.push_back({&r, false}); }
      if (r.err.valid()) { fds.push_back({r.err.get(), POLLIN, 0}); owners.push_back({&r, true}); }
    }
    Deadline next = Deadline::After(milliseconds(200));  // also catches a lost wake-up
    for (const auto& at : {job_deadline_, term_at_, kill_at_, drain_until_, servers_until_,
                           rsh_kill_at_, agents_start_by_}) {
      if (at) next = next.Earlier(Deadline(*at));
    }
    int ready = ::poll(fds.data(), fds.size(), next.remaining_ms());
    if (ready < 0 && errno != EINTR) {
      Say(std::string("poll failed: ") + std::strerror(errno));
      SignalLive(SIGKILL);
    }
    if (first_rank_fd == 2 && fds[1].revents != 0) ReadControl();
    for (size_t i = first_rank_fd; ready > 0 && i < fds.size(); ++i) {
      if (fds[i].revents != 0) Drain(*owners[i].first, owners[i].second);
    }
    HandleSignals();
    Reap();
  }
  // Blocking reap in case a rank's exit raced with the loop's end (there should be none left).
  while (LiveCount() > 0) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0 && errno != EINTR) break;
    for (Rank& r : ranks_) if (r.pid == pid) r.alive = false;
  }
}

int JobRunner::Run(const EnvMap& env) {
  if (Status s = InstallSignals(); !s.ok()) {
    Say(s.message());
    return 1;
  }
  if (role_ == Role::kAgent) {
    Result<std::string> started = StartAgent();
    if (!started.ok()) {
      // Stop whatever did start; the launcher prints the reason, naming this host.
      Emit(AgentErrorLine(started.status().message()));
      Stop(127, "", Clock::now());
      agent_exit_code_ = started.status().code() == StatusCode::kInvalidArgument ? 127 : 1;
    }
    Loop();
    if (!job_id_.empty()) RemoveJobSegments(job_id_);  // what crashed ranks left on this host
    return agent_exit_code_;
  }
  // Mistakes in the command line are reported before anything starts.
  Result<EnvMap> exported = ApplyExports(env, options_.exports);
  if (!exported.ok()) {
    Say(exported.status().message());
    return 2;
  }
  if (role_ == Role::kMultiHost) {
    if (Status placed = PlaceOnHosts(); !placed.ok()) {
      Say(placed.message());
      return 2;
    }
  }
  // A remote host's program is looked for there, by its agent.
  Result<std::string> path = role_ == Role::kMultiHost
                                 ? Result<std::string>(options_.command[0])
                                 : ResolveProgram(options_.command[0], *exported);
  if (!path.ok()) {
    Say(path.status().message());
    return 127;
  }
  Status started = Start(*exported, *path);
  if (!started.ok()) {
    // Could not start everything: stop what did start, then report why. An exec failure
    // ("cannot start ...") is 127 as in shells; anything else (the store, fork) is 1.
    Stop(started.code() == StatusCode::kInvalidArgument ? 127 : 1,
         "cohortrun: " + started.message(), Clock::now());
    final_message_ = started.message();
  }
  Loop();
  if (!job_id_.empty()) RemoveJobSegments(job_id_);
  if (!final_message_.empty()) Say(final_message_);
  return exit_code_;
}

int RunJob(const LaunchOptions& options, const EnvMap& env) {
  JobRunner runner(options, options.multi_host() ? JobRunner::Role::kMultiHost
                                                 : JobRunner::Role::kLocal);
  return runner.Run(env);
}

int RunRemoteAgent(const LaunchOptions& options) {
  JobRunner runner(options, JobRunner::Role::kAgent);
  return runner.Run(ProcessEnvironment());
}

}  // namespace cohort::launcher
