// cohort::CommunicatorFromMpi under mpirun: a communicator over MPI_COMM_WORLD and one over each
// half of it (MPI_Comm_split by rank parity) at the same time; every collective's result is
// checked element by element against values computed from the ranks.
#include <mpi.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "runtime/mpi/cohort_mpi.h"

namespace {

int failures = 0;

void Expect(bool ok, const char* what, int rank) {
  if (!ok) {
    std::printf("mpi_comm_check: FAIL on world rank %d: %s\n", rank, what);
    ++failures;
  }
}

// allreduce(sum), allgather and broadcast over `comm`, whose members are world ranks `members`.
void CheckCollectives(cohort::Communicator& comm, const std::vector<int>& members, int world_rank) {
  using cohort::DataType;
  const int n = 1000;
  std::vector<double> values(n);
  for (int i = 0; i < n; ++i) values[i] = world_rank * 1000.0 + i;
  comm.allreduce({values.data(), values.size(), DataType::kF64}, cohort::ReduceOp::kSum);
  bool sum_ok = true;
  for (int i = 0; i < n; ++i) {
    double expected = 0;
    for (int m : members) expected += m * 1000.0 + i;
    sum_ok = sum_ok && values[i] == expected;
  }
  Expect(sum_ok, "allreduce sum", world_rank);

  int mine = world_rank;
  std::vector<int> all(members.size(), -1);
  comm.allgather({&mine, 1, DataType::kI32}, {all.data(), all.size(), DataType::kI32});
  Expect(all == members, "allgather of world ranks (order of the MPI_Comm's ranks)", world_rank);

  int root_value = comm.rank() == 0 ? 4242 + members[0] : -1;
  comm.broadcast({&root_value, 1, DataType::kI32}, {&root_value, 1, DataType::kI32}, 0);
  Expect(root_value == 4242 + members[0], "broadcast from rank 0", world_rank);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm half = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
  {
    std::unique_ptr<cohort::Communicator> world = cohort::CommunicatorFromMpi(MPI_COMM_WORLD);
    std::unique_ptr<cohort::Communicator> mine = cohort::CommunicatorFromMpi(half, "half");
    Expect(world->rank() == rank && world->size() == size, "world rank and size", rank);
    std::vector<int> everyone, same_parity;
    for (int r = 0; r < size; ++r) {
      everyone.push_back(r);
      if (r % 2 == rank % 2) same_parity.push_back(r);
    }
    Expect(mine->size() == static_cast<int>(same_parity.size()), "half size", rank);
    CheckCollectives(*world, everyone, rank);
    CheckCollectives(*mine, same_parity, rank);
    world->barrier();
  }
  MPI_Comm_free(&half);
  int failed = 0;
  MPI_Allreduce(&failures, &failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0 && failed == 0) {
    std::printf("mpi_comm_check: passed (%d ranks, world and two halves)\n", size);
  }
  MPI_Finalize();
  return failed == 0 ? 0 : 1;
}
