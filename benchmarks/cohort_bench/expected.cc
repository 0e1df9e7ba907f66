// Expected results of each collective (see expected.h).
#include "benchmarks/cohort_bench/expected.h"

#include "benchmarks/cohort_bench/bench_math.h"
#include "benchmarks/cohort_bench/typed_values.h"

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

namespace {

// Compares elements first .. first+count-1 of `buffer` with expected(0 .. count-1), adding to
// `result`. Only avg on floating point is compared with a tolerance.
template <DataType D, class Expected>
void Compare(const void* buffer, size_t first, size_t count, bool tolerant,
             const Expected& expected, Mismatch& result) {
  for (size_t j = 0; j < count; ++j) {
    const auto got = detail::Load<D>(buffer, first + j);
    const auto want = expected(j);
    bool ok = got == want;
    if constexpr (detail::kIsFloat<D>) {
      if (tolerant) {
        ok = detail::WithinTolerance<D>(detail::FloatToDouble<D>(got),
                                        detail::FloatToDouble<D>(want));
      }
    }
    if (!ok && result.wrong++ == 0) result = {1, first + j, got, want};
  }
}

template <DataType D> Mismatch CheckOutputAs(const CheckCase& c, const void* recv) {
  Mismatch result;
  const ValueSet set = InputValueSet(c);
  const size_t me = static_cast<size_t>(c.rank) * c.count;
  // Data movement is exact whatever the op; only reductions with avg get a tolerance.
  const bool tolerant = IsReduction(c.kind) && c.op == ReduceOp::kAvg;
  const auto compare = [&](size_t first, const auto& expected) {
    Compare<D>(recv, first, c.count, tolerant, expected, result);
  };
  switch (c.kind) {
    case CollectiveKind::kAllreduce:
    case CollectiveKind::kReduce:
    case CollectiveKind::kReduceScatter: {
      // Reduce scatter: this rank's block of the reduction of every rank's full input.
      const size_t from = c.kind == CollectiveKind::kReduceScatter ? me : 0;
      const detail::ReducedInput<D> reduced(c.seed, c.nranks, c.op);
      compare(0, [&](size_t j) { return reduced[from + j]; });
      break;
    }
    case CollectiveKind::kBroadcast: {
      const detail::RankInput<D> input(c.seed, c.root, set, c.nranks);
      compare(0, [&](size_t j) { return input[j]; });
      break;
    }
    case CollectiveKind::kAllgather:  // block r of the output is rank r's whole input
    case CollectiveKind::kAlltoall:   // block r of the output is block `rank` of rank r's input
      for (int r = 0; r < c.nranks; ++r) {
        const detail::RankInput<D> input(c.seed, r, set, c.nranks);
        const size_t from = c.kind == CollectiveKind::kAlltoall ? me : 0;
        compare(static_cast<size_t>(r) * c.count, [&](size_t j) { return input[from + j]; });
      }
      break;
    default:
      break;
  }
  return result;
}

}  // namespace

Mismatch CheckOutput(const CheckCase& c, const void* recv) {
  if (c.kind == CollectiveKind::kReduce && c.rank != c.root) return {};
  return detail::WithDataType(c.dtype, [&]<DataType D>() { return CheckOutputAs<D>(c, recv); });
}

Mismatch CheckInputUnchanged(const CheckCase& c, const void* send) {
  return detail::WithDataType(c.dtype, [&]<DataType D>() {
    Mismatch result;
    const detail::RankInput<D> input(c.seed, c.rank, InputValueSet(c), c.nranks);
    Compare<D>(send, 0, InputCount(c), /*tolerant=*/false, [&](size_t i) { return input[i]; },
               result);
    return result;
  });
}

std::string DescribeMismatch(const Mismatch& m, DataType dtype) {
  return "index " + std::to_string(m.first_index) + ": got " + ElementToString(m.got, dtype) +
         ", expected " + ElementToString(m.expected, dtype);
}

}  // namespace cohort::bench
