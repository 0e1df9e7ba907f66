"""DistributedOptimizer, broadcast_parameters and broadcast_optimizer_state, inside every rank
of a job (see conftest.py). Every rank also trains the single-process reference itself, on the
concatenation of all ranks' batches, and compares."""
from __future__ import annotations

import pytest
import torch

from conftest import LAUNCHED, run_job

pytest.importorskip("cohort", reason="the cohort package (cohort._C) is not built")

B, DIN, DOUT, STEPS = 6, 8, 3, 20


def model(seed: int = 0, dtype=torch.float64) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(DIN, 16), torch.nn.Tanh(),
                               torch.nn.Linear(16, 16), torch.nn.Tanh(),
                               torch.nn.Linear(16, DOUT)).to(dtype)


def batch(step: int, rows: int, dtype=torch.float64):
    """The full (every rank's rows) batch of a step; rank r uses rows [r*B, (r+1)*B)."""
    g = torch.Generator().manual_seed(500 + step)
    x = torch.randn(rows, DIN, generator=g, dtype=torch.float64)
    y = 0.5 * torch.sin(x[:, :DOUT]) + 0.3 * x[:, DOUT:2 * DOUT]
    return x.to(dtype), y.to(dtype)


def loss_fn(m, x, y):
    return torch.nn.functional.mse_loss(m(x), y)


def make_opt(kind: str, params, lr=0.05):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-3)
    return torch.optim.Adam(params, lr=lr / 10)


def train_reference(kind, steps=STEPS, rows_per_step=None, dtype=torch.float64):
    m = model(0, dtype)
    opt = make_opt(kind, m.parameters())
    losses = []
    for s in range(steps):
        x, y = batch(s, rows_per_step, dtype)
        opt.zero_grad()
        loss = loss_fn(m, x, y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return m, losses


def train_distributed(ct, kind, steps=STEPS, passes=1, dtype=torch.float64, **kw):
    n, r = ct.size(), ct.rank()
    m = model(0, dtype)
    opt = ct.DistributedOptimizer(make_opt(kind, m.parameters()),
                                  named_parameters=m.named_parameters(),
                                  backward_passes_per_step=passes, **kw)
    losses = []
    for s in range(steps):
        x, y = batch(s, n * B * passes, dtype)
        opt.zero_grad()
        for p in range(passes):
            rows = slice((p * n + r) * B, (p * n + r + 1) * B)
            loss = loss_fn(m, x[rows], y[rows]) / passes
            loss.backward()
        opt.step()
        losses.append(float(ct.allreduce(torch.tensor(float(loss) * passes))))
    return m, opt, losses


def flat(m) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()])


def assert_same_on_all_ranks(ct, t: torch.Tensor):
    every = ct.allgather(t.reshape(1, -1))
    for q in range(ct.size()):
        assert torch.equal(every[q], every[0]), f"rank {q} differs from rank 0"


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_matches_single_process(ct, kind):
    m, opt, _ = train_distributed(ct, kind)
    ref, _ = train_reference(kind, rows_per_step=ct.size() * B)
    assert isinstance(opt, torch.optim.SGD if kind == "sgd" else torch.optim.Adam)
    assert torch.allclose(flat(m), flat(ref), rtol=1e-5, atol=1e-8)
    assert_same_on_all_ranks(ct, flat(m))
    sd = opt.state_dict()  # state_dict / load_state_dict of the wrapped optimizer work
    opt.load_state_dict(sd)
    assert len(sd["state"]) == len(list(m.parameters()))


def test_gradients_live_in_the_fusion_buffers(ct):
    """.grad is a view of a bucket buffer (nothing copied in or out), and training still matches
    single-process training when zero_grad(set_to_none=True) makes autograd allocate new grads."""
    n, r = ct.size(), ct.rank()
    m = model(0)
    opt = ct.DistributedOptimizer(make_opt("sgd", m.parameters()),
                                  named_parameters=m.named_parameters())
    buffers = [b.buffer for b in opt._buckets]

    def inside_a_buffer(t):
        return any(b.data_ptr() <= t.data_ptr() < b.data_ptr() + b.numel() * b.element_size()
                   for b in buffers)

    assert all(inside_a_buffer(p.grad) for p in m.parameters())
    for s in range(STEPS):
        x, y = batch(s, n * B)
        opt.zero_grad(set_to_none=(s % 2 == 1))  # every other step: new grads, copied in
        loss_fn(m, x[r * B:(r + 1) * B], y[r * B:(r + 1) * B]).backward()
        opt.step()
        assert all(inside_a_buffer(p.grad) for p in m.parameters()), f"step {s}"
    ref, _ = train_reference("sgd", rows_per_step=n * B)
    assert torch.allclose(flat(m), flat(ref), rtol=1e-5, atol=1e-8)


def test_backward_passes_per_step_equals_double_batch(ct):
    m, _, _ = train_distributed(ct, "sgd", passes=2)
    ref, _ = train_reference("sgd", rows_per_step=2 * ct.size() * B)
    assert torch.allclose(flat(m), flat(ref), rtol=1e-5, atol=1e-8)


def test_several_buckets_equal_one(ct, monkeypatch):
    m1, opt1, _ = train_distributed(ct, "adam")
    monkeypatch.setenv("COHORT_FUSION_THRESHOLD", "200")  # bytes: a few parameters each
    m2, opt2, _ = train_distributed(ct, "adam")
    assert len(opt1._buckets) == 1 and len(opt2._buckets) >= 4
    assert torch.allclose(flat(m1), flat(m2), rtol=1e-5, atol=1e-8)
    monkeypatch.setenv("COHORT_FUSION_THRESHOLD", "0")
    m3, opt3, _ = train_distributed(ct, "adam", steps=3)
    assert len(opt3._buckets) == len(list(m3.parameters()))


def test_buckets_start_during_backward(ct, monkeypatch):
    monkeypatch.setenv("COHORT_FUSION_THRESHOLD", "1K")
    m = model(0)
    opt = ct.DistributedOptimizer(make_opt("sgd", m.parameters()),
                                  named_parameters=m.named_parameters())
    assert len(opt._buckets) > 1
    x, y = batch(0, B)
    loss_fn(m, x, y).backward()
    assert opt._next == len(opt._buckets)  # every allreduce started before step()
    opt.step()
    assert_same_on_all_ranks(ct, flat(m))


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_compression_still_trains(ct, name):
    compression = getattr(ct.Compression, name)
    x, y = batch(999, 512, torch.float32)  # held-out data
    before = float(loss_fn(model(0, torch.float32), x, y))
    m, _, _ = train_distributed(ct, "sgd", steps=40, dtype=torch.float32,
                                compression=compression)
    after = float(loss_fn(m, x, y))
    assert after < 0.3 * before, (before, after)
    assert_same_on_all_ranks(ct, flat(m))
    ref, _ = train_reference("sgd", steps=40, rows_per_step=ct.size() * B, dtype=torch.float32)
    assert torch.allclose(flat(m), flat(ref), rtol=0, atol=0.05)


def test_broadcast_parameters_equalizes_replicas(ct):
    n, r = ct.size(), ct.rank()
    m = model(seed=100 + r)
    m.register_buffer("counter", torch.tensor([r], dtype=torch.int64))
    m.register_buffer("mask", torch.tensor([r % 2 == 0, True]))
    ct.broadcast_parameters(m.state_dict(), root_rank=0)
    assert torch.equal(flat(m), flat(model(seed=100)))
    assert int(m.counter) == 0 and m.mask.tolist() == [True, True]
    last = n - 1
    m = model(seed=100 + r)
    ct.broadcast_parameters(m.named_parameters(), root_rank=last)
    assert torch.equal(flat(m), flat(model(seed=100 + last)))


def test_broadcast_optimizer_state_syncs_adam(ct):
    r = ct.rank()
    m = model(0)
    opt = torch.optim.Adam(m.parameters(), lr=0.01 if r == 0 else 0.5, betas=(0.8, 0.99))
    if r == 0:  # only the root has state
        for s in range(3):
            x, y = batch(s, B)
            opt.zero_grad()
            loss_fn(m, x, y).backward()
            opt.step()
    ct.broadcast_parameters(m.state_dict(), root_rank=0)
    ct.broadcast_optimizer_state(opt, root_rank=0)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["betas"] == (0.8, 0.99)
    state = opt.state_dict()["state"]
    assert len(state) == len(list(m.parameters()))
    for key in ("exp_avg", "exp_avg_sq"):
        assert_same_on_all_ranks(ct, torch.cat([state[i][key].reshape(-1) for i in state]))
    assert_same_on_all_ranks(ct, torch.cat([state[i]["step"].reshape(-1) for i in state]))
    # Same data everywhere from here: the replicas stay identical.
    dist = ct.DistributedOptimizer(opt, named_parameters=m.named_parameters())
    x, y = batch(9, B)
    dist.zero_grad()
    loss_fn(m, x, y).backward()
    dist.step()
    assert_same_on_all_ranks(ct, flat(m))


def test_parameter_without_gradient_on_some_ranks(ct):
    n, r = ct.size(), ct.rank()
    m = model(0)
    extra = torch.nn.Linear(DIN, DOUT).double()
    torch.nn.init.constant_(extra.weight, 0.1)
    params = list(m.parameters()) + list(extra.parameters())
    opt = ct.DistributedOptimizer(torch.optim.SGD(params, lr=0.1))
    x, y = batch(0, B)
    out = m(x) + (extra(x) if r % 2 == 0 else 0)  # odd ranks never touch `extra`
    torch.nn.functional.mse_loss(out, y).backward()
    opt.step()
    assert_same_on_all_ranks(ct, torch.cat([p.detach().reshape(-1) for p in params]))
    if n > 1:
        assert not torch.equal(extra.weight, torch.full_like(extra.weight, 0.1))


def test_explicit_synchronize_then_step(ct):
    n, r = ct.size(), ct.rank()
    m = model(0)
    opt = ct.DistributedOptimizer(make_opt("sgd", m.parameters()),
                                  named_parameters=m.named_parameters())
    x, y = batch(0, n * B)
    loss_fn(m, x[r * B:(r + 1) * B], y[r * B:(r + 1) * B]).backward()
    opt.synchronize()
    torch.nn.utils.clip_grad_norm_(m.parameters(), max_norm=1e6)
    with opt.skip_synchronize():
        opt.step()
    ref, _ = train_reference("sgd", steps=1, rows_per_step=n * B)
    assert torch.allclose(flat(m), flat(ref), rtol=1e-5, atol=1e-8)


def test_misuse_is_reported(ct):
    m = model(0)
    opt = ct.DistributedOptimizer(make_opt("sgd", m.parameters()),
                                  named_parameters=m.named_parameters())
    x, y = batch(0, B)
    loss_fn(m, x, y).backward()
    with pytest.raises(AssertionError, match="zero_grad"):
        opt.zero_grad()
    with pytest.raises(AssertionError, match="backward_passes_per_step"):
        loss_fn(m, x, y).backward()
    opt.synchronize()  # finishes what the first backward started, on every rank alike
    opt.zero_grad()
    with pytest.raises(ValueError, match="already"):
        ct.DistributedOptimizer(opt)
    with pytest.raises(ValueError, match="does not name"):
        ct.DistributedOptimizer(make_opt("sgd", m.parameters()),
                                named_parameters=list(m.named_parameters())[:2])


@pytest.mark.skipif(LAUNCHED, reason="already inside a job")
@pytest.mark.parametrize("np_", [2, 4])
def test_under_cohortrun(np_):
    proc = run_job(np_, ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                   timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
