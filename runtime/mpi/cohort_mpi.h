// cohort over MPI (libcohort_mpi, built where CMake finds MPI; link cohort::mpi).
//
// A program that already uses MPI makes a cohort communicator over any of its communicators:
//
//   MPI_Init(&argc, &argv);
//   auto comm = cohort::CommunicatorFromMpi(MPI_COMM_WORLD);   // collective over the MPI_Comm
//   comm->allreduce(...);
//
// Rank 0 of `comm` starts a rendezvous store and broadcasts its address and the job secret over
// MPI (runtime/comm/mpi_rendezvous.h); ranks on one host find each other and use shared memory.
// The MPI_Comm is used only during this call. A program that does not use MPI itself needs none
// of this: cohort::init() under mpirun bootstraps through this library on its own.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "runtime/comm/communicator.h"

namespace cohort {

// Every rank of `comm` must call it, in the same order as other collectives on `comm`. `name`
// must be unique among the communicators the program makes this way at the same time. Errors
// are thrown as for cohort::init() (cohort::Error with the reason).
std::unique_ptr<Communicator> CommunicatorFromMpi(MPI_Comm comm, const std::string& name = "mpi");

}  // namespace cohort
