// MakeBackend: the backend --baseline names, among those this build has.
#include "benchmarks/cohort_bench/bench_backend.h"

#include "cohort/build_config.h"
#include "runtime/base/errors.h"

namespace cohort::bench {

std::unique_ptr<BenchBackend> MakeCohortBackend();
#if COHORT_HAVE_MPI
std::unique_ptr<BenchBackend> MakeMpiBackend();
#endif
#if COHORT_BENCH_HAVE_GLOO
std::unique_ptr<BenchBackend> MakeGlooBackend(bool halving_doubling);
#endif

int IntCount(size_t count, const char* library) {
  if (count > static_cast<size_t>(INT32_MAX)) {
    throw InvalidArgument(StatusCode::kInvalidArgument,
                          std::string(library) + " takes at most 2^31-1 elements per call, not " +
                              std::to_string(count));
  }
  return static_cast<int>(count);
}

std::unique_ptr<BenchBackend> MakeBackend(const BenchOptions& options) {
  const std::string& baseline = options.baseline;
  if (baseline.empty()) return MakeCohortBackend();
  if (baseline == "mpi") {
#if COHORT_HAVE_MPI
    return MakeMpiBackend();
#else
    throw UnsupportedError(StatusCode::kUnimplemented,
                           "this cohort-bench was built without MPI; install libopenmpi-dev and "
                           "rebuild for --baseline mpi");
#endif
  }
#if COHORT_BENCH_HAVE_GLOO
  return MakeGlooBackend(baseline == "gloo-hd");
#else
  throw UnsupportedError(StatusCode::kUnimplemented,
                         "this cohort-bench was built without Gloo; install libgloo-dev and "
                         "rebuild for --baseline " + baseline);
#endif
}

}  // namespace cohort::bench
