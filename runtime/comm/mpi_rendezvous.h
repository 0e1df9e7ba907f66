// Rendezvous through MPI, for jobs that an MPI launcher started without a store address (DESIGN:
// "A job launched by mpirun without a store address bootstraps through MPI"). Rank 0 of the MPI
// group starts a store on a free port and broadcasts "host:port" and the job secret (a fresh
// random one unless COHORT_JOB_SECRET is set); every rank then connects as usual. The secret
// travels only inside MPI, never in an argv or a file.
//
// libcohort does not link MPI, so that the same library runs where there is none: the
// broadcast over MPI_COMM_WORLD for init() lives in libcohort_mpi.so (built where CMake finds
// MPI), loaded at run time from libcohort's own folder. Communicators over other MPI_Comm
// handles come from libcohort_mpi's CommunicatorFromMpi (runtime/mpi/cohort_mpi.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "runtime/base/status.h"
#include "runtime/comm/communicator.h"
#include "runtime/config/config.h"
#include "runtime/config/identity.h"

namespace cohort {

// Broadcasts `bytes` bytes of `buffer` from rank 0 of the MPI group to every rank of it.
using MpiBroadcast = std::function<Status(char* buffer, int bytes)>;

struct MpiRendezvous {
  std::string store_addr;          // "host:port" of rank 0's store
  std::string secret;              // the job secret every rank uses
  std::shared_ptr<void> server;    // rank 0: the store server (keep it alive); else null
};

// Collective over the MPI group: every rank calls it with its `rank` in the group.
Result<MpiRendezvous> RendezvousThroughMpi(const Config& config, int rank,
                                           const MpiBroadcast& broadcast);

// The broadcast over MPI_COMM_WORLD from libcohort_mpi.so (initializing MPI if the program has
// not; it is then finalized at exit). An error says how to get it or what to set instead.
Result<MpiBroadcast> LoadWorldBroadcast(const Identity& identity);

// Connects to the store at identity.store_addr with config.secret and makes the communicator
// (keeping `server` alive with it); without COHORT_JOB_ID, shm segments are named after the
// store's port. Shared by FromEnvironment and CommunicatorFromMpi.
Result<std::unique_ptr<Communicator>> ConnectThroughStore(Config config,
                                                          const Identity& identity,
                                                          std::shared_ptr<void> server,
                                                          const std::string& name);

// Name of the C function libcohort_mpi.so exports for LoadWorldBroadcast:
//   int fn(char* buffer, int bytes, char* error, int error_bytes)  (0 = ok, else error filled)
inline constexpr const char* kMpiWorldBroadcastSymbol = "cohort_mpi_world_broadcast";
inline constexpr const char* kMpiHelperLibrary = "libcohort_mpi.so";

}  // namespace cohort
