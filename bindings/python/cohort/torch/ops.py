"""Collectives on torch tensors (and numpy arrays), blocking and async, Horovod style.

Every `X_async` returns a `Handle`; `synchronize(handle)` waits and returns the result, and
`poll(handle)` says whether it is done. Handles own their tensors until the operation ends, so
they may be waited in any order. Collectives must be issued in the same order on every rank.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

import torch

from .. import _C
from .basics import (SUPPORTED_DTYPES, Average, ReduceOp, from_tensor, rank, shape_text, size,
                     to_tensor)
from .compression import Compression, narrows

_MAX_DIMS = 16  # allgather's size exchange carries shapes of up to this many dimensions


class Handle:
    """An operation in flight. `wait()` (or `synchronize(handle)`) returns its result."""

    def __init__(self, works: Sequence[Any], finish: Callable[[], Any], description: str):
        self._works = list(works)
        self._finish: Optional[Callable[[], Any]] = finish
        self._result: Any = None
        self.description = description

    def poll(self) -> bool:
        """True once every part of the operation has ended (successfully or not)."""
        return all(w.test() for w in self._works)

    def wait(self) -> Any:
        """Block until done, then return the result; raises the operation's error."""
        for w in self._works:
            w.wait()
        if self._finish is not None:
            self._result = self._finish()
            self._finish = None
            self._works = []
        return self._result

    def __repr__(self) -> str:
        state = "done" if self._finish is None or self.poll() else "running"
        return f"<cohort.torch.Handle {self.description} {state}>"


def synchronize(handle: Handle) -> Any:
    """Wait for `handle` and return its result (the output tensor or array)."""
    return handle.wait()


def poll(handle: Handle) -> bool:
    """True when `handle` has completed (synchronize() will not block)."""
    return handle.poll()


def _done(result: Any, description: str) -> Handle:
    return Handle([], lambda: result, description)


def _inplace(t: torch.Tensor, launch: Callable[[torch.Tensor], Any],
             result: Any, description: str) -> Handle:
    """Run launch(buffer) on `t` itself, or on a contiguous copy that is copied back."""
    if t.is_contiguous():
        return Handle([launch(t)], lambda: result, description)
    tmp = t.contiguous()
    work = launch(tmp)

    def finish() -> Any:
        t.copy_(tmp)
        return result
    return Handle([work], finish, description)


# --- allreduce ---------------------------------------------------------------------------------

def allreduce_async(tensor: Any, op: ReduceOp = Average, name: Optional[str] = None,
                    compression: Any = Compression.none, prescale_factor: float = 1.0,
                    postscale_factor: float = 1.0) -> Handle:
    """Start an allreduce of `tensor` into a new tensor (the input is left alone)."""
    t, as_np = to_tensor(tensor)
    desc = f"allreduce {name or ''}".strip()
    op = ReduceOp(op)
    if compression is Compression.none or not narrows(compression, t.dtype):
        out = t.to(memory_format=torch.contiguous_format, copy=True)
        if prescale_factor != 1.0:
            out.mul_(prescale_factor)
        work = _C.allreduce_async(out, None, int(op))

        def finish() -> Any:
            if postscale_factor != 1.0:
                out.mul_(postscale_factor)
            return from_tensor(out, as_np)
        return Handle([work], finish, desc)
    # Narrowing compression: divide before the cast (see compression.py), sum on the wire.
    scale = prescale_factor / size() if op == ReduceOp.Average else prescale_factor
    wire_op = ReduceOp.Sum if op == ReduceOp.Average else op
    src = t * scale if scale != 1.0 else t
    wire, ctx = compression.compress(src)
    wire = wire.contiguous()
    if wire.data_ptr() == t.data_ptr():
        wire = wire.clone()
    work = _C.allreduce_async(wire, None, int(wire_op))

    def finish_compressed() -> Any:
        out = compression.decompress(wire, ctx).reshape(t.shape)
        if postscale_factor != 1.0:
            out = out * postscale_factor
        return from_tensor(out.contiguous(), as_np)
    return Handle([work], finish_compressed, desc)


def allreduce(tensor: Any, op: ReduceOp = Average, name: Optional[str] = None,
              compression: Any = Compression.none, prescale_factor: float = 1.0,
              postscale_factor: float = 1.0) -> Any:
    """Reduce `tensor` over all ranks (default: average); returns a new tensor/array."""
    return allreduce_async(tensor, op, name, compression, prescale_factor,
                           postscale_factor).wait()


def allreduce_async_(tensor: Any, op: ReduceOp = Average, name: Optional[str] = None) -> Handle:
    """Start an in-place allreduce; the handle's result is `tensor` itself."""
    t, _ = to_tensor(tensor, inplace=True)
    opi = int(ReduceOp(op))
    return _inplace(t, lambda b: _C.allreduce_async(b, None, opi), tensor,
                    f"allreduce_ {name or ''}".strip())


def allreduce_(tensor: Any, op: ReduceOp = Average, name: Optional[str] = None) -> Any:
    """Reduce `tensor` over all ranks in place; returns `tensor`."""
    return allreduce_async_(tensor, op, name).wait()


# --- allgather ---------------------------------------------------------------------------------

def _exchange_shapes(t: torch.Tensor) -> List[List[int]]:
    """Every rank's (dtype index, shape) through one small allgather."""
    shape = list(t.shape) if t.dim() > 0 else [1]
    if len(shape) > _MAX_DIMS:
        raise ValueError(f"allgather supports tensors of up to {_MAX_DIMS} dimensions; "
                         f"this one has {len(shape)}")
    header = torch.full((2 + _MAX_DIMS,), -1, dtype=torch.int64)
    header[0] = SUPPORTED_DTYPES.index(t.dtype)
    header[1] = len(shape)
    header[2:2 + len(shape)] = torch.tensor(shape, dtype=torch.int64)
    every = torch.empty(size() * header.numel(), dtype=torch.int64)
    _C.allgather(header, every)
    rows = every.view(size(), -1).tolist()
    out = []
    for r, row in enumerate(rows):
        dtype_index, ndim = row[0], row[1]
        out.append([dtype_index] + row[2:2 + ndim])
    mine = out[rank()]
    for r, row in enumerate(out):
        if row[0] != mine[0]:
            raise TypeError(
                f"allgather: ranks pass different dtypes: rank {rank()} has "
                f"{SUPPORTED_DTYPES[mine[0]]}, rank {r} has {SUPPORTED_DTYPES[row[0]]}")
        if row[2:] != mine[2:]:
            raise ValueError(
                "allgather: tensors must match in every dimension but the first: rank "
                f"{rank()} has shape {shape_text(mine[1:])}, rank {r} has shape "
                f"{shape_text(row[1:])}")
    return [row[1:] for row in out]


def allgather_async(tensor: Any, name: Optional[str] = None) -> Handle:
    """Start an allgather: the result concatenates every rank's tensor along dimension 0.

    First dimensions may differ across ranks; the others must match (ValueError naming the ranks
    otherwise). A 0-dimensional tensor counts as shape [1]. The sizes are exchanged first with a
    small blocking allgather; the data then moves asynchronously (padded to the largest first
    dimension when they differ).
    """
    t, as_np = to_tensor(tensor)
    desc = f"allgather {name or ''}".strip()
    shapes = _exchange_shapes(t)
    t = t.reshape(shapes[rank()])
    rest = tuple(shapes[0][1:])
    firsts = [s[0] for s in shapes]
    n = size()
    if max(firsts) == 0 or 0 in rest:  # nothing to move, on every rank alike
        return _done(from_tensor(t.new_empty((sum(firsts),) + rest), as_np), desc)
    if min(firsts) == max(firsts):
        out = t.new_empty((n * firsts[0],) + rest)
        work = _C.allgather_async(t.contiguous(), out)
        return Handle([work], lambda: from_tensor(out, as_np), desc)
    most = max(firsts)
    send = t.new_zeros((most,) + rest)
    send[:firsts[rank()]] = t
    recv = t.new_empty((n, most) + rest)
    work = _C.allgather_async(send, recv)

    def finish() -> Any:
        return from_tensor(torch.cat([recv[r, :firsts[r]] for r in range(n)]), as_np)
    return Handle([work], finish, desc)


def allgather(tensor: Any, name: Optional[str] = None) -> Any:
    """Concatenation of every rank's `tensor` along dimension 0 (first dimensions may differ)."""
    return allgather_async(tensor, name).wait()


# --- broadcast, reduce_scatter, alltoall, barrier ----------------------------------------------

def broadcast_async(tensor: Any, root_rank: int, name: Optional[str] = None) -> Handle:
    """Start a broadcast of root's `tensor` into a new tensor on every rank."""
    t, as_np = to_tensor(tensor)
    src = t.contiguous()
    out = torch.empty_like(src)
    work = _C.broadcast_async(src, out, int(root_rank))
    return Handle([work], lambda: from_tensor(out, as_np), f"broadcast {name or ''}".strip())


def broadcast(tensor: Any, root_rank: int, name: Optional[str] = None) -> Any:
    """Root's `tensor`, on every rank (a new tensor)."""
    return broadcast_async(tensor, root_rank, name).wait()


def broadcast_async_(tensor: Any, root_rank: int, name: Optional[str] = None) -> Handle:
    """Start an in-place broadcast: every rank's `tensor` receives root's."""
    t, _ = to_tensor(tensor, inplace=True)
    root = int(root_rank)
    return _inplace(t, lambda b: _C.broadcast_async(b, None, root), tensor,
                    f"broadcast_ {name or ''}".strip())


def broadcast_(tensor: Any, root_rank: int, name: Optional[str] = None) -> Any:
    """Overwrite `tensor` with root's, in place; returns `tensor`."""
    return broadcast_async_(tensor, root_rank, name).wait()


def _split_first(t: torch.Tensor, what: str) -> int:
    n = size()
    if t.dim() == 0 or t.shape[0] % n != 0:
        raise ValueError(f"{what}: the first dimension must be divisible by the world size "
                         f"{n}; the tensor has shape {shape_text(t.shape)}")
    return t.shape[0] // n


def reduce_scatter_async(tensor: Any, op: ReduceOp = Average,
                         name: Optional[str] = None) -> Handle:
    """Start a reduce-scatter: rank r gets block r (along dimension 0) of the reduction."""
    t, as_np = to_tensor(tensor)
    block = _split_first(t, "reduce_scatter")
    out = t.new_empty((block,) + tuple(t.shape[1:]))
    work = _C.reduce_scatter_async(t.contiguous(), out, int(ReduceOp(op)))
    return Handle([work], lambda: from_tensor(out, as_np), f"reduce_scatter {name or ''}".strip())


def reduce_scatter(tensor: Any, op: ReduceOp = Average, name: Optional[str] = None) -> Any:
    """This rank's block (first dimension / size) of the reduction of every rank's `tensor`."""
    return reduce_scatter_async(tensor, op, name).wait()


def alltoall_async(tensor: Any, name: Optional[str] = None) -> Handle:
    """Start an alltoall: block i (along dimension 0) goes to rank i; block j of the result
    comes from rank j."""
    t, as_np = to_tensor(tensor)
    _split_first(t, "alltoall")
    src = t.contiguous()
    out = torch.empty_like(src)
    work = _C.alltoall_async(src, out)
    return Handle([work], lambda: from_tensor(out, as_np), f"alltoall {name or ''}".strip())


def alltoall(tensor: Any, name: Optional[str] = None) -> Any:
    """Exchange equal blocks of dimension 0 between all ranks (first dim divisible by size)."""
    return alltoall_async(tensor, name).wait()


def barrier() -> None:
    """Wait until every rank has called barrier()."""
    _C.barrier()


def barrier_async() -> Handle:
    """Start a barrier; the handle completes once every rank has entered it."""
    return Handle([_C.barrier_async()], lambda: None, "barrier")
