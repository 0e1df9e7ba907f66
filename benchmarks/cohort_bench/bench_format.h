// Text and JSON output of cohort-bench, in nccl-tests' layout so that existing parsers and
// people's eyes read it unchanged: the header block, the column header, one row per size with
// out-of-place then in-place results, and the footer. Pure formatting, no communicator.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/collective_kind.h"

namespace cohort::bench {

// What the header block says about the job.
struct HeaderInfo {
  std::string command_line;  // "cohort-bench allreduce -b 8 ..."
  CollectiveKind collective = CollectiveKind::kAllreduce;
  int nranks = 1;
  int nhosts = 1;
  size_t min_bytes = 0, max_bytes = 0, step_factor = 1, step_bytes = 0;
  int iters = 0, warmup_iters = 0;
  bool check = true;
  std::vector<std::string> rank_lines;  // one per rank: "Pid 123 on host1 peers: shm 3"
};
std::string FormatHeader(const HeaderInfo& info);

// The three column-header lines (out-of-place / in-place, names, units).
std::string FormatColumnHeader();

// One measurement: out of place or in place.
struct Measured {
  double time_us = 0;
  double algbw = 0;  // GB/s
  double busbw = 0;  // GB/s
  std::optional<long long> wrong;  // empty without -c 1
  bool skipped = false;            // the backend cannot run this case: printed as N/A
};

struct BenchRow {
  CollectiveKind collective = CollectiveKind::kAllreduce;
  size_t bytes = 0;
  size_t count = 0;
  std::string type;  // nccl-tests' name: float, half, ...
  std::string op;    // sum ... or "none"
  int root = -1;
  Measured out_of_place, in_place;
  std::string algorithm;  // what ran out of place ("shm_direct", "MPI_Allreduce"); JSON only
};

// nccl-tests' time column: 2 decimals below 100 us, 1 below 10 ms, none above.
std::string FormatTime(double time_us);
// The row as one line without the newline.
std::string FormatRow(const BenchRow& row);

// "# Out of bounds values : 0 OK", "# Avg bus bandwidth    : X", "#", and the final line.
// wrong_total < 0 means not checked.
std::string FormatFooter(long long wrong_total, double avg_busbw, CollectiveKind collective);

// Every row and the average bus bandwidth as one JSON document; `system` is the backend.
std::string RowsToJson(const std::vector<BenchRow>& rows, int nranks, double avg_busbw,
                       const std::string& system = "cohort");

}  // namespace cohort::bench
