// Job: runs one cohortrun launch from start to end. It generates the job id and secret, starts
// the rendezvous store in-process (127.0.0.1, port 0; with -H/--hostfile on an address every
// host reaches), spawns the ranks (on other hosts through --rsh and a remote agent), forwards
// their output and SIGINT/SIGTERM, and supervises them: the first rank to fail is announced to
// the others through the store key "cohort/abort", the rest get --grace to exit, then SIGTERM,
// then SIGKILL. Every child is reaped before RunJob returns, and the job's /dev/shm segments are
// removed.
#pragma once

#include <string>

#include "launcher/options.h"
#include "runtime/config/env.h"

namespace cohort::launcher {

// The store key a failing job's ranks poll to fail fast; its value says which rank failed how.
inline constexpr const char* kAbortKey = "cohort/abort";
// --elastic: kDeadRankKeyPrefix + rank is set for every rank lost (runtime/comm/shrink).
inline constexpr const char* kDeadRankKeyPrefix = "cohort/dead/";
// After SIGTERM, how long ranks get before SIGKILL.
inline constexpr int kTermToKillMs = 3000;

// Runs the job described by `options` in environment `env`; prints progress and the final
// message to stderr and returns cohortrun's exit code: 0 when every rank exited 0, else the
// first failing rank's status (128 + signal when killed), 124 on --timeout, 127 when the
// program cannot be started, 128 + signal when cohortrun itself was interrupted.
int RunJob(const LaunchOptions& options, const EnvMap& env);

// `cohortrun --remote-agent`, run on each host of a multi-host job through --rsh: reads the job
// from stdin (agent_protocol.h), starts this host's ranks, forwards their output, reports their
// exits, and stops them all when its stdin closes. Returns its exit code: 0 when every rank
// exited 0, else the first failure's, 127 when the program cannot be started here.
int RunRemoteAgent(const LaunchOptions& options);

}  // namespace cohort::launcher
