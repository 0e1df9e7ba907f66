// Built against an installed cohort: a single-process allreduce through the public header.
#include <cohort/cohort.h>

#include <cstdio>
#include <vector>

int main() {
  cohort::Communicator& comm = cohort::init();
  std::vector<float> data(16, 2.0f);
  comm.allreduce({data.data(), data.size(), cohort::DataType::kF32}, cohort::ReduceOp::kSum);
  const int size = comm.size();
  std::printf("consumer: rank %d of %d, data[0]=%g\n", comm.rank(), size, data[0]);
  cohort::shutdown();
  return data[0] == 2.0f * static_cast<float>(size) ? 0 : 1;
}
