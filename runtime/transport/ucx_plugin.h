// The UCX transport's entry point. UCX links are made by libcohort_ucx.so (runtime/transport/ucx/,
// built where CMake finds UCX), loaded at run time: libcohort itself never links UCX, so it runs
// on hosts without it, and processes that do not use UCX never load it (UCX installs signal
// handlers and memory hooks when loaded).
//
// Set-up, under the communicator's store namespace: every rank of the UCX peer set creates one
// ucp worker for the communicator, publishes its address as ucx-addr/<rank>, creates an endpoint
// to each peer from the peer's address and exchanges a hello with it, so an unreachable peer is
// reported at set-up (naming it) rather than at the first collective. The address is published
// after a random nonce from which, with the job secret, peers derive the key of the tags they
// send to that worker: without the secret, nothing sent to a worker is accepted (ucx_tag.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/base/status.h"
#include "runtime/store/store.h"
#include "runtime/transport/link.h"

namespace cohort {

struct UcxSetup {
  int rank = 0;
  int size = 1;
  std::vector<int> peers;                 // ranks to reach over UCX (not this rank)
  std::vector<std::string> host_of_rank;  // for error messages
  std::shared_ptr<Store> store;           // the communicator's own namespace
  std::string socket_ifname;              // the interface COHORT_SOCKET_IFNAME selects: UCX_NET_DEVICES
  std::string secret;                     // the job secret: keys every message's tag (ucx_tag.h)
  Deadline deadline = Deadline::Never();
};

struct UcxConnectOutput {
  Status status;
  std::vector<std::unique_ptr<Link>> links;  // indexed by rank; set for every peer when ok
};

// Loads libcohort_ucx.so and makes the links. The error says what to do when the library or UCX
// is missing.
Result<std::vector<std::unique_ptr<Link>>> ConnectUcxLinks(const UcxSetup& setup);

// Whether libcohort_ucx.so loads here (UCX was built in and its libraries are present).
bool UcxTransportAvailable();

// Whether this host has an RDMA device (/sys/class/infiniband), where UCX beats cohort's own tcp:
// with COHORT_TRANSPORT=auto, pairs on different hosts use UCX when both hosts say so.
bool HostHasRdmaDevice();

inline constexpr const char* kUcxPluginLibrary = "libcohort_ucx.so";
// void fn(const UcxSetup*, UcxConnectOutput*); the suffix is bumped when these structs change.
inline constexpr const char* kUcxConnectSymbol = "cohort_ucx_connect_v2";

}  // namespace cohort
