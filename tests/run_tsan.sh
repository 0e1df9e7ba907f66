#!/usr/bin/env bash
# ThreadSanitizer over the parts of cohort where threads meet: builds, in build-tsan/, only the
# unit tests that run several ranks as threads or drive progress threads (store server and
# clients, transports, communicator and Work, parameter store, ZeRO, collectives over in-process
# peers), then runs them, two at a time. Exits non-zero if a build fails, a test fails, or TSan
# reports anything. Used by tests/run_all.sh; also by hand:
#   bash tests/run_tsan.sh [BUILD_DIR]      (default build-tsan)
#
# Scope and what is left out, and why:
# - Multi-process tests (tests/multiproc, cohortrun) are not here: TSan sees one process, and
#   ranks as threads in these binaries already meet in the same code. Ranks as threads map each
#   shm segment at their own address, so TSan cannot pair accesses made through shared memory:
#   it checks the threads' own data (queues, Work, links, sockets), not the shm rings' protocol.
#   By hand, cohortrun and tests/soak build here too (--target cohortrun soak); run the soak
#   with --rss-limit-mib 512, as TSan's shadow memory grows with the run.
# - CUDA is off (no GPU in CI, and nvcc adds minutes).
# - The benchmark tests (LinkBench) and the collectives' full value matrix (CollectivesTest, and
#   the big hierarchical layouts) only time or re-check single-threaded algorithm code over
#   in-process peers; under TSan's 5-15x slowdown they would take over ten minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-tsan}
jobs=$(nproc)
[ "$jobs" -gt 2 ] && jobs=2

tests=(unit_store unit_transport unit_comm unit_ps unit_zero unit_collectives)
# Tests left out of each binary (gtest negative filters): benchmarks and the big value
# matrices (see above).
declare -A filter=(
  [unit_transport]='-Transports/LinkBench.*'
  [unit_collectives]='-CollectivesTest.*:HierarchicalTest.Allreduce:HierarchicalTest.Allgather'
)

# -O1 -g1 as in the ASan build (tests/run_all.sh); benchmarks off (not tested here).
mkdir -p "$dir"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOHORT_SANITIZE=thread \
  -DCOHORT_BUILD_BENCHMARKS=OFF -DCOHORT_WITH_CUDA=OFF \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" >"$dir/configure.log" 2>&1 ||
  { cat "$dir/configure.log"; echo "run_tsan: configure failed"; exit 1; }
# The transports that libcohort loads at run time (unit_comm uses ucx where it was found).
targets=("${tests[@]}")
for plugin in cohort_ucx cohort_mpi; do
  grep -q "^build $plugin:" "$dir/build.ninja" && targets+=("$plugin")
done
cmake --build "$dir" -j "$jobs" --target "${targets[@]}" || { echo "run_tsan: build failed"; exit 1; }
echo "run_tsan: configured and built in ${SECONDS} s"

# halt_on_error=0: every report of a run is printed; the process then exits 66.
# UCX_MEM_EVENTS=no: UCX's memory hooks patch malloc and mmap at run time, which crashes under
# TSan's own interceptors; cohort does not use UCX memory events.
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
if [ -f tests/tsan.supp ]; then
  export TSAN_OPTIONS="$TSAN_OPTIONS suppressions=$PWD/tests/tsan.supp"
fi
export UCX_MEM_EVENTS=no

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
run_one() {  # run_one TEST: runs it, writes its log and exit status under $logs
  local t=$1 start=$SECONDS
  timeout 900 "$dir/tests/$t" --gtest_brief=1 ${filter[$t]:+--gtest_filter=${filter[$t]}} \
    >"$logs/$t.log" 2>&1
  echo "$? $((SECONDS - start))" >"$logs/$t.status"
}
running=0
for t in "${tests[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "${tests[@]}"; do
  read -r status seconds <"$logs/$t.status"
  reports=$(grep -c 'WARNING: ThreadSanitizer' "$logs/$t.log")
  if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
    grep -v '^cohort\[' "$logs/$t.log" | tail -n 200
    echo "run_tsan: $t FAILED (exit status $status, $reports ThreadSanitizer reports, ${seconds} s)"
    failed=1
  else
    echo "run_tsan: $t passed (${seconds} s)"
  fi
done
[ "$failed" -eq 0 ] && echo "run_tsan: every test passed with no ThreadSanitizer report"
echo "run_tsan: ${SECONDS} s in all"
exit "$failed"
