// Command line of cohort-bench, compatible with nccl-tests' *_perf programs:
//   cohort-bench COLLECTIVE [-b minbytes] [-e maxbytes] [-f stepfactor] [-i stepbytes]
//                [-n iters] [-w warmup] [-c 0|1] [-d dtype|all] [-o op|all] [-r root] [-g 0|1]
//                [--json FILE] [--baseline mpi|gloo-ring|gloo-hd]
// Short options also take their value attached (-b8) and long ones (--minbytes=8) as in
// nccl-tests. Pure parsing; nothing here needs a communicator.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/collective_kind.h"
#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort::bench {

struct BenchOptions {
  CollectiveKind collective = CollectiveKind::kAllreduce;
  size_t min_bytes = 32u << 20;  // nccl-tests' defaults
  size_t max_bytes = 32u << 20;
  size_t step_factor = 1;        // > 1: multiply; otherwise add step_bytes
  size_t step_bytes = 1u << 20;
  int iters = 20;
  int warmup_iters = 5;
  bool check = true;
  std::vector<DataType> dtypes = {DataType::kF32};
  bool all_dtypes = false;  // -d all: skip (dtype, op) pairs that are not defined (avg on ints)
  std::vector<ReduceOp> ops = {ReduceOp::kSum};
  bool all_ops = false;
  int root = 0;
  // -g 1: buffers in CUDA device memory (GPU local_rank % visible devices), as nccl-tests does
  // with one GPU per process; collectives then run through NCCL or the staged path.
  int gpus = 0;
  std::string json_path;  // empty: no JSON
  // Which system the harness drives: "" (cohort), "mpi" (MPI_COMM_WORLD, under mpirun), or
  // Gloo's tcp transport with its ring or halving-doubling allreduce ("gloo" = "gloo-ring").
  std::string baseline;
  bool help = false;      // -h: print Usage() and exit 0
};

// Parses "64", "8K", "64M", "1G" (powers of 1024, case-insensitive, optional trailing B).
Result<size_t> ParseSize(std::string_view text);

// Parses argv[1..] (without the program name). Errors name the option and the bad value.
Result<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args);

std::string Usage(std::string_view program);

// nccl-tests' type names for the table: float double half bfloat16 int8 uint8 int32 int64.
std::string_view NcclTypeName(DataType dtype);

}  // namespace cohort::bench
