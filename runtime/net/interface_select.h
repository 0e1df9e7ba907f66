// Which local address peers reach this rank at, chosen by COHORT_SOCKET_IFNAME (and cohortrun's
// --network-interface), as a pure function over the host's interfaces so that it can be tested
// without them. Accepted forms, like NCCL_SOCKET_IFNAME plus subnets:
//   (empty)          the first interface that is not loopback, else 127.0.0.1
//   eth0             interfaces whose name starts with eth0 (an exact name is preferred)
//   eth,ib           names starting with any of the comma-separated prefixes
//   =eth0,eth1       exactly these names
//   ^docker,lo       any interface except names starting with these ("^=" excludes exact names)
//   10.231.0.0/16    the first interface whose IPv4 address lies in the subnet (a list item may
//                    be a subnet too: "10.0.0.0/8,eth"; "^10.0.0.0/8" excludes one)
// Among several matches the first in the host's list wins, except that a loopback interface is
// taken only when nothing else matches (so "^docker" does not pick lo).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/base/status.h"

namespace cohort {

// (name, IPv4 address) of every interface that is up, in the host's order (ListInterfaces()).
using InterfaceList = std::vector<std::pair<std::string, std::string>>;

// The chosen interface's IPv4 address. Errors: a malformed subnet names the bad text; a spec
// that matches nothing lists the interfaces present.
Result<std::string> SelectInterfaceAddress(const std::string& spec, const InterfaceList& interfaces);

}  // namespace cohort
