#!/usr/bin/env bash
# Measures cohort-bench allreduce (8 B .. 256 MiB, every result checked) with 2 and 4 local ranks
# over shm and over tcp, writes each table (.txt) and its rows (.json) to OUTDIR, and plots busbw.
#   bash benchmarks/measure_allreduce.sh benchmarks/results/2026-11-24-allreduce-cpu [build]
set -euo pipefail
out=${1:?usage: measure_allreduce.sh OUTDIR [BUILD_DIR]}
build=${2:-build}
mkdir -p "$out"
for np in 2 4; do
  for transport in shm tcp; do
    name="allreduce-np${np}-${transport}"
    echo "== $name"
    "$build/launcher/cohortrun" -np "$np" -x COHORT_TRANSPORT="$transport" \
      "$build/benchmarks/cohort-bench" allreduce -b 8 -e 256M -f 4 -c 1 --json "$out/$name.json" \
      | tee "$out/$name.txt"
  done
done
/usr/bin/python3 "$(dirname "$0")/plot_busbw.py" "$out"/allreduce-np*.json -o "$out/busbw.png"
