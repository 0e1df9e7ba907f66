#!/usr/bin/env bash
# Measures the parameter store and ZeRO with ps-bench on 4 workers and writes the tables, JSON and a
# plot into OUT: dedicated servers (cohortrun --servers K) and servers co-located with the workers,
# K = 1, 2, 4, synchronous and asynchronous; then the ZeRO step against allreduce-then-update.
#   bash benchmarks/measure_ps.sh OUT [BUILD]
set -euo pipefail
out=$1
build=${2:-build}
mkdir -p "$out"
run=("$build/launcher/cohortrun" --timeout 1200 -x COHORT_TIMEOUT=300)
bench="$build/benchmarks/ps-bench"
for k in 1 2 4; do
  for mode in sync async; do
    flag=$([ "$mode" = async ] && echo --async || true)
    "${run[@]}" -np 4 --servers "$k" "$bench" --no-zero --large-iters 8 $flag --json "$out/ps-dedicated$k-$mode.json" \
      | tee "$out/ps-dedicated$k-$mode.txt"
    "${run[@]}" -np 4 "$bench" --colocated "$k" --no-zero --large-iters 8 $flag --json "$out/ps-colocated$k-$mode.json" \
      | tee "$out/ps-colocated$k-$mode.txt"
  done
done
"${run[@]}" -np 4 "$bench" --no-store --json "$out/zero-np4.json" | tee "$out/zero-np4.txt"
/usr/bin/python3 "$(dirname "$0")/ps_bench/plot.py" "$out/ps-dedicated.png" "$out"/ps-dedicated*.json
/usr/bin/python3 "$(dirname "$0")/ps_bench/plot.py" "$out/ps-colocated.png" "$out"/ps-colocated*.json
