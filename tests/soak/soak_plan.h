// The soak program's options and the pseudo-random sequence of operations it runs. Pure code
// (no communicator): operation i is a function of (seed, i, world size) alone, so every rank
// draws the same sequence without talking, and a failure is reproduced from the seed and index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "benchmarks/cohort_bench/expected.h"
#include "runtime/base/status.h"

namespace cohort::soak {

struct SoakOptions {
  double minutes = 1.0;
  uint64_t seed = 1;
  size_t max_bytes = size_t{4} << 20;  // the largest buffer of any operation
  std::string json_path;               // where rank 0 writes the summary ("" = nowhere)
  int64_t rss_limit_mib = 16;          // largest RSS growth of a rank that passes
};

// --minutes F --seed N --max-bytes N[K|M] --json FILE --rss-limit-mib N.
Result<SoakOptions> ParseSoakOptions(int argc, char** argv);

// One operation of the sequence.
struct SoakOp {
  // c.kind is one of the six checked collectives, kBarrier or kSendRecv. c.count follows NCCL
  // (collectives/collective_args.h); send/recv moves c.count elements. c.seed is the op's own
  // value seed; c.rank and c.nranks are filled in.
  bench::CheckCase c;
  bool in_place = false;
  bool async = false;  // issued *_async and waited later, possibly with others in flight
  int shift = 1;       // send/recv: every rank sends to rank + shift, receives from rank - shift
};

// Operation `index` of the sequence `seed` for `rank` of `nranks`. Kinds are weighted
// (allreduce most often), sizes log-uniform from 1 byte to max_bytes with one operation in 16 of
// size 0; dtype, op (avg only on floating point), root, in/out of place and blocking/async are
// uniform. No buffer of the operation exceeds max_bytes.
SoakOp DrawOp(uint64_t seed, uint64_t index, size_t max_bytes, int rank, int nranks);

// An operation of `kind` and `dtype` whose larger buffer is `bytes` (rounded down to whole
// shares), sum, root 0, send/recv to the next rank: for the warm-up sweep.
SoakOp FixedOp(CollectiveKind kind, DataType dtype, size_t bytes, bool in_place, bool async,
               uint64_t seed, int rank, int nranks);

}  // namespace cohort::soak
