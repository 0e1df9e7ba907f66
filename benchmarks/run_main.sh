#!/usr/bin/env bash
# The main job: installs dependencies (Debian 12, as root), builds cohort into build/
# (RelWithDebInfo), measures allreduce with 4 ranks from 8 B to 64 MiB with every element
# checked, and runs the C++ and PyTorch data-parallel demos. Idempotent. Exits non-zero if either fails.
#   bash benchmarks/run_main.sh
set -uo pipefail
cd "$(dirname "$0")/.."
bash tests/install_deps.sh || exit 1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 1
cmake --build build -j "$(nproc)" || exit 1

build/launcher/cohortrun -np 4 build/benchmarks/cohort-bench allreduce -b 8 -e 64M -f 4 -c 1
bench_status=$?
build/launcher/cohortrun -np 4 build/examples/allreduce_demo
demo_status=$?
# The PyTorch training demo, when the build made the Python bindings (pybind11 + python3-dev).
train_status=0
if ls build/bindings/python/cohort/_C*.so > /dev/null 2>&1; then
  build/launcher/cohortrun -np 4 -x PYTHONPATH=build/bindings/python /usr/bin/python3 \
    examples/train.py --steps 60
  train_status=$?
fi
[ "$bench_status" -eq 0 ] && [ "$demo_status" -eq 0 ] && [ "$train_status" -eq 0 ]
