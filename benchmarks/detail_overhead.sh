#!/usr/bin/env bash
# The cost of COHORT_DEBUG=DETAIL (every collective's fingerprint compared across ranks before it
# runs) on small allreduces: 4 ranks, 8 B to 64 KiB, over shm and over tcp, rounds alternating
# off/on so that drift on a shared machine hits both alike. Writes results.csv (one row per
# round, size and setting), summary.md and overhead.png into OUT.
#   benchmarks/detail_overhead.sh OUT [BUILD=build] [ROUNDS=5] [ITERS=2000]
set -euo pipefail
out=$1 build=${2:-build} rounds=${3:-5} iters=${4:-2000}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
csv="$out/results.csv"
echo "transport,detail,round,bytes,time_us" >"$csv"
echo "$0 $*" >"$out/command.txt"
for ((round = 1; round <= rounds; round++)); do
  for transport in shm tcp; do
    for detail in off on; do
      env=(-x COHORT_TRANSPORT="$transport")
      [ "$detail" = on ] && env+=(-x COHORT_DEBUG=DETAIL)
      json=$(mktemp)
      "$build/launcher/cohortrun" -np 4 --timeout 300 "${env[@]}" "$build/benchmarks/cohort-bench" \
        allreduce -b 8 -e 64K -f 8 -n "$iters" -w 200 -c 0 --json "$json" >/dev/null
      /usr/bin/python3 -c '
import json, sys
for row in json.load(open(sys.argv[1]))["rows"]:
    print(",".join(sys.argv[2:5] + [str(row["size"]), str(row["ip"]["time_us"])]))
' "$json" "$transport" "$detail" "$round" >>"$csv"
      rm -f "$json"
      echo "round $round $transport DETAIL $detail done"
    done
  done
done
/usr/bin/python3 "$here/detail_summary.py" "$csv" "$out/summary.md" "$out/overhead.png"
