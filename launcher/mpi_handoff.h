// cohortrun --mpi: hands the job to Open MPI's mpirun instead of spawning the ranks itself.
// mpirun starts, places and stops the ranks (and stops the whole job when one fails); the ranks
// take their identity from OMPI_COMM_WORLD_* and meet through MPI (runtime/comm/mpi_rendezvous.h).
// cohortrun's options become mpirun's, and every COHORT_* variable of cohortrun's environment
// is passed on by name (`-x NAME`), so that values such as the job secret stay out of argv.
#pragma once

#include <string>
#include <vector>

#include "launcher/options.h"
#include "runtime/base/status.h"
#include "runtime/config/env.h"

namespace cohort::launcher {

// The mpirun command line for `options`. `as_root` adds --allow-run-as-root (cohortrun itself
// runs as root; mpirun refuses unless told). A hostfile is read and passed as --host, so that
// both of cohortrun's hostfile forms work.
Result<std::vector<std::string>> MpirunCommand(const LaunchOptions& options, const EnvMap& env,
                                               bool as_root);

// Replaces this process with mpirun (execvp). Returns only if that fails: 127, with a message.
int HandOffToMpirun(const LaunchOptions& options, const EnvMap& env);

}  // namespace cohort::launcher
