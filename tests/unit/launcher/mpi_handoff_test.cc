// cohortrun --mpi: the mpirun command line made from cohortrun's options, and the options that
// do not apply when mpirun starts the ranks.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "launcher/mpi_handoff.h"

namespace cohort::launcher {
namespace {

LaunchOptions Parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"cohortrun"};
  argv.insert(argv.end(), args.begin(), args.end());
  Result<LaunchOptions> r = ParseLaunchOptions(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : LaunchOptions{};
}

std::string Joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

TEST(MpiHandoff, TranslatesOptionsAndPassesCohortVariablesByName) {
  LaunchOptions options = Parse({"--mpi", "-np", "4", "--oversubscribe", "--tag-output",
                                 "--timeout", "1500ms", "-x", "PYTHONPATH=/p", "python3",
                                 "train.py", "--steps", "3"});
  EnvMap env = {{"COHORT_JOB_SECRET", "do-not-print"}, {"COHORT_TIMEOUT", "60"}, {"HOME", "/r"}};
  Result<std::vector<std::string>> cmd = MpirunCommand(options, env, /*as_root=*/true);
  ASSERT_TRUE(cmd.ok()) << cmd.status().ToString();
  EXPECT_EQ(Joined(*cmd),
            "mpirun -np 4 --allow-run-as-root --oversubscribe --tag-output --timeout 2 "
            "-x COHORT_JOB_SECRET -x COHORT_TIMEOUT -x PYTHONPATH=/p python3 train.py --steps 3");
  EXPECT_EQ(Joined(*cmd).find("do-not-print"), std::string::npos);
}

TEST(MpiHandoff, HostsRshAndInterface) {
  LaunchOptions options = Parse({"--mpi", "-H", "a:2,b:3", "--rsh", "ssh -p 2222",
                                 "--network-interface", "eth1", "prog"});
  Result<std::vector<std::string>> cmd = MpirunCommand(options, {}, /*as_root=*/false);
  ASSERT_TRUE(cmd.ok()) << cmd.status().ToString();
  EXPECT_EQ(Joined(*cmd), "mpirun -np 5 --host a:2,b:3 --mca plm_rsh_agent ssh -p 2222 "
                          "-x COHORT_SOCKET_IFNAME=eth1 prog");
}

TEST(MpiHandoff, HorovodStyleHostfileBecomesAHostList) {
  char path[] = "/tmp/cohort_hostfile_XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "# two hosts\nnode1:4\nnode2 slots=2\n";
  LaunchOptions options = Parse({"--mpi", "--hostfile", path, "-np", "5", "prog"});
  Result<std::vector<std::string>> cmd = MpirunCommand(options, {}, false);
  std::remove(path);
  ASSERT_TRUE(cmd.ok()) << cmd.status().ToString();
  EXPECT_EQ(Joined(*cmd), "mpirun -np 5 --host node1:4,node2:2 prog");
}

TEST(MpiHandoff, OptionsThatDoNotApplyAreRefused) {
  for (const char* flag : {"--store-addr", "--servers", "--grace"}) {
    std::vector<const char*> argv = {"cohortrun", "--mpi", "-np", "2", flag, "1", "prog"};
    Result<LaunchOptions> r = ParseLaunchOptions(static_cast<int>(argv.size()), argv.data());
    ASSERT_FALSE(r.ok()) << flag;
    EXPECT_NE(r.status().message().find("does not apply with --mpi"), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace cohort::launcher
