#!/usr/bin/env bash
# Installs cohort's build and test dependencies on Debian 12 (as root; idempotent: packages
# already present are left as they are). Used by tests/run_all.sh and benchmarks/run_main.sh.
set -euo pipefail
packages=(cmake ninja-build g++ openmpi-bin libopenmpi-dev libucx-dev
          libboost-program-options-dev libgtest-dev pybind11-dev python3-dev python3-numpy
          python3-torch python3-pytest python3-matplotlib libgloo-dev iproute2
          clang libclang-rt-14-dev)  # libFuzzer (tests/fuzz); only recommended by clang-14
if [ "$(id -u)" -ne 0 ]; then
  echo "install_deps: not root; assuming these are installed: ${packages[*]}"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
