// Hosts of a multi-host job: `-H host1:4,host2:4` and `--hostfile F` (Open MPI's "host slots=N"
// and Horovod's "host:N" lines, '#' comments, blank lines), and the placement of ranks on them.
// Pure functions, so that every malformed input can be tested without starting anything.
#pragma once

#include <string>
#include <vector>

#include "runtime/base/status.h"

namespace cohort::launcher {

struct HostSlots {
  std::string host;
  int slots = 1;  // how many ranks the host takes before it is oversubscribed
};

// Parses "-H a:2,b,c:4" (no count means 1 slot). A host named twice adds its slots up, as in
// Open MPI, to at most 1'000'000. Errors name the entry and the expected form.
Result<std::vector<HostSlots>> ParseHostList(const std::string& text);

// Parses a hostfile's contents; `source` (the file name) and the line number start each error.
// Accepted per line: "host", "host slots=N" (also "slots N", "max_slots=M", which is ignored),
// "host:N". Text after '#' is a comment.
Result<std::vector<HostSlots>> ParseHostfile(const std::string& contents,
                                             const std::string& source);

// Reads and parses a hostfile; a missing file is an error naming it.
Result<std::vector<HostSlots>> ReadHostfile(const std::string& path);

// The ranks one host runs: global ranks first_rank .. first_rank + count - 1, node `node_rank`.
struct HostPlacement {
  std::string host;
  int node_rank = 0;
  int first_rank = 0;
  int count = 0;
};

// Places `np` ranks by filling each host's slots in order (by-slot, as mpirun's default); np 0
// means "one rank per slot" (at most 1'000'000 ranks, -np's limit). More ranks than slots is an error that names both counts and
// --oversubscribe, unless `oversubscribe`, which deals the extra ranks round-robin. Hosts that
// get no rank are left out.
Result<std::vector<HostPlacement>> PlaceRanks(const std::vector<HostSlots>& hosts, int np,
                                              bool oversubscribe);

}  // namespace cohort::launcher
