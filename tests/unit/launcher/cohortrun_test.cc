// Process-level tests: the real cohortrun binary running /bin/sh scripts as ranks. Each test is
// bounded to a few seconds (short --grace and --timeout values).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/unit/launcher/cohortrun_runner.h"

using cohort::testing::Has;
using cohort::testing::Outcome;
using cohort::testing::Quote;
using cohort::testing::ReadFile;
using cohort::testing::RunCohortrun;

namespace {

TEST(Cohortrun, AllRanksSucceedWithPrefixedOutputAndEnvironment) {
  Outcome o = RunCohortrun("-np 3",
                  "echo rank=$COHORT_RANK size=$COHORT_WORLD_SIZE local=$COHORT_LOCAL_RANK/"
                  "$COHORT_LOCAL_SIZE node=$COHORT_NODE_RANK store=$COHORT_STORE_ADDR; "
                  "echo to-stderr >&2; printf no-newline");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  for (int r = 0; r < 3; ++r) {
    std::string p = "[" + std::to_string(r) + "] ";
    std::string rs = std::to_string(r);
    EXPECT_TRUE(Has(o.out, p + "rank=" + rs + " size=3 local=" + rs + "/3 node=0 store=127.0.0.1:"))
        << o.out;
    EXPECT_TRUE(Has(o.out, p + "no-newline\n")) << o.out;
    EXPECT_TRUE(Has(o.err, p + "to-stderr\n")) << o.err;
    EXPECT_FALSE(Has(o.out, p + "to-stderr")) << o.out;
  }
}

TEST(Cohortrun, TagOutputAndExports) {
  setenv("COHORTRUN_TEST_COPIED", "copied-value", 1);
  Outcome o = RunCohortrun("-np 2 --tag-output -x FOO=bar -x COHORTRUN_TEST_COPIED",
                  "echo $FOO $COHORTRUN_TEST_COPIED; echo e >&2");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(Has(o.out, "[1,0]<stdout>:bar copied-value\n")) << o.out;
  EXPECT_TRUE(Has(o.out, "[1,1]<stdout>:bar copied-value\n")) << o.out;
  EXPECT_TRUE(Has(o.err, "[1,1]<stderr>:e\n")) << o.err;
  o = RunCohortrun("-np 1 -x COHORTRUN_TEST_NEVER_SET", "true");
  EXPECT_NE(o.exit_code, 0);
  EXPECT_TRUE(Has(o.err, "COHORTRUN_TEST_NEVER_SET is not set")) << o.err;
}

TEST(Cohortrun, SecretIsInTheEnvironmentButNotInArgv) {
  Outcome o = RunCohortrun("-np 2",
                  "[ ${#COHORT_JOB_SECRET} -ge 32 ] && echo have-secret; "
                  "[ -n \"$COHORT_JOB_ID\" ] && echo have-job-id; "
                  "if grep -q \"$COHORT_JOB_SECRET\" /proc/$$/cmdline /proc/$PPID/cmdline; "
                  "then echo LEAK; else echo argv-clean; fi");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(Has(o.out, "[0] have-secret")) << o.out;
  EXPECT_TRUE(Has(o.out, "[1] have-job-id")) << o.out;
  EXPECT_TRUE(Has(o.out, "[1] argv-clean")) << o.out;
  EXPECT_FALSE(Has(o.out, "LEAK")) << o.out;
}

TEST(Cohortrun, FailingRankStopsTheOthers) {
  Outcome o = RunCohortrun("-np 3 --grace 1",
                  "if [ $COHORT_RANK = 2 ]; then exit 3; fi; exec sleep 30");
  EXPECT_EQ(o.exit_code, 3) << o.err;
  EXPECT_TRUE(Has(o.err, "cohortrun: rank 2 (pid ")) << o.err;
  EXPECT_TRUE(Has(o.err, ") exited with status 3; stopped the other ranks")) << o.err;
  EXPECT_LT(o.seconds, 5.0);  // grace 1 s, then SIGTERM stops the sleepers
}

TEST(Cohortrun, KilledRankIsNamedWithItsSignal) {
  Outcome o = RunCohortrun("-np 2 --grace 1",
                  "if [ $COHORT_RANK = 1 ]; then kill -9 $$; fi; exec sleep 30");
  EXPECT_EQ(o.exit_code, 128 + 9) << o.err;
  EXPECT_TRUE(Has(o.err, "cohortrun: rank 1 (pid ")) << o.err;
  EXPECT_TRUE(Has(o.err, "was killed by signal 9 (SIGKILL); stopped the other ranks")) << o.err;
  EXPECT_LT(o.seconds, 5.0);
}

TEST(Cohortrun, RanksIgnoringSigtermAreKilled) {
  Outcome o = RunCohortrun("-np 2 --grace 0",
                  "trap '' TERM; if [ $COHORT_RANK = 0 ]; then sleep 0.3; exit 1; fi; sleep 30");
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_GT(o.seconds, 3.0);  // SIGTERM was ignored...
  EXPECT_LT(o.seconds, 8.0);  // ...so SIGKILL came 3 s later
}

TEST(Cohortrun, TimeoutStopsTheJob) {
  Outcome o = RunCohortrun("-np 2 --timeout 1", "exec sleep 30");
  EXPECT_EQ(o.exit_code, 124) << o.err;
  EXPECT_TRUE(Has(o.err, "cohortrun: job exceeded --timeout 1s; stopping all ranks")) << o.err;
  EXPECT_LT(o.seconds, 5.0);
}

TEST(Cohortrun, MissingProgramIsAClearError) {
  Outcome o = RunCohortrun("-np 2 cohort-no-such-program-xyz", "");
  EXPECT_EQ(o.exit_code, 127);
  EXPECT_TRUE(Has(o.err, "cannot start 'cohort-no-such-program-xyz': No such file or directory"))
      << o.err;
}

TEST(Cohortrun, BadOptionsAndPrintConfig) {
  Outcome o = RunCohortrun("-np x", "true");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_TRUE(Has(o.err, "-np must be a positive integer, got 'x'")) << o.err;
  setenv("COHORT_JOB_SECRET", "do-not-print-me", 1);
  o = RunCohortrun("--print-config -x COHORT_TIMEOUT=42s", "");
  unsetenv("COHORT_JOB_SECRET");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_TRUE(Has(o.out, "COHORT_TIMEOUT")) << o.out;
  EXPECT_TRUE(Has(o.out, "42s")) << o.out;
  EXPECT_FALSE(Has(o.out, "do-not-print-me")) << o.out;
}

}  // namespace

namespace {

// SIGTERM (or SIGINT) sent to cohortrun reaches every rank, and cohortrun exits non-zero after
// the ranks stop. The ranks trap the signal and say so before exiting.
void ExpectSignalForwarded(const char* signal_name) {
  std::string base = ::testing::TempDir() + "cohortrun_signal_" + std::to_string(getpid());
  std::string rank_script = std::string("trap 'echo got-") + signal_name +
                            "-$COHORT_RANK; exit 7' " + signal_name +
                            "; echo ready-$COHORT_RANK; i=0; while [ $i -lt 200 ]; do "
                            "sleep 0.05; i=$((i+1)); done";
  std::string cmd = std::string(COHORTRUN_PATH) + " -np 2 --grace 5 sh -c " + Quote(rank_script) +
                    " >" + base + ".out 2>" + base + ".err & pid=$!; " +
                    "for i in $(seq 100); do [ \"$(cat " + base +
                    ".out 2>/dev/null | grep -c ready)\" -ge 2 ] && break; sleep 0.05; done; " +
                    "kill -" + signal_name + " $pid; wait $pid; echo \"exit=$?\" >>" + base + ".out";
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string out = ReadFile(base + ".out"), err = ReadFile(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  EXPECT_TRUE(Has(out, std::string("[0] got-") + signal_name + "-0")) << out << err;
  EXPECT_TRUE(Has(out, std::string("[1] got-") + signal_name + "-1")) << out << err;
  EXPECT_FALSE(Has(out, "exit=0")) << out << err;
  EXPECT_LT(seconds, 8.0) << "the ranks loop for 10 s unless the signal reached them";
}

}  // namespace

TEST(Cohortrun, ForwardsSigtermToEveryRank) { ExpectSignalForwarded("TERM"); }
TEST(Cohortrun, ForwardsSigintToEveryRank) { ExpectSignalForwarded("INT"); }
