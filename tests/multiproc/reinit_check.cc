// init() after shutdown() in a multi-rank job gets a working communicator (each generation has
// its own store namespace and shm segments), three times over.
#include <cstdio>

#include "runtime/cohort.h"

int main() {
  for (int round = 0; round < 3; ++round) {
    cohort::Communicator& comm = cohort::init();
    float value = 1.0f;
    comm.allreduce({&value, 1, cohort::DataType::kF32}, cohort::ReduceOp::kSum);
    const int rank = comm.rank(), size = comm.size();
    cohort::shutdown();
    if (value != static_cast<float>(size)) {
      std::printf("reinit_check: FAIL rank %d round %d: sum %g, expected %d\n", rank, round,
                  static_cast<double>(value), size);
      return 1;
    }
    if (round == 2 && rank == 0) std::printf("reinit_check: 3 rounds of init/shutdown passed\n");
  }
  return 0;
}
