// Identity: who this process is in the job, detected from the environment of whichever launcher
// started it. Order (first complete scheme wins; a second scheme that disagrees is an error):
// cohort's own (COHORT_RANK, COHORT_WORLD_SIZE, COHORT_LOCAL_RANK, COHORT_LOCAL_SIZE,
// COHORT_NODE_RANK, COHORT_STORE_ADDR), Open MPI (OMPI_COMM_WORLD_*), PMIx/PMI (PMIX_RANK,
// PMI_RANK, PMI_SIZE), Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID),
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT).
#pragma once

#include <optional>
#include <string>

#include "runtime/base/status.h"
#include "runtime/config/env.h"

namespace cohort {

struct Identity {
  int rank = 0;
  int size = 1;
  std::optional<int> local_rank;  // when the launcher says; otherwise found through the store
  std::optional<int> local_size;
  std::optional<int> node_rank;
  std::string scheme;             // "cohort", "openmpi", "pmix", "pmi", "slurm", "torchrun", "single"
  // Where the rendezvous store listens ("host:port"), if the environment says. With torchrun's
  // variables this is MASTER_ADDR:MASTER_PORT and rank 0 hosts the store.
  std::string store_addr;
  bool rank0_hosts_store = false;
};

// Detects the identity. With no scheme present: a single-process job (rank 0 of 1) when
// `allow_single` is true, else an error listing the variables looked for.
Result<Identity> DetectIdentity(const EnvMap& env, bool allow_single = true);

}  // namespace cohort
