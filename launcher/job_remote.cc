// The multi-host part of JobRunner (see job_runner.h): places the ranks on the hosts, starts the
// store where every host can reach it, and starts one agent per host through --rsh
// (`<rsh...> HOST <cohortrun> --remote-agent`), sending it the job on stdin. The agents' exit
// reports drive the same failure handling as local ranks: the first failure sets the abort key,
// grace, then "signal 15" and "signal 9" to every agent.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "launcher/job.h"
#include "launcher/job_runner.h"
#include "launcher/spawn.h"
#include "runtime/store/auth.h"

namespace cohort::launcher {
namespace {

using std::chrono::milliseconds;

// How long an rsh command gets to take the job on its stdin.
constexpr milliseconds kJobWriteTimeout{30'000};
// How long an agent gets to start its host's ranks, remote shell log-in included.
constexpr milliseconds kAgentStartTimeout{60'000};

// "exited with status 255" or "was killed by signal 9 (SIGKILL)".
std::string HowItEnded(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
           SignalName(WTERMSIG(wait_status)) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

std::string RankRange(const HostPlacement& p) {
  if (p.count == 1) return "rank " + std::to_string(p.first_rank);
  return "ranks " + std::to_string(p.first_rank) + "-" + std::to_string(p.first_rank + p.count - 1);
}

// Writes all of `data` to the non-blocking `fd` within `deadline`. A reader that is already gone
// (EPIPE: the rsh failed at once) is not an error here: its exit status tells the user more.
Status WriteJob(int fd, const std::string& data, Deadline deadline, const std::string& host) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return Status::Ok();
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, deadline.remaining_ms()) == 0) {
      return UnavailableError("host " + host + ": the remote shell did not take the job on its "
                              "stdin within 30 s; is the host reachable with --rsh?");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> JobRunner::StoreBindHost() const {
  if (!options_.store_addr.empty()) {
    if (options_.store_addr.find(':') == std::string::npos) return options_.store_addr;
    COHORT_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(options_.store_addr));
    return hp.host;
  }
  // The interface the ranks use also carries the store; else the first non-loopback address
  // (127.0.0.1 would be this host only).
  Result<std::string> host = ChooseLocalAddress(options_.network_interface);
  if (!host.ok()) return host.status().WithContext("--network-interface: ");
  return host;
}

std::string JobRunner::RshCommand(const std::string& host, const std::string& agent_path) const {
  std::string cmd;
  for (const std::string& w : options_.rsh) cmd += w + " ";
  return cmd + host + " " + agent_path + " --remote-agent";
}

Status JobRunner::PlaceOnHosts() {
  std::vector<HostSlots> hosts;
  if (!options_.hostfile.empty()) {
    COHORT_ASSIGN_OR_RETURN(hosts, ReadHostfile(options_.hostfile));
  } else {
    COHORT_ASSIGN_OR_RETURN(hosts, ParseHostList(options_.host_list));
  }
  COHORT_ASSIGN_OR_RETURN(placement_, PlaceRanks(hosts, options_.np, options_.oversubscribe));
  return Status::Ok();
}

Status JobRunner::StartHosts(const EnvMap& exported) {
  int world = 0;
  for (const HostPlacement& p : placement_) world += p.count;

  COHORT_ASSIGN_OR_RETURN(std::string secret, GenerateSecret());
  COHORT_ASSIGN_OR_RETURN(job_id_, NewJobId());
  TcpStoreServer::Options store_options;
  COHORT_ASSIGN_OR_RETURN(store_options.bind_host, StoreBindHost());
  store_options.port = 0;
  if (options_.store_addr.find(':') != std::string::npos) {
    COHORT_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(options_.store_addr));
    store_options.port = hp.port;
  }
  store_options.secret = secret;
  Result<std::unique_ptr<TcpStoreServer>> store = TcpStoreServer::Start(store_options);
  if (!store.ok()) {
    return store.status().WithContext("the store cannot listen on " + store_options.bind_host +
                                      " (--store-addr, --network-interface): ");
  }
  store_ = std::move(*store);
  const std::string store_addr =
      HostPort{store_options.bind_host, static_cast<uint16_t>(store_->port())}.ToString();
  if (options_.timeout) job_deadline_ = Clock::now() + *options_.timeout;

  Result<std::string> rsh_path = ResolveProgram(options_.rsh[0], exported);
  if (!rsh_path.ok()) return InvalidArgumentError("--rsh: " + rsh_path.status().message());
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return ErrnoStatus("readlink /proc/self/exe", errno);
  agent_path_.assign(self, static_cast<size_t>(n));

  // What the ranks get from here: every COHORT_* setting and every -x; the rest of their
  // environment is the remote host's own (PATH, HOME), as with mpirun.
  AgentJob job;
  job.world_size = world;
  job.tag_output = options_.tag_output;
  job.store_addr = store_addr;
  job.job_id = job_id_;
  job.secret = secret;
  job.command = options_.command;
  EnvMap forwarded;
  for (const auto& [name, value] : exported) {
    if (name.compare(0, 7, "COHORT_") == 0) forwarded[name] = value;
  }
  for (const std::string& x : options_.exports) {
    const std::string name = x.substr(0, x.find('='));
    forwarded[name] = exported.at(name);
  }
  if (!options_.network_interface.empty()) {
    forwarded["COHORT_SOCKET_IFNAME"] = options_.network_interface;
  }
  if (options_.elastic) forwarded["COHORT_ELASTIC"] = "1";
  job.env.assign(forwarded.begin(), forwarded.end());
  for (const HostPlacement& p : placement_) {
    job.node_rank = p.node_rank;
    job.first_rank = p.first_rank;
    job.count = p.count;
    COHORT_RETURN_IF_ERROR(SpawnAgent(p, *rsh_path, agent_path_, job));
  }
  agents_start_by_ = Clock::now() + kAgentStartTimeout;
  return Status::Ok();
}

Status JobRunner::SpawnAgent(const HostPlacement& placement, const std::string& rsh_path,
                             const std::string& agent_path, const AgentJob& job) {
  std::vector<std::string> argv = options_.rsh;
  argv.insert(argv.end(), {placement.host, agent_path, "--remote-agent"});
  Result<SpawnedRank> spawned = SpawnRank(rsh_path, argv, ProcessEnvironment(), true);
  if (!spawned.ok()) return InvalidArgumentError("--rsh: " + spawned.status().message());
  Rank& r = ranks_.emplace_back();
  r.rank = placement.first_rank;
  r.pid = spawned->pid;
  r.alive = true;
  r.out = std::move(spawned->stdout_fd);
  r.err = std::move(spawned->stderr_fd);
  r.in = std::move(spawned->stdin_fd);
  r.placement = placement;
  // The agent prefixes its ranks' lines; lines without a prefix come from the remote shell
  // itself (ssh's errors) and get the host's name.
  const size_t index = ranks_.size() - 1;
  r.out_forwarder = std::make_unique<OutputForwarder>("", STDOUT_FILENO);
  r.out_forwarder->SetLineFilter(
      [this, index](const std::string& line) { return OnAgentLine(ranks_[index], line); });
  r.err_forwarder = std::make_unique<OutputForwarder>("", STDERR_FILENO);
  const std::string host_prefix = "[" + placement.host + "] ";
  r.err_forwarder->SetLineFilter([host_prefix](const std::string& line) {
    if (!line.empty() && line[0] == '[') return false;
    const std::string text = host_prefix + line + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
    (void)ignored;
    return true;
  });
  return WriteJob(r.in.get(), EncodeAgentJob(job),
                  Deadline::After(kJobWriteTimeout), placement.host);
}

bool JobRunner::OnAgentLine(Rank& agent, const std::string& line) {
  AgentEvent event;
  if (!ParseAgentLine(line, &event)) return false;
  const std::string& host = agent.placement->host;
  switch (event.kind) {
    case AgentEvent::kStarted:
      agent.agent_started = true;
      break;
    case AgentEvent::kError:
      agent.agent_error = event.message;
      break;
    case AgentEvent::kExit:
      agent.remote_ended.push_back(event.rank);
      if (Failed(event.wait_status) && !stopping_) {
        std::string what =
            DescribeExit(event.rank, event.pid, event.wait_status) + " on host " + host;
        if (GoOnWithout({event.rank}, what)) break;
        Stop(ExitCodeFor(event.wait_status), what, Clock::now() + options_.grace);
        final_message_ = what + "; stopped the ranks on every host";
      }
      break;
  }
  return true;
}

void JobRunner::AgentExited(Rank& agent, int wait_status) {
  agent.in.reset();
  // Control lines still in the pipe are read before the exit is judged.
  if (agent.out.valid()) Drain(agent, false);
  if (stopping_) return;
  const HostPlacement& p = *agent.placement;
  std::string what;
  int code = 1;
  if (!agent.agent_error.empty()) {
    what = "host " + p.host + ": " + agent.agent_error;
    if (ExitCodeFor(wait_status) == 127) code = 127;
  } else if (!agent.agent_started) {
    what = "could not start " + RankRange(p) + " on host " + p.host + ": '" +
           RshCommand(p.host, agent_path_) + "' " + HowItEnded(wait_status) +
           "; check that the host is reachable with --rsh and that cohortrun is installed at " +
           agent_path_ + " there";
    code = ExitCodeFor(wait_status) != 0 ? ExitCodeFor(wait_status) : 1;
  } else if (agent.remote_live() > 0) {
    what = "the agent of host " + p.host + " (" + RankRange(p) + ") " + HowItEnded(wait_status) +
           " before its ranks had finished";
    // --elastic: the host is lost with the ranks it had not reported ended.
    std::vector<int> lost;
    const std::vector<int>& ended = agent.remote_ended;
    for (int r = p.first_rank; r < p.first_rank + p.count; ++r) {
      if (std::find(ended.begin(), ended.end(), r) == ended.end()) lost.push_back(r);
    }
    if (GoOnWithout(lost, what)) return;
  } else if (Failed(wait_status)) {
    // Every rank of the host was reported ended, and a failed one already stopped the job,
    // unless --elastic let the others go on.
    if (options_.elastic) return;
    what = "the agent of host " + p.host + " (" + RankRange(p) + ") " + HowItEnded(wait_status);
  } else {
    return;  // every rank of this host exited 0
  }
  Stop(code, "cohortrun: " + what, Clock::now());
  final_message_ = what + "; stopped the ranks on every host";
}

void JobRunner::CheckAgentsStarted(Clock::time_point now) {
  agents_start_by_.reset();
  if (stopping_) return;
  for (const Rank& r : ranks_) {
    if (!r.alive || r.agent_started) continue;
    const std::string what = "host " + r.placement->host + " did not start " +
                             RankRange(*r.placement) + " within " +
                             FormatDuration(kAgentStartTimeout) + " through '" +
                             RshCommand(r.placement->host, agent_path_) +
                             "'; is the host reachable, and does the remote shell log in "
                             "without a prompt?";
    Stop(1, "cohortrun: " + what, now);
    final_message_ = what + "; stopped the ranks on every host";
    return;
  }
}

void JobRunner::SignalAgents(int sig) {
  const std::string line = "signal " + std::to_string(sig) + "\n";
  for (Rank& r : ranks_) {
    if (!r.alive) continue;
    if (r.in.valid()) {
      // Best effort: a full pipe means the agent is not reading, and the SIGKILL stage ends it.
      ssize_t ignored = ::write(r.in.get(), line.data(), line.size());
      (void)ignored;
    }
    // An agent that never started is only a remote shell (logging in, or hung): signal it here.
    if (!r.agent_started) ::kill(-r.pid, sig);
    if (sig == SIGKILL) {
      // EOF makes the agent kill whatever is left; the rsh process itself follows shortly.
      r.in.reset();
      rsh_kill_at_ = Clock::now() + milliseconds(kTermToKillMs);
    }
  }
}

}  // namespace cohort::launcher
