// libcohort_mpi: CommunicatorFromMpi, and the MPI_COMM_WORLD broadcast that cohort::init() loads
// at run time when mpirun started the job without a store address (mpi_rendezvous.h).
#include "runtime/mpi/cohort_mpi.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/base/errors.h"
#include "runtime/comm/mpi_rendezvous.h"
#include "runtime/config/env.h"

namespace cohort {
namespace {

Status MpiError(const char* call, int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  return UnavailableError(std::string(call) + " failed: " + std::string(text, length));
}

Status Broadcast(MPI_Comm comm, char* buffer, int bytes) {
  int code = MPI_Bcast(buffer, bytes, MPI_CHAR, 0, comm);
  return code == MPI_SUCCESS ? Status::Ok() : MpiError("MPI_Bcast", code);
}

void CheckMpi(int code, const char* call) {
  if (code != MPI_SUCCESS) ThrowIfError(MpiError(call, code));
}

void FinalizeAtExit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace

std::unique_ptr<Communicator> CommunicatorFromMpi(MPI_Comm comm, const std::string& name) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    throw InvalidArgument(StatusCode::kInvalidArgument,
                          "CommunicatorFromMpi: MPI is not initialized; call MPI_Init first");
  }
  // The MPI_Comm's error handler is the program's choice and stays as it is: with MPI's default
  // an MPI error here aborts the job, with MPI_ERRORS_RETURN it becomes a cohort::Error.
  Identity identity;
  identity.scheme = "mpi-comm";
  CheckMpi(MPI_Comm_rank(comm, &identity.rank), "MPI_Comm_rank");
  CheckMpi(MPI_Comm_size(comm, &identity.size), "MPI_Comm_size");
  MPI_Comm host = MPI_COMM_NULL;  // the ranks of `comm` on this host
  CheckMpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, identity.rank, MPI_INFO_NULL, &host),
           "MPI_Comm_split_type");
  int local_rank = 0, local_size = 1;
  MPI_Comm_rank(host, &local_rank);
  MPI_Comm_size(host, &local_size);
  MPI_Comm_free(&host);
  identity.local_rank = local_rank;
  identity.local_size = local_size;

  Config config = ValueOrThrow(ParseConfig(ProcessEnvironment()));
  MpiRendezvous met = ValueOrThrow(RendezvousThroughMpi(
      config, identity.rank,
      [comm](char* buffer, int bytes) { return Broadcast(comm, buffer, bytes); }));
  identity.store_addr = met.store_addr;
  config.secret = met.secret;
  return ValueOrThrow(ConnectThroughStore(config, identity, met.server, name));
}

}  // namespace cohort

// For cohort::init() (LoadWorldBroadcast): broadcasts over MPI_COMM_WORLD, initializing MPI
// first if the program has not (and finalizing it at exit, as mpirun expects every rank to).
extern "C" __attribute__((visibility("default"))) int cohort_mpi_world_broadcast(
    char* buffer, int bytes, char* error, int error_bytes) {
  auto fail = [&](const std::string& what) {
    std::snprintf(error, static_cast<size_t>(error_bytes), "%s", what.c_str());
    return 1;
  };
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (code != MPI_SUCCESS) return fail(cohort::MpiError("MPI_Init_thread", code).message());
    std::atexit(cohort::FinalizeAtExit);
    // MPI is ours alone here: its errors become cohort errors instead of aborting the job.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  cohort::Status sent = cohort::Broadcast(MPI_COMM_WORLD, buffer, bytes);
  return sent.ok() ? 0 : fail(sent.message());
}
