#!/usr/bin/env bash
# The GPU check: runs on a GPU host (no package manager or network needed) against a build made
# on a CPU machine by tests/gpu/pack_build.sh and carried over (build-gpu/bundle). Steps:
#   1. GPU unit tests (kernels vs CPU references, the NCCL backend, collectives on CUDA buffers);
#   2. multi-process runs of every collective on CUDA buffers through the staged path (2 and 4
#      processes sharing the GPU) and through NCCL (1 process), every element checked;
#   3. GPU benchmarks: fused kernels vs device copy bandwidth and vs PyTorch, cohort-bench -g 1.
# Everything lands in OUTDIR (logs, JSON, summary.md). Exit status 0 only if every step passed.
#   bash tests/gpu/run.sh OUTDIR
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-gpu-results}
bundle=${COHORT_GPU_BUNDLE:-build-gpu/bundle}
python=${PYTHON:-python3}
mkdir -p "$out"
if [ ! -x "$bundle/bin/cohortrun" ]; then
  echo "no build in $bundle: run tests/gpu/pack_build.sh on a machine with nvcc and carry it" >&2
  exit 2
fi
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=$bundle/bin
# NCCL: the host's, else the one in PyTorch's environment (pip wheel nvidia-nccl-cu13).
if [ -z "${COHORT_NCCL_LIBRARY:-}" ]; then
  wheel=$("$python" -c "import nvidia.nccl as n; print(list(n.__path__)[0] + '/lib/libnccl.so.2')" 2>/dev/null)
  if [ -n "$wheel" ] && [ -f "$wheel" ]; then export COHORT_NCCL_LIBRARY=$wheel; fi
fi
summary=$out/summary.md
failures=0
{
  echo "# cohort GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo none)"
  echo "- NCCL library: ${COHORT_NCCL_LIBRARY:-libnccl.so.2 (loader default)}"
  echo "- PyTorch: $("$python" -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>/dev/null || echo none)"
  echo
  echo "| step | result | log |"
  echo "|---|---|---|"
} > "$summary"

step() {  # step NAME TIMEOUT_S command...: runs it, logs it, records the result
  local name=$1 limit=$2
  shift 2
  local log=$out/$name.log
  local start=$SECONDS
  timeout "$limit" "$@" > "$log" 2>&1
  local rc=$?
  local verdict="pass"
  [ $rc -ne 0 ] && verdict="FAIL (exit $rc)" && failures=$((failures + 1))
  grep -q "SKIPPED" "$log" 2>/dev/null && [ $rc -eq 0 ] && verdict="pass (some skipped)"
  echo "| $name | $verdict, $((SECONDS - start)) s | $name.log |" >> "$summary"
  echo "== $name: $verdict"
  return 0
}

# 1. GPU unit tests.
for test in "$bin"/gpu_*; do
  [ -x "$test" ] || continue
  name=$(basename "$test")
  step "$name" 300 "$test" --gtest_output="json:$out/$name.json"
done

# 2. Every collective on CUDA buffers across processes, every element checked.
collectives="allreduce reduce_scatter allgather broadcast reduce alltoall"
for np in 2 4; do
  for c in $collectives; do
    step "staged_np${np}_$c" 120 "$bin/cohortrun" -np "$np" --timeout 110 \
      -x COHORT_CUDA_BACKEND=staged -x COHORT_STAGING_CHUNK_BYTES=256K \
      "$bin/cohort-bench" "$c" -b 8 -e 8M -f 16 -g 1 -c 1 -n 3 -w 1 -d all
  done
done
for c in $collectives; do
  step "nccl_np1_$c" 120 "$bin/cohortrun" -np 1 --timeout 110 -x COHORT_CUDA_BACKEND=nccl \
    "$bin/cohort-bench" "$c" -b 8 -e 16M -f 8 -g 1 -c 1 -n 5 -w 2 -d all -o all
done

# 3. Benchmarks.
step bench_allreduce_nccl_np1 300 "$bin/cohortrun" -np 1 -x COHORT_CUDA_BACKEND=nccl \
  "$bin/cohort-bench" allreduce -b 8 -e 1G -f 4 -g 1 -c 1 -n 20 -w 5 --json "$out/allreduce_nccl_np1.json"
step bench_allreduce_staged_np2 300 "$bin/cohortrun" -np 2 -x COHORT_CUDA_BACKEND=staged \
  "$bin/cohort-bench" allreduce -b 8 -e 256M -f 4 -g 1 -c 1 -n 5 -w 2 --json "$out/allreduce_staged_np2.json"
for b in multi-tensor optimizer; do
  if [ -x "$bin/gpu-$b-bench" ]; then
    step "bench_$b" 400 "$bin/gpu-$b-bench" --json "$out/${b//-/_}.json"
  fi
  script=benchmarks/gpu/torch_${b//-/_}_bench.py
  if [ -f "$script" ]; then
    step "bench_torch_$b" 400 env PYTHONUNBUFFERED=1 "$python" "$script" --json "$out/torch_${b//-/_}.json"
  fi
done
if [ -f benchmarks/gpu/report.py ]; then
  "$python" benchmarks/gpu/report.py "$out" >> "$summary" 2> "$out/report.log" || failures=$((failures + 1))
fi

echo >> "$summary"
echo "failed steps: $failures" >> "$summary"
cat "$summary"
[ "$failures" -eq 0 ]
