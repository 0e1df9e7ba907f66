// Expected results of each collective (see expected.h).
#include "benchmarks/cohort_bench/expected.h"

#include "benchmarks/cohort_bench/bench_math.h"

namespace cohort::bench {

size_t InputCount(const CheckCase& c) {
  const auto n = static_cast<size_t>(c.nranks);
  switch (c.kind) {
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAlltoall: return c.count * n;
    default: return c.count;
  }
}

size_t OutputCount(const CheckCase& c) {
  const auto n = static_cast<size_t>(c.nranks);
  switch (c.kind) {
    case CollectiveKind::kAllgather:
    case CollectiveKind::kAlltoall: return c.count * n;
    default: return c.count;
  }
}

ValueSet InputValueSet(const CheckCase& c) {
  return IsReduction(c.kind) ? ValueSetFor(c.op) : ValueSet::kAny;
}

void FillCheckInput(const CheckCase& c, void* send) {
  FillInput(send, InputCount(c), c.dtype, InputValueSet(c), c.seed, c.rank, 0, c.nranks);
}

RawElement ExpectedOutput(const CheckCase& c, size_t index) {
  const ValueSet set = InputValueSet(c);
  switch (c.kind) {
    case CollectiveKind::kAllreduce:
    case CollectiveKind::kReduce:
      return ExpectedReduction(c.seed, c.nranks, index, c.dtype, c.op);
    case CollectiveKind::kReduceScatter:
      // This rank's block of the reduction of every rank's full input.
      return ExpectedReduction(c.seed, c.nranks, static_cast<size_t>(c.rank) * c.count + index,
                               c.dtype, c.op);
    case CollectiveKind::kAllgather: {
      // Block r of the output is rank r's whole input.
      const auto from = static_cast<int>(index / c.count);
      return InputElement(c.seed, from, index % c.count, c.dtype, set, c.nranks);
    }
    case CollectiveKind::kBroadcast:
      return InputElement(c.seed, c.root, index, c.dtype, set, c.nranks);
    case CollectiveKind::kAlltoall: {
      // Block r of the output is block `rank` of rank r's input.
      const auto from = static_cast<int>(index / c.count);
      const size_t at = static_cast<size_t>(c.rank) * c.count + index % c.count;
      return InputElement(c.seed, from, at, c.dtype, set, c.nranks);
    }
    default:
      return 0;
  }
}

Mismatch CheckOutput(const CheckCase& c, const void* recv) {
  Mismatch result;
  if (c.kind == CollectiveKind::kReduce && c.rank != c.root) return result;
  // Data movement is exact whatever the op; only reductions with avg get a tolerance.
  const ReduceOp compare_op = IsReduction(c.kind) ? c.op : ReduceOp::kSum;
  const size_t n = OutputCount(c);
  for (size_t i = 0; i < n; ++i) {
    const RawElement got = LoadElement(recv, i, c.dtype);
    const RawElement expected = ExpectedOutput(c, i);
    if (!ElementMatches(got, expected, c.dtype, compare_op)) {
      if (result.wrong++ == 0) {
        result.first_index = i;
        result.got = got;
        result.expected = expected;
      }
    }
  }
  return result;
}

Mismatch CheckInputUnchanged(const CheckCase& c, const void* send) {
  Mismatch result;
  const ValueSet set = InputValueSet(c);
  const size_t n = InputCount(c);
  for (size_t i = 0; i < n; ++i) {
    const RawElement got = LoadElement(send, i, c.dtype);
    const RawElement expected = InputElement(c.seed, c.rank, i, c.dtype, set, c.nranks);
    if (got != expected && result.wrong++ == 0) {
      result.first_index = i;
      result.got = got;
      result.expected = expected;
    }
  }
  return result;
}

std::string DescribeMismatch(const Mismatch& m, DataType dtype) {
  return "index " + std::to_string(m.first_index) + ": got " + ElementToString(m.got, dtype) +
         ", expected " + ElementToString(m.expected, dtype);
}

}  // namespace cohort::bench
