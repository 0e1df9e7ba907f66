// cohortrun's command line: what to run and how, parsed with Boost.Program_options. Everything
// from the program name on belongs to the program, so its own options (even ones that look like
// ours) pass through untouched.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/status.h"

namespace cohort::launcher {

struct LaunchOptions {
  int np = 0;                                        // -np N: ranks to start
  bool tag_output = false;                           // --tag-output: "[1,rank]<stdout>:" prefixes
  std::optional<std::chrono::milliseconds> timeout;  // --timeout S: whole-job wall clock
  std::chrono::milliseconds grace{10'000};           // --grace S: after a failure, before SIGTERM
  std::vector<std::string> exports;                  // -x VAR or -x VAR=VAL, in order
  int servers = 0;                                   // --servers K: dedicated parameter servers
  std::string server_program;                        // --server-program: default cohort-ps-server
  bool print_config = false;                         // --print-config
  bool print_settings_table = false;                 // --print-settings-table
  bool help = false;                                 // -h, --help
  std::vector<std::string> command;                  // program and its arguments

  // Multi-host jobs (see hosts.h and remote_hosts.h). Either of the first two makes the job
  // multi-host: every host's ranks are started through `rsh` by `cohortrun --remote-agent`.
  std::string host_list;                             // -H host1:4,host2:4
  std::string hostfile;                              // --hostfile F
  std::vector<std::string> rsh{"ssh", "-o", "BatchMode=yes"};  // --rsh CMD, split at spaces
  std::string store_addr;                            // --store-addr HOST[:PORT] the store binds to
  std::string network_interface;                     // --network-interface: COHORT_SOCKET_IFNAME
  bool oversubscribe = false;                        // --oversubscribe: more ranks than slots
  bool elastic = false;                              // --elastic: survivors go on (COHORT_ELASTIC)
  bool remote_agent = false;                         // --remote-agent: internal, see remote_agent.h
  bool rsh_given = false;                            // --rsh was on the command line
  bool mpi = false;                                  // --mpi: hand spawning to mpirun (mpi_handoff.h)

  bool multi_host() const { return !host_list.empty() || !hostfile.empty(); }
};

// Parses argv (argv[0] is cohortrun itself). Errors are InvalidArgument with a message fit for
// the user ("-np must be a positive integer, got 'x'"). With --help or --print-config, -np and
// the program are not required; with -H or --hostfile, -np defaults to the number of slots.
Result<LaunchOptions> ParseLaunchOptions(int argc, const char* const* argv);

// The usage text printed by --help and after option errors.
std::string LaunchUsage();

}  // namespace cohort::launcher
