// Expected results of each collective for inputs from check_values.h: fill this rank's input,
// then check every element of its output (and, out of place, that the input is unchanged).
// Counts follow NCCL (collectives/collective_args.h). Pure code, no communicator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "benchmarks/cohort_bench/check_values.h"
#include "runtime/base/collective_kind.h"
#include "runtime/base/dtype.h"

namespace cohort::bench {

// One collective call as the checker sees it.
struct CheckCase {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  DataType dtype = DataType::kF32;
  ReduceOp op = ReduceOp::kSum;  // ignored by data-movement collectives
  int root = 0;                  // broadcast and reduce
  int rank = 0;
  int nranks = 1;
  size_t count = 0;  // the call's count argument
  uint64_t seed = 0;
};

// Elements of the send and receive buffers of the call.
size_t InputCount(const CheckCase& c);
size_t OutputCount(const CheckCase& c);
// The value set the inputs come from (by op for reductions, kAny otherwise).
ValueSet InputValueSet(const CheckCase& c);

// Writes this rank's InputCount(c) input elements to `send`.
void FillCheckInput(const CheckCase& c, void* send);

// The result of comparing a buffer with what it should hold.
struct Mismatch {
  size_t wrong = 0;        // elements that differ
  size_t first_index = 0;  // of the first that differs
  RawElement got = 0;
  RawElement expected = 0;
};

// The expected value of output element `index` on this rank (reduce: only meaningful on root).
RawElement ExpectedOutput(const CheckCase& c, size_t index);
// Checks every element of the output buffer `recv` (the pointer passed to the call). Reduce
// checks only on the root (other ranks' receive buffers are unspecified, as in NCCL).
Mismatch CheckOutput(const CheckCase& c, const void* recv);
// Checks that the send buffer still holds this rank's input (out-of-place calls must not write it).
Mismatch CheckInputUnchanged(const CheckCase& c, const void* send);

// "index 17: got 3 (0x4200), expected 4 (0x4400)".
std::string DescribeMismatch(const Mismatch& m, DataType dtype);

}  // namespace cohort::bench
