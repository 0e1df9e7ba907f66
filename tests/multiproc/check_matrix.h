// The case matrix of collective_check: which (collective, dtype, op, root, in place, count)
// combinations run, and its command-line options. Pure code (no communicator), so that every
// rank derives the same sequence of cases.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "benchmarks/cohort_bench/expected.h"
#include "runtime/base/status.h"

namespace cohort::check {

// How much of the matrix the big counts cover (they dominate the running time).
enum class BigScope {
  kAll,   // every case, as for small counts
  kCore,  // allreduce: every dtype x op x in/out of place; the others: f32 bf16 i8 i64, sum, root 0
  kMin,   // allreduce f32 sum, i8 sum, bf16 avg, f64 prod; the others f32 (sum), root 0
  kNone,
};

struct CheckOptions {
  std::vector<size_t> counts = {0, 1, 7, 1000};
  std::vector<size_t> big_counts = {(size_t{1} << 20) + 3};
  BigScope big_scope = BigScope::kCore;
  uint64_t seed = 1;
  // "shm", "tcp" or "ucx": every peer must be served by it; "LOCAL/REMOTE" (shm/tcp): peers on
  // this rank's host by LOCAL, the others by REMOTE.
  std::string expect_transport;
  // Where set, a 1 MiB f32 allreduce, broadcast and allgather at the end must each have chosen
  // this algorithm (e.g. "hierarchical" when ranks span hosts).
  std::string expect_algorithm;
};

Result<CheckOptions> ParseCheckOptions(int argc, char** argv);

struct MatrixCase {
  bench::CheckCase c;  // rank, nranks and seed are filled in by the runner
  bool in_place = false;
};

// Calls `fn` for every case, in the same order on every rank: the full matrix for each of
// options.counts, then the part that options.big_scope selects for each of options.big_counts.
// Avg on integer dtypes is left out (it must be refused; collective_check tests that apart).
void ForEachCase(const CheckOptions& options, int nranks,
                 const std::function<void(const MatrixCase&)>& fn);

}  // namespace cohort::check
