#!/usr/bin/env bash
# Training throughput of examples/train.py's CNN with 2 and 4 local ranks: cohort's
# DistributedOptimizer against torch DDP over gloo, in the same cohortrun job (see
# benchmarks/train_bench.py). Writes train-np<N>[-b<B>].json, the console output (.txt), the
# command lines (commands.txt) and throughput-b<B>.png to OUTDIR.
#   bash benchmarks/run_train_bench.sh [OUTDIR] [BUILD_DIR] [-- extra train_bench.py options]
# OUTDIR defaults to benchmarks/results/<today>-train-cpu; BUILD_DIR to build.
# BATCHES (default "32 8") lists the per-rank batch sizes to measure.
set -euo pipefail
invocation="$*"
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/results/$(date +%F)-train-cpu}
build=${2:-build}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
mkdir -p "$out"
# The settings that shape the run (COHORT_* reaches every rank through cohortrun) go first.
settings=""
for var in $(compgen -e | grep -E '^(COHORT_[A-Z_]+|BATCHES)$' | sort); do
  settings+="$var=$(printf '%q' "${!var}") "
done
echo "# made by: ${settings}bash benchmarks/run_train_bench.sh $invocation" > "$out/commands.txt"
for batch in ${BATCHES:-32 8}; do
  jsons=()
  for np in 2 4; do
    name="train-np${np}-b${batch}"
    cmd=("$build/launcher/cohortrun" -np "$np" -x "PYTHONPATH=$build/bindings/python"
         /usr/bin/python3 "$here/train_bench.py" --batch-size "$batch" --json "$out/$name.json" "$@")
    echo "${cmd[*]}" | tee -a "$out/commands.txt"
    "${cmd[@]}" | tee "$out/$name.txt"
    jsons+=("$out/$name.json")
  done
  plot=(/usr/bin/python3 "$here/train_bench.py" --plot "${jsons[@]}" -o "$out/throughput-b${batch}.png")
  echo "${plot[*]}" | tee -a "$out/commands.txt"
  "${plot[@]}"
done
