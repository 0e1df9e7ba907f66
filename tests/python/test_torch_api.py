"""cohort.torch collectives checked against torch, inside every rank of a job (see conftest.py).

Each rank can rebuild every rank's input from a seed, so each checks the full result locally.
"""
from __future__ import annotations

import ctypes
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from conftest import LAUNCHED, clean_env, run_job

cohort = pytest.importorskip("cohort", reason="the cohort package (cohort._C) is not built")

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16,
          torch.int8, torch.uint8, torch.int32, torch.int64]
OPS = ["Sum", "Product", "Min", "Max", "Average"]
SHAPES = [(), (17,), (3, 5, 7)]


def make(r: int, shape, dtype, case: int, op: str = "Sum") -> torch.Tensor:
    """Rank r's input: small integers (quarters for floats) so that results are exact."""
    g = torch.Generator().manual_seed(1000 * case + r)
    lo, hi = (-2, 3) if op == "Product" else (-8, 9)
    if dtype == torch.uint8:
        lo = 0
    vals = torch.randint(lo, hi, shape, generator=g, dtype=torch.int64)
    if dtype.is_floating_point and op != "Product":
        vals = vals.to(torch.float64) / 4
    return vals.to(dtype)


def reference(inputs, op: str, dtype) -> torch.Tensor:
    stack = torch.stack([t.to(torch.float64) for t in inputs])
    out = {"Sum": lambda: stack.sum(0), "Product": lambda: stack.prod(0),
           "Min": lambda: stack.min(0).values, "Max": lambda: stack.max(0).values,
           "Average": lambda: stack.mean(0)}[op]()
    return out.to(dtype)


def check(actual, expected):
    tol = {torch.float16: 1e-3, torch.bfloat16: 1e-2}.get(expected.dtype, 1e-6)
    if expected.is_floating_point():
        torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)
    else:
        assert torch.equal(actual, expected), (actual, expected)


def test_identity(ct):
    assert ct.is_initialized()
    assert 0 <= ct.rank() < ct.size()
    assert 0 <= ct.local_rank() < ct.local_size() <= ct.size()
    assert cohort.__version__ and ct.__version__ == cohort.__version__


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_allreduce(ct, dtype, op):
    n, r = ct.size(), ct.rank()
    reduce_op = getattr(ct, op)
    for case, shape in enumerate(SHAPES):
        inputs = [make(q, shape, dtype, case, op) for q in range(n)]
        mine = inputs[r].clone()
        if op == "Average" and not dtype.is_floating_point:
            with pytest.raises(ValueError, match="integer"):
                ct.allreduce(mine, op=reduce_op)
            continue
        expected = reference(inputs, op, dtype)
        out = ct.allreduce(mine, op=reduce_op)
        assert out.shape == torch.Size(shape) and out.dtype == dtype
        check(out, expected)
        assert torch.equal(mine, inputs[r]), "allreduce changed its input"
        assert ct.allreduce_(mine, op=reduce_op) is mine
        check(mine, expected)


def test_allreduce_default_is_average_and_large(ct):
    n, r = ct.size(), ct.rank()
    inputs = [make(q, (100_003,), torch.float32, 7) for q in range(n)]
    check(ct.allreduce(inputs[r]), reference(inputs, "Average", torch.float32))


def test_allreduce_noncontiguous_inplace(ct):
    n, r = ct.size(), ct.rank()
    base = make(r, (6, 4), torch.float32, 3)
    view = base.t()  # not contiguous
    ct.allreduce_(view, op=ct.Sum)
    expected = reference([make(q, (6, 4), torch.float32, 3) for q in range(n)], "Sum",
                         torch.float32)
    check(base, expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_allgather_equal(ct, dtype):
    n, r = ct.size(), ct.rank()
    inputs = [make(q, (3, 2, 2), dtype, 11) for q in range(n)]
    out = ct.allgather(inputs[r])
    check(out, torch.cat(inputs))
    scalars = ct.allgather(torch.tensor(r, dtype=dtype))
    check(scalars, torch.arange(n).to(dtype))


def test_allgather_differing_first_dims(ct):
    n, r = ct.size(), ct.rank()
    firsts = [(q * 3 + 1) % 5 for q in range(n)]  # 1, 4, 2, 0, ...: includes empty ones
    inputs = [make(q, (firsts[q], 3, 2), torch.float32, 12) for q in range(n)]
    out = ct.allgather(inputs[r])
    assert out.shape == (sum(firsts), 3, 2)
    check(out, torch.cat(inputs))
    handle = ct.allgather_async(inputs[r])
    check(ct.synchronize(handle), torch.cat(inputs))
    # Every rank empty.
    out = ct.allgather(torch.zeros(0, 5, dtype=torch.int32))
    assert out.shape == (0, 5) and out.dtype == torch.int32


def test_allgather_other_dims_must_match(ct):
    n, r = ct.size(), ct.rank()
    if n < 2:
        pytest.skip("needs 2 ranks")
    bad = torch.zeros(2, 3 + (r == n - 1))
    with pytest.raises(ValueError, match=rf"rank {n - 1} has shape \[2, 4\]"):
        ct.allgather(bad)
    assert float(ct.allreduce(torch.ones(1), op=ct.Sum)) == n  # the job is still healthy


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_broadcast(ct, dtype):
    n, r = ct.size(), ct.rank()
    for root in range(n):
        inputs = [make(q, (4, 3), dtype, 20 + root) for q in range(n)]
        mine = inputs[r].clone()
        out = ct.broadcast(mine, root_rank=root)
        check(out, inputs[root])
        check(mine, inputs[r])
        assert ct.broadcast_(mine, root_rank=root) is mine
        check(mine, inputs[root])
    t = make(r, (5, 4), dtype, 29)
    ct.broadcast_(t[:, 1], root_rank=0)  # non-contiguous column
    check(t[:, 1], make(0, (5, 4), dtype, 29)[:, 1])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_reduce_scatter(ct, dtype):
    n, r = ct.size(), ct.rank()
    for op in OPS:
        if op == "Average" and not dtype.is_floating_point:
            continue
        inputs = [make(q, (2 * n, 3), dtype, 30, op) for q in range(n)]
        out = ct.reduce_scatter(inputs[r], op=getattr(ct, op))
        check(out, reference(inputs, op, dtype)[2 * r:2 * r + 2])


def test_reduce_scatter_and_alltoall_need_divisible_first_dim(ct):
    if ct.size() < 2:
        pytest.skip("every first dimension is divisible by 1")
    with pytest.raises(ValueError, match="divisible"):
        ct.reduce_scatter(torch.zeros(ct.size() + 1))
    with pytest.raises(ValueError, match="divisible"):
        ct.alltoall(torch.zeros(ct.size() + 1, 2))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_alltoall(ct, dtype):
    n, r = ct.size(), ct.rank()
    inputs = [make(q, (2 * n, 3), dtype, 40) for q in range(n)]
    out = ct.alltoall(inputs[r])
    check(out, torch.cat([inputs[q][2 * r:2 * r + 2] for q in range(n)]))


def test_barrier(ct):
    ct.barrier()
    ct.synchronize(ct.barrier_async())


def test_numpy(ct):
    n, r = ct.size(), ct.rank()
    inputs = [make(q, (4, 3), torch.float32, 50).numpy() for q in range(n)]
    out = ct.allreduce(inputs[r].copy(), op=ct.Sum)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, sum(inputs))
    arr = inputs[r].copy()
    assert ct.allreduce_(arr, op=ct.Max) is arr
    np.testing.assert_array_equal(arr, np.max(inputs, axis=0))
    gathered = ct.allgather(np.arange(r + 1, dtype=np.int64))
    np.testing.assert_array_equal(gathered, np.concatenate([np.arange(q + 1) for q in range(n)]))
    ro = inputs[r].copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(ct.broadcast(ro, root_rank=0), inputs[0])
    with pytest.raises(ValueError, match="read-only"):
        ct.allreduce_(ro)


@pytest.mark.parametrize("order", ["issue", "reverse", "random"])
def test_async_many_in_flight(ct, order):
    n, r = ct.size(), ct.rank()
    jobs = []
    for i in range(48):
        dtype = DTYPES[i % len(DTYPES)]
        kind = i % 4
        inputs = [make(q, (2 * n, 5), dtype, 100 + i) for q in range(n)]
        if kind == 0:
            op = "Sum" if not dtype.is_floating_point else "Average"
            h = ct.allreduce_async(inputs[r], op=getattr(ct, op))
            jobs.append((h, reference(inputs, op, dtype)))
        elif kind == 1:
            mine = inputs[r].clone()
            h = ct.broadcast_async_(mine, root_rank=i % n)
            jobs.append((h, inputs[i % n]))
        elif kind == 2:
            h = ct.allgather_async(inputs[r][:1 + (r + i) % 3])
            jobs.append((h, torch.cat([inputs[q][:1 + (q + i) % 3] for q in range(n)])))
        else:
            h = ct.reduce_scatter_async(inputs[r], op=ct.Max)
            jobs.append((h, reference(inputs, "Max", dtype)[2 * r:2 * r + 2]))
    idx = list(range(len(jobs)))
    if order == "reverse":
        idx.reverse()
    elif order == "random":
        random.Random(r).shuffle(idx)  # each rank waits in its own order
    for i in idx:
        handle, expected = jobs[i]
        check(ct.synchronize(handle), expected)
        assert ct.poll(handle)
    assert all(ct.poll(h) for h, _ in jobs)


@pytest.mark.parametrize("dtype", [torch.bool, torch.complex64, torch.int16], ids=str)
def test_unsupported_dtype_is_type_error(ct, dtype):
    t = torch.zeros(4, dtype=dtype)
    name = str(dtype).replace("torch.", "")
    for call in (lambda: ct.allreduce(t), lambda: ct.allreduce_(t), lambda: ct.allgather(t),
                 lambda: ct.broadcast(t, 0), lambda: ct.alltoall_async(t)):
        with pytest.raises(TypeError, match=name):
            call()
    with pytest.raises(TypeError, match="bool"):
        ct.allreduce(np.zeros(3, dtype=bool))
    with pytest.raises(TypeError, match="list"):
        ct.allreduce([1.0, 2.0])


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


class FakeCudaTensor:
    """A DLPack producer claiming CUDA memory (this torch has no CUDA to make a real one)."""
    _NAME = ctypes.c_char_p(b"dltensor")

    def __init__(self, n: int = 8):
        self.shape = (ctypes.c_int64 * 1)(n)
        self.host = (ctypes.c_float * n)()
        self.managed = _DLManagedTensor()
        t = self.managed.dl_tensor
        t.data = ctypes.cast(self.host, ctypes.c_void_p)
        t.device = _DLDevice(2, 0)  # kDLCUDA, device 0
        t.ndim, t.dtype, t.shape = 1, _DLDataType(2, 32, 1), self.shape  # float32

    def __dlpack__(self, stream=None):
        new = ctypes.pythonapi.PyCapsule_New
        new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p,
                                                       ctypes.c_void_p]
        return new(ctypes.addressof(self.managed), self._NAME, None)

    def __dlpack_device__(self):
        return (2, 0)


def test_cuda_buffer_without_cuda_is_a_clear_error(ct):
    if torch.cuda.is_available():
        pytest.skip("this host has a GPU: CUDA tensors are moved, not refused")
    if cohort._C.built_with_cuda:
        # A CUDA build on a host without a usable device names the rank and says what to do.
        expected, pattern = ValueError, f"no CUDA device visible to rank {ct.rank()}.*CPU buffers"
    else:
        expected, pattern = NotImplementedError, "(?i)cpu"
    with pytest.raises(expected, match=pattern):
        cohort._C.allreduce(FakeCudaTensor(), None, cohort.OP_SUM)
    assert float(ct.allreduce(torch.ones(1), op=ct.Sum)) == ct.size()  # still healthy


def test_not_initialized_is_a_clear_error(ct):
    if ct.rank() != 0:
        return
    script = textwrap.dedent("""
        import torch, cohort, cohort.torch as ct
        for call in (ct.rank, ct.size, lambda: ct.allreduce(torch.ones(2)),
                     lambda: ct.allgather(torch.ones(2)), lambda: ct.barrier()):
            try:
                call()
            except cohort.CohortError as e:
                assert "not initialized" in str(e) and "init()" in str(e), e
            else:
                raise SystemExit("no error before init()")
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=clean_env(), timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr


def test_count_mismatch_names_ranks(ct):
    """Counts that differ across ranks fail on every rank (a fresh 2-rank job: the error ends
    that job's communicator)."""
    if ct.rank() != 0:
        return
    script = textwrap.dedent("""
        import torch, cohort, cohort.torch as ct
        ct.init()
        try:
            ct.allreduce(torch.ones(10 + ct.rank()))
        except ValueError as e:
            assert isinstance(e, cohort.CohortValueError)
            print("raised:", e)
    """)
    proc = run_job(2, ["-c", script])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("raised:") == 2 and "mismatch" in out and "rank 1" in out, out


@pytest.mark.skipif(LAUNCHED, reason="already inside a job")
@pytest.mark.parametrize("np_", [2, 4])
def test_under_cohortrun(np_):
    proc = run_job(np_, ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                   timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
