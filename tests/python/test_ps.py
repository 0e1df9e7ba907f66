"""cohort.torch.ParameterStore and ShardedOptimizer inside every rank of a job (see conftest.py):
synchronous SGD through the store against allreduce + torch.optim.SGD, asynchronous pushes that
sum exactly, save and load, bad keys, and ZeRO against allreduce + torch.optim.AdamW."""
from __future__ import annotations

import os
import shutil

import pytest
import torch

from conftest import LAUNCHED, run_job

pytest.importorskip("cohort", reason="the cohort package (cohort._C) is not built")

_stores = [0]


def store(ct, **kw):
    _stores[0] += 1  # every store of the job gets its own name (and rendezvous keys)
    return ct.ParameterStore(name=f"pytest{_stores[0]}", **kw)


def grads_for(step, rank, shapes):
    g = torch.Generator().manual_seed(1000 * step + rank)
    return [torch.randn(s, generator=g) for s in shapes]


SHAPES = [(64, 33), (33,), (5, 7, 3)]


def test_sync_sgd_matches_allreduce_sgd(ct):
    ps = store(ct, optimizer={"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True})
    torch.manual_seed(0)
    params = [torch.randn(s) for s in SHAPES]
    reference = [torch.nn.Parameter(p.clone()) for p in params]
    opt = torch.optim.SGD(reference, lr=0.1, momentum=0.9, nesterov=True)
    names = [f"w{i}" for i in range(len(SHAPES))]
    for name, p in zip(names, params):
        ps.init(name, p)
    for step in range(1, 5):
        grads = grads_for(step, ct.rank(), SHAPES)
        ps.push_pull(names, grads, params)
        for r, g in zip(reference, grads):
            r.grad = ct.allreduce(g.clone(), op=ct.Average)
        opt.step()
        for p, r in zip(params, reference):
            torch.testing.assert_close(p, r.detach(), rtol=1e-6, atol=1e-6)
    assert ps.step("w0") == 4
    ps.close()


def test_async_pushes_sum_exactly(ct):
    ps = store(ct, asynchronous=True, optimizer={"type": "aggregate"}, min_split_bytes=64)
    value = torch.zeros(100)
    ps.init("counter", value)
    inc = torch.full((100,), float(ct.rank() + 1))
    handles = [ps.push_async("counter", inc) for _ in range(200)]
    for h in handles:
        h.wait()
    ct.barrier()
    ps.pull("counter", value)
    n = ct.size()
    assert torch.equal(value, torch.full((100,), 200.0 * n * (n + 1) / 2))
    ps.close()


def test_save_and_load(ct):
    directory = f"/tmp/cohort-pytest-ps-{os.environ.get('COHORT_JOB_ID', 'single')}"
    ps = store(ct, optimizer={"type": "adamw", "lr": 1e-2})
    w = torch.randn(300, generator=torch.Generator().manual_seed(3))
    ps.init("w", w)
    ps.push_pull("w", grads_for(1, ct.rank(), [(300,)])[0], w)
    ps.save(directory)
    saved = w.clone()
    ps.close()
    again = store(ct)
    again.load(directory)
    assert again.keys() == ["w"] and again.step("w") == 1
    assert again.optimizer("w")["type"] == "adamw"
    out = torch.empty(300)
    again.pull("w", out)
    assert torch.equal(out, saved)
    again.close()
    ct.barrier()
    if ct.rank() == 0:
        shutil.rmtree(directory, ignore_errors=True)


def test_bad_keys_are_value_errors(ct):
    import cohort
    ps = store(ct)
    ps.init("w", torch.zeros(4))
    with pytest.raises(cohort.CohortValueError, match="unknown key 'nope'"):
        ps.pull("nope", torch.zeros(4))
    with pytest.raises(cohort.CohortValueError, match="5 elements"):
        ps.push("w", torch.zeros(5))
    with pytest.raises(cohort.CohortValueError, match="dtype f64"):
        ps.push("w", torch.zeros(4, dtype=torch.float64))
    ps.close()


def test_sharded_optimizer_matches_allreduce_adamw(ct):
    torch.manual_seed(1)
    model = [torch.nn.Parameter(torch.randn(s)) for s in SHAPES]
    reference = [torch.nn.Parameter(p.detach().clone()) for p in model]
    zero = ct.ShardedOptimizer(model, "adamw", stage=2, bucket_bytes=4096, lr=1e-2, weight_decay=0.01)
    opt = torch.optim.AdamW(reference, lr=1e-2, weight_decay=0.01)
    for step in range(1, 5):
        grads = grads_for(step, ct.rank(), SHAPES)
        zero.zero_grad()
        for p, g in zip(model, grads):
            p.grad.copy_(g)
        zero.step()
        for r, g in zip(reference, grads):
            r.grad = ct.allreduce(g.clone(), op=ct.Average)
        opt.step()
    scale = max(r.detach().abs().max().item() for r in reference)
    diff = max((p.detach() - r.detach()).abs().max().item() for p, r in zip(model, reference))
    assert diff <= 1e-5 * scale, f"max difference {diff} (scale {scale})"
    total = sum(p.numel() for p in model)
    assert zero.state_bytes() <= 2 * 4 * (total // ct.size() + 16 * ct.size())


@pytest.mark.skipif(LAUNCHED, reason="already inside a job")
@pytest.mark.parametrize("np_", [2, 3])
def test_under_cohortrun(np_):
    proc = run_job(np_, ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__], timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
