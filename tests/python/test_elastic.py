"""Elastic training: a job under `cohortrun --elastic` loses a rank mid-run, the survivors
shrink their communicator, go back to the last committed state and finish with fewer ranks.

The model is a least-squares fit trained by averaged-gradient SGD on numpy arrays. Each rank's
data shard depends on its rank in the current world, so the survivors' continued training is
checked against the same arithmetic done here in one process: world of 3 for the first steps,
then a world of 2 from the last commit. Run once (NP 0): the test starts its own jobs: on this
host (-np 3), and across two "hosts" (-H a:2,b:1 through a remote shell that runs the command
here), where rank 2 alone on host b dies, or takes its host's agent down with it (a lost host).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import build_dir, clean_env

STEPS, KILL_AT, LR = 12, 5, 0.1

TRAIN_SCRIPT = f"""
import os, signal, sys
import numpy as np
import cohort, cohort.elastic as elastic

STEPS, KILL_AT, LR = {STEPS}, {KILL_AT}, {LR}

def gradient(w, rank, size, step):
    x = np.linspace(0.1, 0.8, 8) * (rank + 1) / size + step * 0.001
    return 2 * x * (x @ w - 1.0)

cohort.init()
victim = int(sys.argv[1])
lose_host = len(sys.argv) > 2 and sys.argv[2] == "host"  # kill this host's cohortrun agent first
state = elastic.State(w=np.zeros(8), step=0)
worlds = []
state.register_reset_callbacks([lambda: worlds.append(cohort.size())])

@elastic.run
def train(state):
    while state.step < STEPS:
        if cohort.rank() == victim and cohort.size() == 3 and state.step == KILL_AT:
            if lose_host:
                os.kill(os.getppid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        g = gradient(state.w, cohort.rank(), cohort.size(), state.step)
        cohort.allreduce(g, None, cohort.OP_AVG)
        state.w -= LR * g
        state.step += 1
        state.commit()

train(state)
print(f"elastic_check rank {{cohort.rank()}} of {{cohort.size()}} resets {{worlds}} "
      f"step {{state.step}} w " + ",".join(repr(float(v)) for v in state.w), flush=True)
cohort.shutdown()
"""


def expected_weights(victim_world_size_after: int) -> np.ndarray:
    """The same training in one process: 3 ranks up to KILL_AT, then the survivors."""
    def gradient(w, rank, size, step):
        x = np.linspace(0.1, 0.8, 8) * (rank + 1) / size + step * 0.001
        return 2 * x * (x @ w - 1.0)
    w = np.zeros(8)
    for step in range(STEPS):
        size = 3 if step < KILL_AT else victim_world_size_after
        g = sum(gradient(w, r, size, step) for r in range(size)) / size
        w = w - LR * g
    return w


@pytest.mark.parametrize("victim,hosts,lost", [
    (2, None, "rank 2 (pid"), (0, None, "rank 0 (pid"),
    (2, "a:2,b:1", "rank 2 (pid"), (2, "a:2,b:1", "the agent of host b (rank 2)")],
    ids=["last-rank-lost", "rank0-lost", "two-hosts-rank-lost", "two-hosts-host-lost"])
def test_training_goes_on_after_a_rank_is_lost(tmp_path, victim, hosts, lost):
    launcher = build_dir() / "launcher" / "cohortrun"
    if not launcher.exists():
        pytest.skip(f"{launcher} is not built")
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    env = clean_env()
    where = ["-np", "3"]
    if hosts:  # every "host" is this machine: the remote shell drops the host name
        rsh = tmp_path / "fake-rsh"
        rsh.write_text('#!/bin/sh\nshift\nexec "$@"\n')
        rsh.chmod(0o755)
        where = ["-H", hosts, "--rsh", str(rsh), "--store-addr", "127.0.0.1"]
    args = [str(victim)] + (["host"] if lost.startswith("the agent") else [])
    cmd = [str(launcher)] + where + ["--elastic", "--timeout", "120", "-x", "COHORT_TIMEOUT=20",
                                     "-x", f"PYTHONPATH={env['PYTHONPATH']}", sys.executable,
                                     str(script)] + args
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert lost in text and "go on (--elastic)" in text, text
    lines = [l for l in text.splitlines() if "elastic_check" in l]
    assert len(lines) == 2, text
    want = expected_weights(2)
    for line in lines:
        assert "of 2 resets [2] step 12 w " in line, line
        got = np.array([float(v) for v in line.split(" w ")[1].split(",")])
        # The allreduce averages in another order than this sum: equal to rounding.
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=line)


def test_elastic_refuses_what_it_cannot_do():
    launcher = build_dir() / "launcher" / "cohortrun"
    if not launcher.exists():
        pytest.skip(f"{launcher} is not built")
    done = subprocess.run([str(launcher), "-np", "2", "--elastic", "--servers", "1", "true"],
                          capture_output=True, text=True, timeout=60, env=clean_env())
    assert done.returncode != 0
    assert "--elastic works for jobs without --mpi or --servers" in done.stderr + done.stdout
