// The case matrix of collective_check (see check_matrix.h).
#include "tests/multiproc/check_matrix.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "benchmarks/cohort_bench/bench_math.h"

namespace cohort::check {
namespace {

constexpr CollectiveKind kKinds[] = {CollectiveKind::kAllreduce, CollectiveKind::kReduceScatter,
                                     CollectiveKind::kAllgather, CollectiveKind::kBroadcast,
                                     CollectiveKind::kReduce,    CollectiveKind::kAlltoall};

bool InBigScope(BigScope scope, CollectiveKind kind, DataType dtype, ReduceOp op, int root) {
  const auto is = [&](DataType d, ReduceOp o) { return dtype == d && op == o; };
  switch (scope) {
    case BigScope::kAll: return true;
    case BigScope::kNone: return false;
    case BigScope::kCore:
      if (kind == CollectiveKind::kAllreduce) return true;
      return root == 0 && op == ReduceOp::kSum &&
             (dtype == DataType::kF32 || dtype == DataType::kBF16 || dtype == DataType::kI8 ||
              dtype == DataType::kI64);
    case BigScope::kMin:
      if (kind == CollectiveKind::kAllreduce) {
        return is(DataType::kF32, ReduceOp::kSum) || is(DataType::kI8, ReduceOp::kSum) ||
               is(DataType::kBF16, ReduceOp::kAvg) || is(DataType::kF64, ReduceOp::kProd);
      }
      return root == 0 && is(DataType::kF32, ReduceOp::kSum);
  }
  return false;
}

Result<std::vector<size_t>> ParseCounts(const std::string& text) {
  std::vector<size_t> counts;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const size_t end = std::min(text.find(',', start), text.size());
    size_t value = 0;
    const auto [ptr, err] = std::from_chars(text.data() + start, text.data() + end, value);
    if (err != std::errc() || ptr != text.data() + end) {
      return InvalidArgumentError("bad count list '" + text + "'; expected e.g. 0,1,7,1000");
    }
    counts.push_back(value);
    start = end + 1;
  }
  return counts;
}

}  // namespace

Result<CheckOptions> ParseCheckOptions(int argc, char** argv) {
  CheckOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return InvalidArgumentError("option " + arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--counts") {
      COHORT_ASSIGN_OR_RETURN(o.counts, ParseCounts(value));
    } else if (arg == "--big-counts") {
      COHORT_ASSIGN_OR_RETURN(o.big_counts, ParseCounts(value));
    } else if (arg == "--big-scope") {
      if (value == "all") o.big_scope = BigScope::kAll;
      else if (value == "core") o.big_scope = BigScope::kCore;
      else if (value == "min") o.big_scope = BigScope::kMin;
      else if (value == "none") o.big_scope = BigScope::kNone;
      else return InvalidArgumentError("--big-scope " + value + ": expected all, core, min or none");
    } else if (arg == "--seed") {
      const auto [ptr, err] = std::from_chars(value.data(), value.data() + value.size(), o.seed);
      if (err != std::errc() || ptr != value.data() + value.size()) {
        return InvalidArgumentError("--seed " + value + ": expected an unsigned integer");
      }
    } else if (arg == "--expect-transport") {
      o.expect_transport = value;
    } else if (arg == "--expect-algorithm") {
      o.expect_algorithm = value;
    } else {
      return InvalidArgumentError("unknown option " + arg +
                                  " (options: --counts --big-counts --big-scope --seed "
                                  "--expect-transport --expect-algorithm)");
    }
  }
  return o;
}

void ForEachCase(const CheckOptions& options, int nranks,
                 const std::function<void(const MatrixCase&)>& fn) {
  std::vector<int> roots = {0};
  if (nranks > 1) roots.push_back(nranks - 1);
  auto sweep = [&](size_t count, bool big) {
    for (CollectiveKind kind : kKinds) {
      for (DataType dtype : kAllDataTypes) {
        for (ReduceOp op : kAllReduceOps) {
          if (!IsReduction(kind) && op != ReduceOp::kSum) continue;  // op unused
          if (!CheckOpSupported(op, dtype).ok()) continue;
          for (int root : roots) {
            if (!HasRoot(kind) && root != 0) continue;
            if (big && !InBigScope(options.big_scope, kind, dtype, op, root)) continue;
            for (bool in_place : {false, true}) {
              MatrixCase m;
              m.c.kind = kind;
              m.c.dtype = dtype;
              m.c.op = op;
              m.c.root = root;
              m.c.count = count;
              m.in_place = in_place;
              fn(m);
            }
          }
        }
      }
    }
  };
  for (size_t count : options.counts) sweep(count, false);
  for (size_t count : options.big_counts) sweep(count, true);
}

}  // namespace cohort::check
