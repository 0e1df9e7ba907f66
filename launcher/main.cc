// cohortrun: the launcher's entry point. Parses the command line, handles --help and
// --print-config, and hands the job to RunJob (job.h), whose return value is the exit code.
#include <cstdio>
#include <iostream>

#include "launcher/job.h"
#include "launcher/mpi_handoff.h"
#include "launcher/options.h"
#include "launcher/spawn.h"
#include "runtime/config/config.h"

int main(int argc, char** argv) {
  using namespace cohort;
  using namespace cohort::launcher;
  Result<LaunchOptions> options = ParseLaunchOptions(argc, argv);
  if (!options.ok()) {
    std::cerr << "cohortrun: " << options.status().message() << "\n";
    return 2;
  }
  if (options->remote_agent) return RunRemoteAgent(*options);
  if (options->help) {
    std::cout << LaunchUsage();
    return 0;
  }
  if (options->print_settings_table) {
    std::cout << SettingsMarkdownTable();
    return 0;
  }
  EnvMap env = ProcessEnvironment();
  if (options->print_config) {
    Result<EnvMap> exported = ApplyExports(env, options->exports);
    if (!exported.ok()) {
      std::cerr << "cohortrun: " << exported.status().message() << "\n";
      return 2;
    }
    std::cout << DescribeConfig(*exported);
    return 0;
  }
  // A bad COHORT_* value would make every rank fail the same way: say so once, up front.
  std::vector<std::string> warnings;
  Result<Config> config = ParseConfig(env, &warnings);
  for (const std::string& w : warnings) std::cerr << "cohortrun: warning: " << w << "\n";
  if (!config.ok()) {
    std::cerr << "cohortrun: " << config.status().message() << "\n";
    return 2;
  }
  std::cout.flush();
  if (options->mpi) return HandOffToMpirun(*options, env);
  return RunJob(*options, env);
}
