// Multi-host cohortrun without root: every "host" is this machine, reached through a fake
// remote shell that drops the host name and runs the command (`fake-rsh HOST CMD...`), so the
// agent protocol, placement, output, failures and errors are tested wherever the unit tests
// run. The network-namespace test (tests/netns) does the same across real network stacks.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "tests/unit/launcher/cohortrun_runner.h"

using cohort::testing::Has;
using cohort::testing::Outcome;
using cohort::testing::RunCohortrun;

namespace {

// Writes the fake remote shell once; returns its path.
std::string FakeRsh() {
  static const std::string path = [] {
    std::string p = ::testing::TempDir() + "cohort_fake_rsh_" + std::to_string(getpid());
    std::ofstream(p) << "#!/bin/sh\n# fake remote shell: HOST CMD... runs CMD here\n"
                        "shift\nexec \"$@\"\n";
    ::chmod(p.c_str(), 0755);
    return p;
  }();
  return path;
}

std::string Hosts(const std::string& list) {
  return "-H " + list + " --rsh " + FakeRsh() + " --store-addr 127.0.0.1 --grace 1 --timeout 30";
}

// A remote shell whose command outlives it, as with ssh: the agent is not cohortrun's
// descendant once the shell is gone, so only EOF on its stdin tells it to stop.
std::string DetachedRsh() {
  static const std::string path = [] {
    std::string p = ::testing::TempDir() + "cohort_detached_rsh_" + std::to_string(getpid());
    // A background command's stdin would be /dev/null: hand it ours through fd 3.
    std::ofstream(p) << "#!/bin/sh\nshift\nexec 3<&0\nsetsid \"$@\" <&3 3<&- &\nwait\n";
    ::chmod(p.c_str(), 0755);
    return p;
  }();
  return path;
}

TEST(CohortrunHosts, RanksGetTheirIdentityOnEveryHost) {
  Outcome o = RunCohortrun(Hosts("hostA:2,hostB:1"),
                           "echo rank=$COHORT_RANK/$COHORT_WORLD_SIZE local=$COHORT_LOCAL_RANK/"
                           "$COHORT_LOCAL_SIZE node=$COHORT_NODE_RANK store=$COHORT_STORE_ADDR; "
                           "echo err-$COHORT_RANK >&2");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(Has(o.out, "[0] rank=0/3 local=0/2 node=0 store=127.0.0.1:")) << o.out;
  EXPECT_TRUE(Has(o.out, "[1] rank=1/3 local=1/2 node=0 store=127.0.0.1:")) << o.out;
  EXPECT_TRUE(Has(o.out, "[2] rank=2/3 local=0/1 node=1 store=127.0.0.1:")) << o.out;
  EXPECT_TRUE(Has(o.err, "[2] err-2\n")) << o.err;
  EXPECT_FALSE(Has(o.out, "@@cohort-agent")) << o.out;  // control lines are not output
}

TEST(CohortrunHosts, HostfileAndInterfaceReachTheRanks) {
  std::string file = ::testing::TempDir() + "cohort_hostfile_" + std::to_string(getpid());
  std::ofstream(file) << "# two hosts\nhostA slots=1\n\nhostB:1\n";
  Outcome o = RunCohortrun("--hostfile " + file + " --rsh " + FakeRsh() +
                               " --network-interface lo --timeout 30 -x EXTRA=1",
                           "echo if=$COHORT_SOCKET_IFNAME extra=$EXTRA store=$COHORT_STORE_ADDR");
  std::remove(file.c_str());
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(Has(o.out, "[1] if=lo extra=1 store=127.0.0.1:")) << o.out;
}

TEST(CohortrunHosts, SecretReachesRanksButNoArgv) {
  // The agent's argv and the rank's own must not hold the secret.
  Outcome o = RunCohortrun(Hosts("hostA:1,hostB:1"),
                           "[ ${#COHORT_JOB_SECRET} -ge 32 ] && echo have-secret; "
                           "if grep -q \"$COHORT_JOB_SECRET\" /proc/$$/cmdline "
                           "/proc/$PPID/cmdline; "
                           "then echo LEAK; else echo argv-clean; fi");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(Has(o.out, "[1] have-secret")) << o.out;
  EXPECT_TRUE(Has(o.out, "[1] argv-clean")) << o.out;
  EXPECT_FALSE(Has(o.out, "LEAK")) << o.out;
}

TEST(CohortrunHosts, FailingRankOnOneHostStopsEveryHost) {
  Outcome o = RunCohortrun(Hosts("hostA:1,hostB:2"),
                           "if [ $COHORT_RANK = 2 ]; then exit 5; fi; exec sleep 30");
  EXPECT_EQ(o.exit_code, 5) << o.err;
  EXPECT_TRUE(Has(o.err, "rank 2 (pid ")) << o.err;
  EXPECT_TRUE(Has(o.err, "exited with status 5 on host hostB; stopped the ranks on every host"))
      << o.err;
  EXPECT_LT(o.seconds, 8.0);  // grace 1 s, then SIGTERM through every agent
}

TEST(CohortrunHosts, MoreRanksThanSlots) {
  Outcome o = RunCohortrun("-np 3 " + Hosts("hostA:1,hostB:1"), "true");
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_TRUE(Has(o.err, "-np 3 ranks but the hosts have only 2 slots")) << o.err;
  EXPECT_TRUE(Has(o.err, "--oversubscribe")) << o.err;
  o = RunCohortrun("-np 3 --oversubscribe " + Hosts("hostA:1,hostB:1"), "echo r$COHORT_RANK");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(Has(o.out, "[2] r2")) << o.out;
}

TEST(CohortrunHosts, UnreachableHostIsAClearError) {
  // `false` as the remote shell: it "cannot reach" any host.
  Outcome o = RunCohortrun("-H nowhere:1 --rsh false --store-addr 127.0.0.1 --timeout 30", "true");
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_TRUE(Has(o.err, "could not start rank 0 on host nowhere: 'false nowhere ")) << o.err;
  EXPECT_TRUE(Has(o.err, "exited with status 1")) << o.err;
  EXPECT_LT(o.seconds, 5.0);
}

TEST(CohortrunHosts, ProgramMissingOnAHost) {
  Outcome o = RunCohortrun(Hosts("hostA:1,hostB:1") + " cohort-no-such-program-xyz", "");
  EXPECT_EQ(o.exit_code, 127) << o.err;
  EXPECT_TRUE(Has(o.err, "host hostA: cannot start 'cohort-no-such-program-xyz'") ||
              Has(o.err, "host hostB: cannot start 'cohort-no-such-program-xyz'"))
      << o.err;
}

TEST(CohortrunHosts, KilledLauncherLeavesNoRankBehind) {
  std::string pids = ::testing::TempDir() + "cohort_rank_pids_" + std::to_string(getpid());
  std::remove(pids.c_str());
  // cohortrun is SIGKILLed once all 3 ranks have written their pids; then none may be alive.
  std::string script =
      std::string(COHORTRUN_PATH) + " -H a:2,b:1 --rsh " + DetachedRsh() +
      " --store-addr 127.0.0.1 --timeout 60 sh -c 'echo $$ >>" + pids + "; exec sleep 60' "
      ">/dev/null 2>&1 & pid=$!; for i in $(seq 100); do "
      "[ \"$(wc -l <" + pids + " 2>/dev/null)\" = 3 ] && break; sleep 0.05; done; "
      "kill -9 $pid; sleep 4; alive=0; for p in $(cat " + pids + "); do "
      "kill -0 $p 2>/dev/null && alive=$((alive+1)); done; "
      "[ \"$(wc -l <" + pids + ")\" = 3 ] && [ $alive = 0 ]";
  EXPECT_EQ(std::system(script.c_str()), 0) << "ranks outlived a SIGKILLed cohortrun";
  std::remove(pids.c_str());
}

}  // namespace
