#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build (tests/fuzz/CMakeLists.txt) for a bounded time:
#   tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS_PER_TARGET [SUMMARY_FILE]
# Each target starts from its committed seed corpus (tests/fuzz/corpus/<target>/, only read) and
# writes the new units it finds to a temporary folder, so the repository is never touched. Prints
# per target the executions, coverage (cov: edges, ft: features), new units and crashes, and
# writes the same as a Markdown table to SUMMARY_FILE if given. Exits non-zero if any target
# crashed, leaked, timed out, ran out of memory or broke a property; its input and log tail are
# printed, and the input is kept under $FUZZ_ARTIFACTS (default: BUILD_DIR/fuzz-artifacts; replay
# it with BUILD_DIR/tests/fuzz/fuzz_TARGET FILE).
# Environment: FUZZ_TARGETS="a b" runs only those; FUZZ_JOBS=N runs N targets at a time (one
# core each; default 1); FUZZ_EXTRA_ARGS adds libFuzzer flags.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS_PER_TARGET [SUMMARY_FILE]" >&2
  exit 2
fi
build_dir=$1
seconds=$2
summary_file=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
bin_dir=$build_dir/tests/fuzz
if ! ls "$bin_dir"/fuzz_* >/dev/null 2>&1; then
  echo "run_fuzzers: no fuzz_* programs in $bin_dir; build them first:" >&2
  echo "  cmake -S . -B $build_dir -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++" \
       "-DCOHORT_BUILD_FUZZERS=ON ..." >&2
  echo "  cmake --build $build_dir --target cohort_fuzzers" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -n "${FUZZ_ARTIFACTS:-}" ]; then
  artifacts=$FUZZ_ARTIFACTS  # yours: any crash-like files already in it count as findings
else
  artifacts=$build_dir/fuzz-artifacts
  rm -rf "$artifacts"  # only this run's findings count
fi
mkdir -p "$artifacts"
# Symbolized stacks when Debian's llvm-symbolizer is there.
for s in llvm-symbolizer llvm-symbolizer-14; do
  if command -v "$s" >/dev/null 2>&1; then
    export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v "$s")}
    break
  fi
done
# A smaller quarantine keeps ASan's own memory well under -rss_limit_mb.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}

if [ -n "${FUZZ_TARGETS:-}" ]; then
  targets=$FUZZ_TARGETS
else
  targets=$(cd "$bin_dir" && ls fuzz_* | sed 's/^fuzz_//' | sort)
fi

# Runs one target; its table row goes to $work/$target.row, its report (on failure) to
# $work/$target.report, printed in target order once all have finished.
run_one() {
  local target=$1
  local program=$bin_dir/fuzz_$target
  local seeds=$here/corpus/$target
  local new_units=$work/new/$target
  local log=$work/$target.log
  mkdir -p "$new_units"
  [ -d "$seeds" ] || { echo "run_fuzzers: no seed corpus $seeds" >&2; seeds=""; }
  # -rss_limit_mb / -malloc_limit_mb: a length field must never make a decoder allocate without
  # bound; -timeout: one input may take at most 10 s.
  # shellcheck disable=SC2086
  "$program" -max_total_time="$seconds" -rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" ${FUZZ_EXTRA_ARGS:-} \
    "$new_units" $seeds >"$log" 2>&1
  local status=$?
  local execs added cov crashes result=ok
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 | awk '{print $2 "/" $4}')
  crashes=$(find "$artifacts" -name "$target-*" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    result="FAILED (exit $status)"
    {
      echo "=== fuzz_$target failed (exit $status); log tail:"
      grep -v '^#[0-9]' "$log" | tail -40
      for f in "$artifacts/$target-"*; do
        [ -f "$f" ] && echo "=== input kept at $f (base64: $(base64 -w0 "$f" | head -c 400))"
      done
    } >"$work/$target.report"
  fi
  echo "$target|${execs:-0}|${cov:-?}|${added:-?}|$crashes|$result" >"$work/$target.row"
}

# FUZZ_JOBS targets at a time (default 1; each libFuzzer process uses one core).
jobs=${FUZZ_JOBS:-1}
for target in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  run_one "$target" &
done
wait

rows=()
failed=0
total_execs=0
for target in $targets; do
  IFS='|' read -r name execs cov added crashes result <"$work/$target.row"
  if [ -f "$work/$target.report" ]; then
    cat "$work/$target.report" >&2
    failed=1
  fi
  total_execs=$((total_execs + execs))
  rows+=("| $name | $execs | $cov | $added | $crashes | $result |")
  printf '%-20s execs %-10s cov/ft %-12s new units %-6s crashes %-3s %s\n' "$name" "$execs" \
    "$cov" "$added" "$crashes" "$result"
done

table=$(
  echo "Fuzzing for ${seconds}s per target, $jobs at a time" \
       "($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores):"
  echo
  echo "| target | executions | cov/ft | new units | crashes | result |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Total executions: $total_execs"
)
if [ -n "$summary_file" ]; then
  printf '%s\n' "$table" >"$summary_file"
fi
if [ $failed -eq 0 ]; then
  echo "run_fuzzers: $total_execs executions; no crashes"
else
  echo "run_fuzzers: $total_execs executions; FAILURES above"
fi
exit $failed
