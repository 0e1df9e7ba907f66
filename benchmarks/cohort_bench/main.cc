// cohort-bench: nccl-tests-compatible bandwidth benchmark of cohort's collectives. Every rank is
// a process started by cohortrun (or mpirun, srun, torchrun); rank 0 prints the table.
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/cohort_bench/bench_backend.h"
#include "benchmarks/cohort_bench/bench_options.h"
#include "benchmarks/cohort_bench/bench_runner.h"
#include "runtime/cohort.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  cohort::Result<cohort::bench::BenchOptions> options = cohort::bench::ParseBenchOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "cohort-bench: error: %s\n%s", options.status().message().c_str(),
                 cohort::bench::Usage("cohort-bench").c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(cohort::bench::Usage("cohort-bench").c_str(), stdout);
    return 0;
  }
  std::string command_line = "cohort-bench";
  for (const std::string& arg : args) command_line += " " + arg;

  int rank = -1;
  try {
    std::unique_ptr<cohort::bench::BenchBackend> backend = cohort::bench::MakeBackend(*options);
    rank = backend->rank();
    cohort::bench::BenchRunner runner(*backend, *options, command_line);
    return runner.Run();
  } catch (const cohort::Error& e) {
    // Set-up errors come before the rank is known; cohort's messages name it where it matters.
    if (rank >= 0) {
      std::fprintf(stderr, "cohort-bench: rank %d: error: %s\n", rank, e.what());
    } else {
      std::fprintf(stderr, "cohort-bench: error while joining the job: %s\n", e.what());
    }
    return 1;
  }
}
