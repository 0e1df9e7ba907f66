#!/usr/bin/env bash
# Builds what tests/gpu/run.sh needs on a CPU machine with nvcc (no GPU needed) and packs it,
# with the shared libraries it needs that a bare GPU host lacks (Boost.Program_options), into
# build-gpu/bundle/{bin,lib}: a folder to carry to the GPU host (small: Release, stripped).
#   bash tests/gpu/pack_build.sh            then, on the GPU host:  bash tests/gpu/run.sh OUTDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
# No MPI or Gloo: the bundle's cohort-bench must not need libraries a bare GPU host lacks.
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOHORT_BUILD_PYTHON=OFF \
  -DCOHORT_WITH_CUDA=ON -DCOHORT_WITH_MPI=OFF -DCOHORT_WITH_GLOO=OFF >/dev/null
targets=(cohort cohortrun cohort-bench)
for t in gpu_multi_tensor gpu_optimizer gpu_nccl gpu_comm gpu-multi-tensor-bench \
         gpu-optimizer-bench; do
  if cmake --build build-gpu --target help | grep -q "^$t:"; then targets+=("$t"); fi
done
cmake --build build-gpu -j "$(nproc)" --target "${targets[@]}"

bundle=build-gpu/bundle
rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
cp -L build-gpu/libcohort.so.0 "$bundle/lib/"
cp build-gpu/launcher/cohortrun build-gpu/benchmarks/cohort-bench "$bundle/bin/"
find build-gpu/tests/gpu build-gpu/benchmarks/gpu -maxdepth 1 -type f -executable \
  \( -name 'gpu_*' -o -name 'gpu-*' \) -exec cp {} "$bundle/bin/" \;
# Non-system libraries the binaries link (Boost); glibc and libstdc++ are on every host.
ldd "$bundle"/bin/* | awk '/=> \// {print $3}' | sort -u |
  grep -E 'boost' | xargs -r -I{} cp -L {} "$bundle/lib/"
strip --strip-unneeded "$bundle"/bin/* "$bundle"/lib/* 2>/dev/null || true
du -sh "$bundle"
