"""Smoke test of examples/train.py: 2 ranks under cohortrun train for a few steps, exit 0, and
the loss falls.

    COHORT_BUILD_DIR=build /usr/bin/python3 -m pytest tests/python/test_train_demo.py

COHORT_BUILD_DIR (default: build) is the CMake build tree holding launcher/cohortrun and
bindings/python/cohort; COHORTRUN overrides the launcher's path.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("COHORT_BUILD_DIR", REPO / "build")).resolve()
COHORTRUN = pathlib.Path(os.environ.get("COHORTRUN", BUILD / "launcher" / "cohortrun"))
PYPATH = BUILD / "bindings" / "python"


def run_demo(np_, *args, timeout=50):
    if not COHORTRUN.exists():
        pytest.skip(f"{COHORTRUN} is not built")
    if not list((PYPATH / "cohort").glob("_C*.so")):
        pytest.skip(f"the cohort._C extension is not built under {PYPATH}")
    cmd = [str(COHORTRUN), "-np", str(np_), "-x", f"PYTHONPATH={PYPATH}", sys.executable,
           str(REPO / "examples" / "train.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_two_ranks_loss_falls():
    proc = run_demo(2, "--steps", "20", "--log-every", "10", "--samples", "4096")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    m = re.search(r"summary: ranks 2 .* loss ([0-9.]+) -> ([0-9.]+)", out)
    assert m, out
    first, last = float(m.group(1)), float(m.group(2))
    assert last < first, out
    # Only rank 0 prints the progress lines.
    assert re.search(r"^\[0\] step +20 +loss", out, re.M), out
    assert not re.search(r"^\[1\] step", out, re.M), out


def test_fp16_compression_loss_falls():
    proc = run_demo(2, "--steps", "20", "--log-every", "10", "--samples", "4096",
                    "--compression", "fp16")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "compression fp16" in out, out
