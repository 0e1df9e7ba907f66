// Tests of the pure parts of spawning and forwarding: -x exports, the rank environment, program
// lookup, how a rank's end is described, and line forwarding with prefixes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "launcher/output_forwarder.h"
#include "launcher/spawn.h"

namespace cohort::launcher {
namespace {

TEST(Spawn, ApplyExports) {
  EnvMap env = {{"HOME", "/h"}, {"KEEP", "1"}};
  Result<EnvMap> out = ApplyExports(env, {"A=1", "HOME", "B=x=y", "C="});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->at("A"), "1");
  EXPECT_EQ(out->at("HOME"), "/h");
  EXPECT_EQ(out->at("B"), "x=y");
  EXPECT_EQ(out->at("C"), "");
  EXPECT_EQ(out->at("KEEP"), "1");
  Result<EnvMap> bad = ApplyExports(env, {"NOT_SET_ANYWHERE"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("NOT_SET_ANYWHERE is not set"), std::string::npos);
}

TEST(Spawn, RankEnvironmentReplacesForeignIdentity) {
  EnvMap env = {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"RANK", "5"},
                {"PATH", "/bin"}, {"COHORT_RANK", "9"}};
  RankSlot slot{2, 4, 2, 4, 0, "127.0.0.1:1234", "job-1", "sekrit"};
  EnvMap out = RankEnvironment(env, slot);
  EXPECT_EQ(out.at("COHORT_RANK"), "2");
  EXPECT_EQ(out.at("COHORT_WORLD_SIZE"), "4");
  EXPECT_EQ(out.at("COHORT_LOCAL_RANK"), "2");
  EXPECT_EQ(out.at("COHORT_LOCAL_SIZE"), "4");
  EXPECT_EQ(out.at("COHORT_NODE_RANK"), "0");
  EXPECT_EQ(out.at("COHORT_STORE_ADDR"), "127.0.0.1:1234");
  EXPECT_EQ(out.at("COHORT_JOB_ID"), "job-1");
  EXPECT_EQ(out.at("COHORT_JOB_SECRET"), "sekrit");
  EXPECT_EQ(out.count("SLURM_PROCID"), 0u);
  EXPECT_EQ(out.count("RANK"), 0u);
  EXPECT_EQ(out.at("SLURM_NTASKS"), "1");  // not an identity on its own
  EXPECT_EQ(out.at("PATH"), "/bin");
}

TEST(Spawn, ResolveProgram) {
  EXPECT_EQ(ResolveProgram("sh", {{"PATH", "/nonexistent:/bin:/usr/bin"}}).value(), "/bin/sh");
  EXPECT_EQ(ResolveProgram("/bin/sh", {}).value(), "/bin/sh");
  Result<std::string> missing = ResolveProgram("no-such-program-xyz", {{"PATH", "/bin"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "cannot start 'no-such-program-xyz': No such file or directory");
  EXPECT_FALSE(ResolveProgram("./no/such/file", {}).ok());
}

TEST(Spawn, SpawnReportsExecFailure) {
  // A directory passes the lookup (it exists) but execve refuses it.
  Result<SpawnedRank> r = SpawnRank("/tmp", {"/tmp"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot start '/tmp': Permission denied");
}

TEST(Spawn, DescribeExit) {
  EXPECT_EQ(DescribeExit(3, 1234, SIGKILL), "rank 3 (pid 1234) was killed by signal 9 (SIGKILL)");
  EXPECT_EQ(DescribeExit(2, 99, 3 << 8), "rank 2 (pid 99) exited with status 3");
  EXPECT_EQ(ExitCodeFor(3 << 8), 3);
  EXPECT_EQ(ExitCodeFor(SIGKILL), 137);
  EXPECT_FALSE(Failed(0));
  EXPECT_TRUE(Failed(SIGTERM));
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV");
}

std::string Forward(const std::string& prefix, std::initializer_list<std::string> pieces,
                    bool flush) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  {
    OutputForwarder f(prefix, fds[1]);
    for (const std::string& p : pieces) f.Feed(p.data(), p.size());
    if (flush) f.Flush();
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

TEST(OutputForwarder, PrefixesWholeLines) {
  EXPECT_EQ(Forward("[1] ", {"a\nb", "c\n\nd"}, false), "[1] a\n[1] bc\n[1] \n");
  EXPECT_EQ(Forward("[1] ", {"a\nb", "c\n\nd"}, true), "[1] a\n[1] bc\n[1] \n[1] d\n");
  EXPECT_EQ(Forward("[0] ", {}, true), "");
  EXPECT_EQ(OutputForwarder::Prefix(3, false, false), "[3] ");
  EXPECT_EQ(OutputForwarder::Prefix(3, false, true), "[1,3]<stdout>:");
  EXPECT_EQ(OutputForwarder::Prefix(0, true, true), "[1,0]<stderr>:");
}

}  // namespace
}  // namespace cohort::launcher
