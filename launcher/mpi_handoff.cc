#include "launcher/mpi_handoff.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "launcher/hosts.h"

namespace cohort::launcher {

Result<std::vector<std::string>> MpirunCommand(const LaunchOptions& options, const EnvMap& env,
                                               bool as_root) {
  std::vector<std::string> cmd = {"mpirun"};
  if (options.multi_host()) {
    std::vector<HostSlots> hosts;
    if (!options.host_list.empty()) {
      COHORT_ASSIGN_OR_RETURN(hosts, ParseHostList(options.host_list));
    } else {
      COHORT_ASSIGN_OR_RETURN(hosts, ReadHostfile(options.hostfile));
    }
    std::string list;
    int slots = 0;
    for (const HostSlots& h : hosts) {
      list += (list.empty() ? "" : ",") + h.host + ":" + std::to_string(h.slots);
      slots += h.slots;
    }
    cmd.insert(cmd.end(), {"-np", std::to_string(options.np > 0 ? options.np : slots),
                           "--host", list});
  } else {
    cmd.insert(cmd.end(), {"-np", std::to_string(options.np)});
  }
  if (as_root) cmd.push_back("--allow-run-as-root");
  if (options.oversubscribe) cmd.push_back("--oversubscribe");
  if (options.tag_output) cmd.push_back("--tag-output");
  if (options.timeout) {
    // mpirun's --timeout takes whole seconds.
    const long long ms = options.timeout->count();
    cmd.insert(cmd.end(), {"--timeout", std::to_string(std::max(1LL, (ms + 999) / 1000))});
  }
  if (options.rsh_given) {
    std::string agent;
    for (const std::string& word : options.rsh) agent += (agent.empty() ? "" : " ") + word;
    cmd.insert(cmd.end(), {"--mca", "plm_rsh_agent", agent});
  }
  for (const auto& [name, value] : env) {  // EnvMap is ordered: the same line every time
    if (name.rfind("COHORT_", 0) == 0) cmd.insert(cmd.end(), {"-x", name});
  }
  if (!options.network_interface.empty()) {
    cmd.insert(cmd.end(), {"-x", "COHORT_SOCKET_IFNAME=" + options.network_interface});
  }
  for (const std::string& x : options.exports) cmd.insert(cmd.end(), {"-x", x});
  cmd.insert(cmd.end(), options.command.begin(), options.command.end());
  return cmd;
}

int HandOffToMpirun(const LaunchOptions& options, const EnvMap& env) {
  Result<std::vector<std::string>> cmd = MpirunCommand(options, env, ::geteuid() == 0);
  if (!cmd.ok()) {
    std::cerr << "cohortrun: " << cmd.status().message() << "\n";
    return 2;
  }
  std::vector<char*> argv;
  for (std::string& word : *cmd) argv.push_back(word.data());
  argv.push_back(nullptr);
  std::cout.flush();
  ::execvp(argv[0], argv.data());
  const int err = errno;
  std::cerr << "cohortrun: --mpi could not start mpirun: " << std::strerror(err)
            << (err == ENOENT ? " (install Open MPI, e.g. apt-get install openmpi-bin, or put "
                                "its mpirun on PATH)"
                              : "")
            << "\n";
  return 127;
}

}  // namespace cohort::launcher
