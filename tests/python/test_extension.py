"""Low-level tests of the extension module cohort._C alone, run inside every rank:

    build/launcher/cohortrun -np 2 -x PYTHONPATH=build/bindings/python \
        /usr/bin/python3 -m pytest -q tests/python/test_extension.py

(also with -np 1 and -np 3). Every rank runs the same tests in the same order, so collectives
match. Each rank's input is a closed-form function of (rank, index), so every rank computes the
expected result locally with torch and compares.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import cohort._C as C

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16,
          torch.int8, torch.uint8, torch.int32, torch.int64]
SUM, PROD, MIN, MAX, AVG = range(5)
OPS = {"sum": SUM, "prod": PROD, "min": MIN, "max": MAX, "avg": AVG}
N = 1003  # elements per rank chunk: odd, so no chunking happens to line up


@pytest.fixture(scope="module", autouse=True)
def world():
    C.init()
    return C.rank(), C.size()


def rank():
    return C.rank()


def size():
    return C.size()


def values(r, count, dtype, op=SUM, salt=0):
    """Rank r's input: small integers, exact in every dtype even after reducing over 3 ranks."""
    i = torch.arange(count, dtype=torch.int64)
    signed = dtype != torch.uint8
    if op == PROD:
        v = 1 + (i * 3 + r * 5 + salt) % 2  # 1 or 2
        if signed:
            v = torch.where((i + r + salt) % 3 == 0, -v, v)
    else:
        v = (i * 7 + r * 13 + salt) % 11
        if signed:
            v = v - 5
    return v.to(dtype)


def reference(count, dtype, op, salt=0):
    """The reduction over every rank's input, computed here in float64."""
    stack = torch.stack([values(r, count, dtype, op, salt).double() for r in range(size())])
    out = {SUM: lambda s: s.sum(0), PROD: lambda s: s.prod(0), MIN: lambda s: s.min(0).values,
           MAX: lambda s: s.max(0).values, AVG: lambda s: s.sum(0) / size()}[op](stack)
    return out.to(dtype)


def check(actual, expected, what):
    """One tolerance rule for every dtype: torch's per-dtype defaults (exact for integers)."""
    torch.testing.assert_close(actual, expected, msg=lambda m: f"{what} on rank {rank()}: {m}")


def op_cases(dtype):
    return [op for op in OPS.values() if not (op == AVG and not dtype.is_floating_point)]


def dtype_op_params():
    return [pytest.param(d, op, id=f"{str(d)[6:]}-{name}")
            for d in DTYPES for name, op in OPS.items()
            if not (op == AVG and not d.is_floating_point)]


# ---- module surface ----------------------------------------------------------------------------

def test_before_init_raises_in_a_fresh_process():
    code = ("import cohort._C as C\n"
            "assert not C.is_initialized()\n"
            "for f in (C.rank, C.size, lambda: C.allreduce(__import__('torch').ones(2))):\n"
            "    try:\n        f()\n    except RuntimeError as e:\n        print(type(e).__name__, e)\n"
            "    else:\n        raise SystemExit('no error')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COHORT_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.startswith("CohortError cohort is not initialized: call cohort.torch.init()")


def test_identity(world):
    r, n = world
    assert C.is_initialized()
    assert 0 <= r < n
    assert 0 <= C.local_rank() < C.local_size() <= n
    C.init()  # idempotent
    assert (C.rank(), C.size()) == (r, n)


def test_exception_classes():
    assert issubclass(C.CohortError, RuntimeError)
    for cls, builtin in [(C.CohortTimeoutError, TimeoutError), (C.CohortPeerError, ConnectionError),
                         (C.CohortValueError, ValueError), (C.CohortAuthError, PermissionError),
                         (C.CohortUnsupportedError, NotImplementedError)]:
        assert issubclass(cls, builtin) and issubclass(cls, C.CohortError), cls


def test_zero_copy_buffer_info():
    t = torch.zeros(3, 5, dtype=torch.bfloat16)
    assert C._buffer_info(t) == (t.data_ptr(), 15, "bf16", "cpu")
    a = np.zeros((2, 4), np.float16)
    assert C._buffer_info(a) == (a.ctypes.data, 8, "f16", "cpu")
    view = torch.arange(10, dtype=torch.int32)[4:]  # byte offset into the storage
    assert C._buffer_info(view)[0] == view.data_ptr()


# ---- collectives on every dtype --------------------------------------------------------------

@pytest.mark.parametrize("dtype,op", dtype_op_params())
@pytest.mark.parametrize("in_place", [False, True], ids=["out", "inplace"])
def test_allreduce(dtype, op, in_place):
    send = values(rank(), N, dtype, op)
    if in_place:
        C.allreduce(send, send, op)
        out = send
    else:
        out = torch.full((N,), 7, dtype=dtype)
        C.allreduce(send, out, op)
        check(send, values(rank(), N, dtype, op), "allreduce send buffer changed")
    check(out, reference(N, dtype, op), f"allreduce {dtype} op {op}")


@pytest.mark.parametrize("dtype,op", dtype_op_params())
def test_reduce_scatter(dtype, op):
    n = size()
    send = values(rank(), n * N, dtype, op)
    recv = torch.empty(N, dtype=dtype)
    C.reduce_scatter(send, recv, op)
    check(recv, reference(n * N, dtype, op)[rank() * N:(rank() + 1) * N], "reduce_scatter")


@pytest.mark.parametrize("dtype,op", dtype_op_params())
def test_reduce(dtype, op):
    root = size() - 1
    send = values(rank(), N, dtype, op)
    recv = torch.zeros(N, dtype=dtype)
    C.reduce(send, recv, op, root)
    if rank() == root:
        check(recv, reference(N, dtype, op), "reduce at root")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d)[6:])
def test_allgather(dtype):
    send = values(rank(), N, dtype, salt=1)
    recv = torch.empty(size() * N, dtype=dtype)
    C.allgather(send, recv)
    check(recv, torch.cat([values(r, N, dtype, salt=1) for r in range(size())]), "allgather")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d)[6:])
@pytest.mark.parametrize("in_place", [False, True], ids=["out", "inplace"])
def test_broadcast(dtype, in_place):
    root = size() // 2
    send = values(rank(), N, dtype, salt=2)
    if in_place:
        C.broadcast(send, None, root)
        out = send
    else:
        out = torch.zeros(N, dtype=dtype)
        C.broadcast(send, out, root)
    check(out, values(root, N, dtype, salt=2), "broadcast")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d)[6:])
def test_alltoall(dtype):
    n = size()
    # Block j of rank r's send is values(r, ...) block j: it must land in rank j's block r.
    send = values(rank(), n * N, dtype, salt=3)
    recv = torch.empty(n * N, dtype=dtype)
    C.alltoall(send, recv)
    me = rank()
    expected = torch.cat([values(r, n * N, dtype, salt=3)[me * N:(me + 1) * N] for r in range(n)])
    check(recv, expected, "alltoall")


def test_barrier_and_send_recv_ring():
    C.barrier()
    r, n = rank(), size()
    if n == 1:
        return
    mine = values(r, N, torch.float32, salt=4)
    got = torch.empty(N)
    # Even ranks send first, odd ranks receive first: no cycle of blocking sends.
    if r % 2 == 0:
        C.send(mine, (r + 1) % n)
        C.recv(got, (r - 1) % n)
    else:
        C.recv(got, (r - 1) % n)
        C.send(mine, (r + 1) % n)
    check(got, values((r - 1) % n, N, torch.float32, salt=4), "send/recv ring")


# ---- async handles ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d)[6:])
def test_async_handles(dtype):
    bufs = [values(rank(), N, dtype, op) for op in op_cases(dtype)]
    handles = [C.allreduce_async(b, None, op) for b, op in zip(bufs, op_cases(dtype))]
    gathered = torch.empty(size() * N, dtype=dtype)
    handles.append(C.allgather_async(bufs[0].clone(), gathered))
    for h in handles:
        assert "allreduce" in h.description or "allgather" in h.description
    assert handles[-1].wait_for(60.0)
    for h in handles[:-1]:
        h.wait()
        assert h.test()
    for b, op in zip(bufs, op_cases(dtype)):
        check(b, reference(N, dtype, op), f"allreduce_async op {op}")


def test_async_keeps_producers_alive_and_releases_them():
    t = values(rank(), 1 << 20, torch.float32)
    before = sys.getrefcount(t)
    h = C.allreduce_async(t, None, SUM)
    assert sys.getrefcount(t) > before  # the handle holds the producer
    h.wait()
    assert sys.getrefcount(t) == before  # released (and the DLPack deleter ran) once done
    # A numpy producer dropped by the caller stays alive inside the handle.
    h = C.allreduce_async(np.ones(1 << 20, np.float64), None, SUM)
    h.wait()
    h.wait()  # waiting twice is fine


def test_dropped_handle_does_not_crash():
    for _ in range(3):
        h = C.allreduce_async(torch.ones(1 << 20), None, SUM)
        del h  # waits for the operation before the buffer can go
    x = torch.ones(5)
    C.allreduce(x, None, SUM)
    check(x, torch.full((5,), float(size())), "allreduce after dropped handles")


def test_barrier_async_and_broadcast_async():
    C.barrier_async().wait()
    t = values(rank(), N, torch.int64, salt=5)
    h = C.broadcast_async(t, None, 0)
    h.wait()
    check(t, values(0, N, torch.int64, salt=5), "broadcast_async")


# ---- numpy and other producers -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int8, np.uint8,
                                   np.int32, np.int64], ids=lambda d: np.dtype(d).name)
def test_numpy_allreduce(dtype):
    tdtype = torch.from_numpy(np.zeros(1, dtype)).dtype
    a = values(rank(), N, tdtype).numpy()
    out = np.empty_like(a)
    C.allreduce(a, out, SUM)
    check(torch.from_numpy(out), reference(N, tdtype, SUM), "numpy allreduce")


def test_numpy_read_only_send_is_fine_recv_is_not():
    a = values(rank(), N, torch.float64).numpy()
    a.flags.writeable = False
    out = np.zeros(N)
    C.allreduce(a, out, SUM)
    check(torch.from_numpy(out), reference(N, torch.float64, SUM), "read-only send")
    with pytest.raises(ValueError, match="read-only"):
        C.allreduce(out, a, SUM)
    with pytest.raises(ValueError, match="read-only"):
        C.allreduce(a, None, SUM)


def test_tensor_requiring_grad():
    w = torch.ones(4, requires_grad=True)
    C.allreduce(w, None, SUM)  # exported through .detach(): same memory
    check(w.detach(), torch.full((4,), float(size())), "requires_grad tensor")


# ---- argument errors (local, identical on every rank) -----------------------------------------

def test_non_contiguous_is_value_error():
    t = torch.zeros(8, 6)[:, 1:3]
    with pytest.raises(ValueError, match=r"not contiguous.*\.contiguous\(\)"):
        C.allreduce(t, None, SUM)
    with pytest.raises(ValueError, match="not contiguous"):
        C.allreduce(torch.zeros(4), torch.zeros(8)[::2], SUM)
    with pytest.raises(ValueError, match="not contiguous"):
        C.allreduce(np.zeros((4, 4)).T, None, SUM)
    C.allreduce(torch.zeros(8, 1)[2:5], None, SUM)  # contiguous slices are fine


@pytest.mark.parametrize("bad", [torch.zeros(3, dtype=torch.bool), np.zeros(3, bool),
                                 torch.zeros(3, dtype=torch.int16),
                                 torch.zeros(3, dtype=torch.complex64)],
                         ids=["torch-bool", "numpy-bool", "int16", "complex64"])
def test_unsupported_dtype_is_type_error(bad):
    with pytest.raises(TypeError, match="dtype (bool|int16|complex64)"):
        C.allreduce(bad, None, SUM)


def test_other_argument_errors():
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        C.allreduce([1.0, 2.0], None, SUM)
    with pytest.raises(ValueError, match="op 9 is not a reduction"):
        C.allreduce(torch.zeros(2), None, 9)
    with pytest.raises(ValueError, match="integer"):
        C.allreduce(torch.zeros(2, dtype=torch.int32), None, AVG)
    with pytest.raises(C.CohortValueError, match="elements"):
        C.allreduce(torch.zeros(4), torch.zeros(5), SUM)
    with pytest.raises(ValueError, match="dtype"):
        C.allreduce(torch.zeros(4), torch.zeros(4, dtype=torch.float64), SUM)
    C.barrier()  # still in step with every rank


# ---- last: Ctrl-C aborts the communicator, so nothing may run after it ------------------------

def test_zz_signal_interrupts_a_blocked_wait():
    if size() == 1:
        pytest.skip("needs a peer that never sends")
    C.barrier()
    if rank() != 0:
        time.sleep(2.0)  # never sends: rank 0 stays blocked until its signal
        return

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            C.recv(torch.zeros(4), 1)
        assert time.monotonic() - start < 5.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    with pytest.raises(C.CohortError, match="interrupted by signal"):
        C.allreduce(torch.zeros(2), None, SUM)
