#!/usr/bin/env bash
# The test command: installs dependencies (Debian 12, as root), builds cohort into build/
# (RelWithDebInfo) and build-asan/ (AddressSanitizer + UBSan, benchmarks included), and runs the
# whole ctest suite in both, the ASan one last; before them, ThreadSanitizer over the threaded
# unit tests (tests/run_tsan.sh, build-tsan/) and every libFuzzer target for 10 s (clang,
# tests/fuzz/run_fuzzers.sh, build-fuzz/). Idempotent; safe to re-run. Exits non-zero if
# any of them failed. Nothing is printed after the last ctest, so the final lines are its
# summary ("100% tests passed, 0 tests failed out of N").
#   bash tests/run_all.sh
set -uo pipefail
cd "$(dirname "$0")/.."
bash tests/install_deps.sh || exit 1

jobs=$(nproc)
build() {  # build DIR [cmake options...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" && cmake --build "$dir" -j "$jobs"
}
build build || exit 1
# -O1 -g1 in the sanitizer build: what ASan's authors recommend, and it compiles about 40% faster
# than -O2 -g on these 2-core machines while reports keep their file:line.
build build-asan -DCOHORT_SANITIZE=address,undefined -DCOHORT_BUILD_BENCHMARKS=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" || exit 1
# ThreadSanitizer over the threaded unit tests only (build-tsan/; tests/run_tsan.sh says which and
# why). Before the ctest runs, so that their summary stays the last thing printed.
bash tests/run_tsan.sh build-tsan
tsan_status=$?
# Fuzzers (tests/fuzz/README.md): a clang build of only the fuzz targets and what they link, each
# target run for 10 s from its committed seed corpus, two at a time; the table goes to
# build-fuzz/fuzz_summary.md. Here rather than in ctest, so that the release suite does not
# depend on a clang build; before the ctest runs, so that their summary stays the last thing.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DCOHORT_BUILD_FUZZERS=ON -DCOHORT_BUILD_TESTS=OFF \
  -DCOHORT_BUILD_BENCHMARKS=OFF -DCOHORT_BUILD_PYTHON=OFF \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" &&
  cmake --build build-fuzz -j "$jobs" --target cohort_fuzzers &&
  FUZZ_JOBS=$jobs bash tests/fuzz/run_fuzzers.sh build-fuzz 10 build-fuzz/fuzz_summary.md
fuzz_status=$?

# Multi-process tests are RUN_SERIAL (each already runs several ranks); unit tests share -j.
ctest --test-dir build --output-on-failure -j "$jobs"
release_status=$?
echo "=== build/ (RelWithDebInfo): ctest exit status ${release_status}; now build-asan/ ==="
ctest --test-dir build-asan --output-on-failure -j "$jobs"
asan_status=$?
[ "$release_status" -eq 0 ] && [ "$asan_status" -eq 0 ] && [ "$tsan_status" -eq 0 ] &&
  [ "$fuzz_status" -eq 0 ]
