#!/usr/bin/env bash
# Installs cohort from the build tree into a temporary prefix, builds an outside project with
# find_package(cohort) against it, and runs that program alone and under the installed cohortrun.
set -euo pipefail
build_dir=$1
source_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
test -x "$work/prefix/bin/cohortrun"
test -x "$work/prefix/bin/cohort-bench"
test -f "$work/prefix/include/cohort/cohort.h"
# Built with MPI: the bootstrap helper lies next to libcohort, where init() looks for it.
if [ -f "$build_dir/libcohort_mpi.so" ]; then
  test -f "$work/prefix/lib/libcohort_mpi.so"
  test -f "$work/prefix/include/cohort/runtime/mpi/cohort_mpi.h"
fi
cmake -S "$source_dir/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log"
export LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}"
"$work/build/consumer"
"$work/prefix/bin/cohortrun" -np 2 --timeout 60 "$work/build/consumer"
# The Python package, when the build made it, imports and runs from the installed prefix.
python_dir=$(find "$work/prefix/lib" -maxdepth 3 -type d -path '*-packages/cohort' | head -n 1)
if [ -n "$python_dir" ]; then
  PYTHONPATH=$(dirname "$python_dir") /usr/bin/python3 -c '
import cohort.torch as ct, torch
ct.init()
t = ct.allreduce(torch.ones(4), op=ct.Sum)
assert t.tolist() == [float(ct.size())] * 4, t
print("install_test: installed Python package works, size", ct.size())'
fi
echo "install_test: installed package builds and runs"
