#!/usr/bin/env bash
# benchmarks/one_host.py --quick must produce its CSV (with a row per system and the memory
# ceiling), its report and, where matplotlib exists, its plot. Usage: SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$1 build_dir=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
/usr/bin/python3 "$source_dir/benchmarks/one_host.py" --build "$build_dir" --out "$out/one-host" --quick
csv=$out/one-host.csv
for system in cohort openmpi openmpi-malloc-tuned openmpi-ucx gloo-ring gloo-hd ceiling; do
  if ! command -v mpirun >/dev/null && [[ $system == openmpi* ]]; then continue; fi
  grep -q "^$system,2," "$csv" || { echo "no $system row in $csv"; cat "$csv"; exit 1; }
done
grep -q "| 8 B |" "$out/one-host.md" || { echo "report lacks the 8 B row"; cat "$out/one-host.md"; exit 1; }
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  [ -s "$out/one-host.png" ] || { echo "no plot"; exit 1; }
fi
echo "bench_one_host_quick: CSV, report and plot made"
