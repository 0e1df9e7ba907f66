// mismatch_check: ranks call collectives that do not match; each must get a cohort::Error with
// a clear message within 30 s (run with COHORT_DEBUG=DETAIL, which compares fingerprints), not
// hang. Cases (--case):
//   count       rank 0 passes count 1000 to allreduce, the others 999
//   collective  rank 0 calls allreduce, the others broadcast
//   dtype       rank 0 passes f32, the others i32
// Each rank prints "mismatch_check: rank R: error after S s: <message>" and exits 0 when the
// error came in time and its message names both values (or the rank that reported them);
// otherwise it prints "mismatch_check: FAIL ..." and exits 1.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/cohort.h"

namespace {

bool Contains(const std::string& text, const char* what) {
  return text.find(what) != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc == 3 && std::strcmp(argv[1], "--case") == 0 ? argv[2] : "";
  if (which != "count" && which != "collective" && which != "dtype") {
    std::fprintf(stderr, "usage: mismatch_check --case count|collective|dtype\n");
    return 2;
  }
  int me = -1;
  try {
    cohort::Communicator& comm = cohort::init();
    me = comm.rank();
    std::vector<float> data(1000, 1.0f);
    const auto start = std::chrono::steady_clock::now();
    try {
      if (which == "count") {
        comm.allreduce({data.data(), me == 0 ? 1000u : 999u, cohort::DataType::kF32},
                       cohort::ReduceOp::kSum);
      } else if (which == "collective") {
        if (me == 0) comm.allreduce({data.data(), 1000, cohort::DataType::kF32}, cohort::ReduceOp::kSum);
        else comm.broadcast({data.data(), 1000, cohort::DataType::kF32}, 0);
      } else {
        comm.allreduce({data.data(), 1000, me == 0 ? cohort::DataType::kF32 : cohort::DataType::kI32},
                       cohort::ReduceOp::kSum);
      }
      comm.barrier();  // a mismatch that slipped through may still surface here
      std::printf("mismatch_check: FAIL rank %d: mismatched %s raised no error\n", me, which.c_str());
      return 1;
    } catch (const cohort::Error& e) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const std::string message = e.what();
      // Every rank must say "mismatch" (directly, or in the report of the rank that saw it).
      // With fingerprints (COHORT_DEBUG=DETAIL) every rank also shows both ranks' values.
      const char* debug = std::getenv("COHORT_DEBUG");
      const bool detail = debug != nullptr && std::strcmp(debug, "DETAIL") == 0;
      const bool both_values =
          (which == "count" && Contains(message, "1000 x f32") && Contains(message, "999 x f32")) ||
          (which == "collective" && Contains(message, "allreduce") && Contains(message, "broadcast")) ||
          (which == "dtype" && Contains(message, "f32") && Contains(message, "i32"));
      const bool clear = Contains(message, "mismatch") && (!detail || both_values);
      std::printf("mismatch_check: %srank %d: error after %.2f s (%s message): %s\n",
                  clear && elapsed < 30 ? "" : "FAIL ", me, elapsed, clear ? "clear" : "unclear",
                  message.c_str());
      return clear && elapsed < 30 ? 0 : 1;
    }
  } catch (const cohort::Error& e) {
    std::printf("mismatch_check: FAIL rank %d: set-up failed: %s\n", me, e.what());
    return 1;
  }
}
