"""Shared set-up for the cohort.torch suites.

The suites run inside every rank of a job:

    build/launcher/cohortrun -np 4 -x PYTHONPATH=build/bindings/python \\
        /usr/bin/python3 -m pytest -q -x tests/python/test_torch_api.py

Run plainly (no launcher), a process is a world of one rank, and each suite's
`test_under_cohortrun` re-runs the suite under cohortrun with 2 and 4 ranks. The build tree is
the one holding the imported cohort package (or COHORT_BUILD_DIR).
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import List

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
LAUNCHED = "COHORT_RANK" in os.environ
try:  # without PYTHONPATH: the package in COHORT_BUILD_DIR (default: build/)
    import cohort  # noqa: F401
except ImportError:
    _pkg = pathlib.Path(os.environ.get("COHORT_BUILD_DIR", REPO / "build")) / "bindings" / "python"
    if (_pkg / "cohort").is_dir():
        sys.path.insert(0, str(_pkg.resolve()))
_IDENTITY_PREFIXES = ("COHORT_", "OMPI_", "PMIX_", "PMI_", "SLURM_")
_IDENTITY_NAMES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def build_dir() -> pathlib.Path:
    if os.environ.get("COHORT_BUILD_DIR"):
        return pathlib.Path(os.environ["COHORT_BUILD_DIR"]).resolve()
    import cohort as package
    return pathlib.Path(package.__file__).resolve().parents[3]


def clean_env() -> dict:
    """This environment without any job identity (for a nested, independent job)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_IDENTITY_PREFIXES) and k not in _IDENTITY_NAMES}
    env["PYTHONPATH"] = str(build_dir() / "bindings" / "python")
    return env


def run_job(np_: int, args: List[str], timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `python3 args...` in a fresh np_-rank job under cohortrun; skips if not built."""
    launcher = build_dir() / "launcher" / "cohortrun"
    if not launcher.exists():
        pytest.skip(f"{launcher} is not built")
    env = clean_env()
    cmd = [str(launcher), "-np", str(np_), "-x", f"PYTHONPATH={env['PYTHONPATH']}",
           sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def ct():
    """cohort.torch, initialized (once per process)."""
    import cohort.torch as ct_module
    ct_module.init()
    return ct_module
