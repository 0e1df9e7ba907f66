// JobRunner: the supervision loop behind RunJob (job.h) and RunRemoteAgent (remote_agent.h).
// Internal to the launcher. One class serves three roles so that the loop (poll on pipes and a
// signal self-pipe, deadlines for --timeout, grace, SIGTERM and SIGKILL) exists once:
//   local job     job.cc          ranks are children of cohortrun
//   multi-host    job_remote.cc   each host's ranks are children of an agent started via --rsh;
//                                 cohortrun's children are the rsh processes
//   remote agent  job_agent.cc    the agent: ranks are its children; it reports their exits on
//                                 stdout and obeys "signal N" / EOF on stdin
// Single-threaded apart from the store server's own thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "launcher/agent_protocol.h"
#include "launcher/hosts.h"
#include "launcher/options.h"
#include "launcher/output_forwarder.h"
#include "runtime/base/deadline.h"
#include "runtime/config/env.h"
#include "runtime/net/socket.h"
#include "runtime/store/tcp_store.h"

namespace cohort::launcher {

void Say(const std::string& line);
std::string FormatDuration(std::chrono::milliseconds d);
// "cohort-" and 16 random hex digits: names the job's shm segments and store keys.
Result<std::string> NewJobId();

// One child process: a rank, a dedicated parameter server, or a host's rsh/agent process.
struct Rank {
  int rank = 0;
  int server = -1;  // a dedicated parameter server (--servers): its index; -1 for ranks
  pid_t pid = -1;
  bool alive = false;
  UniqueFd out, err;
  std::unique_ptr<OutputForwarder> out_forwarder, err_forwarder;

  // Multi-host only: this child is the rsh process that runs `placement`'s agent.
  std::optional<HostPlacement> placement;
  UniqueFd in;                 // the agent's stdin: the job, then "signal N" lines
  bool agent_started = false;  // the agent said it started every rank
  std::vector<int> remote_ended;  // its ranks reported as exited
  // Its ranks not yet reported as exited.
  int remote_live() const { return placement->count - static_cast<int>(remote_ended.size()); }
  std::string agent_error;     // what the agent said went wrong, if anything
};

class JobRunner {
 public:
  enum class Role { kLocal, kMultiHost, kAgent };
  JobRunner(const LaunchOptions& options, Role role)
      : options_(options), role_(role), tag_output_(options.tag_output) {}
  int Run(const EnvMap& env);

 private:
  Status InstallSignals();
  Status Start(const EnvMap& env, const std::string& path);
  Status Spawn(int rank, int server, const std::string& path, const std::vector<std::string>& argv,
               const EnvMap& env);
  Result<std::string> ServerProgram() const;
  // Once every rank exited 0, dedicated servers get --grace to finish, then SIGTERM.
  void StopIdleServers(Clock::time_point now);
  void Loop();
  void Drain(Rank& r, bool is_stderr);
  void HandleSignals();
  void Reap();
  // The failure a rank published in the store (its first line), or "" when none did.
  std::string ReportedFailure() const;
  void Stop(int exit_code, const std::string& abort_message,
            std::optional<Clock::time_point> term_at);
  void SignalLive(int sig);
  bool PipesOpen() const;
  size_t LiveCount() const;
  // Ranks still running: children here, or ranks the hosts' agents have not reported ended.
  size_t RanksRunning() const;
  // --elastic: when ranks are still running, publishes `lost` as dead (the survivors' shrink()
  // reads it), says `what` and returns true: the job goes on. Otherwise false.
  bool GoOnWithout(const std::vector<int>& lost, const std::string& what);

  // Multi-host (job_remote.cc).
  Status PlaceOnHosts();  // fills placement_ from -H or --hostfile
  Status StartHosts(const EnvMap& exported);
  Result<std::string> StoreBindHost() const;
  Status SpawnAgent(const HostPlacement& placement, const std::string& rsh_path,
                    const std::string& agent_path, const AgentJob& job);
  bool OnAgentLine(Rank& agent, const std::string& line);
  void AgentExited(Rank& agent, int wait_status);
  void SignalAgents(int sig);
  void CheckAgentsStarted(Clock::time_point now);
  std::string RshCommand(const std::string& host, const std::string& agent_path) const;

  // Remote agent (job_agent.cc).
  Result<std::string> StartAgent();
  void ReadControl();
  void AgentRankExited(const Rank& r, int wait_status);
  void Emit(const std::string& line);

  const LaunchOptions& options_;
  const Role role_;
  bool tag_output_;  // the agent takes the launcher's, from its job
  std::string job_id_;
  std::unique_ptr<TcpStoreServer> store_;
  std::vector<Rank> ranks_;
  UniqueFd signal_read_, signal_write_;

  bool interrupted_ = false;
  bool stopping_ = false;                  // a failure, timeout or interrupt is ending the job
  int exit_code_ = 0;
  std::string final_message_;               // printed last, after every rank's output
  std::optional<Clock::time_point> job_deadline_, term_at_, kill_at_, drain_until_;
  std::optional<Clock::time_point> servers_until_;  // see StopIdleServers
  bool servers_stopped_ = false;                     // we terminated them: not a failure
  // Multi-host: when rsh processes that outlive "signal 9" to their agent get SIGKILL here.
  std::optional<Clock::time_point> rsh_kill_at_;
  // Multi-host: by when every agent must have said "started" (a remote shell that hangs, e.g.
  // ssh to a host that drops packets, must not hang the job).
  std::optional<Clock::time_point> agents_start_by_;
  std::vector<HostPlacement> placement_;
  std::string agent_path_;                           // cohortrun's own path, for the rsh command

  // Agent: its stdin (the control channel) and the exit code it will return.
  UniqueFd control_;
  std::string control_buffer_;
  int agent_exit_code_ = 0;
};

}  // namespace cohort::launcher
