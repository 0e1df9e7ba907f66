"""Model and optimizer state sync: broadcast_parameters, broadcast_optimizer_state, and the
pickled-object collectives broadcast_object / allgather_object."""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any, Dict, Iterable, List, Tuple, Union

import torch

from .. import _C
from .basics import check_dtype, rank
from .ops import allgather

_CHUNK_BYTES = 64 << 20  # tensors are packed into broadcasts of up to this many bytes
_IN_FLIGHT = 4           # chunks in flight at once (bounds the extra memory)


def _wire_dtype(t: torch.Tensor) -> torch.dtype:
    if t.dtype == torch.bool:
        return torch.uint8
    if t.is_complex():
        return torch.float32 if t.dtype == torch.complex64 else torch.float64
    check_dtype(t.dtype, "tensor to broadcast")
    return t.dtype


def _flat(t: torch.Tensor) -> torch.Tensor:
    if t.dtype == torch.bool:
        return t.reshape(-1).to(torch.uint8)
    if t.is_complex():
        return torch.view_as_real(t.resolve_conj().contiguous()).reshape(-1)
    return t.reshape(-1)


def _store(t: torch.Tensor, flat: torch.Tensor) -> None:
    if t.dtype == torch.bool:
        t.copy_(flat.view(t.shape).bool())
    elif t.is_complex():
        t.copy_(torch.view_as_complex(flat.view(*t.shape, 2)))
    else:
        t.copy_(flat.view(t.shape))


def broadcast_tensors_(tensors: List[torch.Tensor], root_rank: int) -> None:
    """Overwrite every tensor with root's, in place; packs them by dtype into few broadcasts.

    Every rank must pass tensors of the same shapes and dtypes, in the same order.
    """
    by_dtype: Dict[torch.dtype, List[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(_wire_dtype(t), []).append(t)
    chunks: List[Tuple[torch.dtype, List[torch.Tensor]]] = []
    for dtype, group in by_dtype.items():
        current: List[torch.Tensor] = []
        nbytes = 0
        for t in group:
            size = t.numel() * (t.element_size() if t.dtype != torch.bool else 1)
            if current and nbytes + size > _CHUNK_BYTES:
                chunks.append((dtype, current))
                current, nbytes = [], 0
            current.append(t)
            nbytes += size
        if current:
            chunks.append((dtype, current))
    root = int(root_rank)
    is_root = rank() == root
    pending: List[Tuple[Any, torch.Tensor, List[torch.Tensor]]] = []

    def finish_one() -> None:
        work, buf, group = pending.pop(0)
        work.wait()
        if not is_root:
            offset = 0
            for t in group:
                n = t.numel() * (2 if t.is_complex() else 1)
                _store(t, buf[offset:offset + n])
                offset += n

    with torch.no_grad():
        for dtype, group in chunks:
            if is_root:
                buf = torch.cat([_flat(t.detach()) for t in group])
            else:
                total = sum(t.numel() * (2 if t.is_complex() else 1) for t in group)
                buf = torch.empty(total, dtype=dtype)
            if buf.numel() == 0:
                continue
            pending.append((_C.broadcast_async(buf, None, root), buf, group))
            if len(pending) >= _IN_FLIGHT:
                finish_one()
        while pending:
            finish_one()


def broadcast_parameters(params: Union[Mapping, Iterable[Any]], root_rank: int = 0) -> None:
    """Copy root's parameters (and buffers) into every rank's, in place.

    `params`: a state_dict (`model.state_dict()`; taken in sorted name order, as Horovod does),
    or an iterable of (name, tensor) pairs (`model.named_parameters()`) or of tensors.
    """
    if isinstance(params, Mapping):
        items = sorted(params.items(), key=lambda kv: str(kv[0]))
    else:
        items = [p if isinstance(p, tuple) else (None, p) for p in params]
    tensors = []
    for name, value in items:
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"broadcast_parameters: {name!r} is a {type(value).__name__}, not a "
                            "torch.Tensor (use broadcast_object for other values)")
        tensors.append(value)
    broadcast_tensors_(tensors, root_rank)


def broadcast_object(obj: Any, root_rank: int = 0) -> Any:
    """Root's `obj` (pickled there, unpickled on every other rank)."""
    is_root = rank() == int(root_rank)
    if is_root:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        length = torch.tensor([len(data)], dtype=torch.int64)
    else:
        length = torch.zeros(1, dtype=torch.int64)
    _C.broadcast(length, None, int(root_rank))
    if is_root:
        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    else:
        buf = torch.empty(int(length.item()), dtype=torch.uint8)
    _C.broadcast(buf, None, int(root_rank))
    return obj if is_root else pickle.loads(buf.numpy().tobytes())


def allgather_object(obj: Any) -> List[Any]:
    """Every rank's `obj`, in rank order (pickled objects of any size)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sizes = allgather(torch.tensor([len(data)], dtype=torch.int64)).tolist()
    every = allgather(torch.frombuffer(bytearray(data), dtype=torch.uint8)).numpy().tobytes()
    out, offset = [], 0
    for n in sizes:
        out.append(pickle.loads(every[offset:offset + n]))
        offset += n
    return out


class _Slot:
    """Where a tensor stood in a pickled optimizer state dict (its data travels separately)."""

    def __init__(self, index: int, shape: Tuple[int, ...], dtype: torch.dtype):
        self.index, self.shape, self.dtype = index, shape, dtype


def _strip(value: Any, tensors: List[torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        tensors.append(value)
        return _Slot(len(tensors) - 1, tuple(value.shape), value.dtype)
    if isinstance(value, dict):
        return {k: _strip(v, tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_strip(v, tensors) for v in value)
    return value


def _fill(value: Any, tensors: List[torch.Tensor]) -> Any:
    if isinstance(value, _Slot):
        return tensors[value.index]
    if isinstance(value, dict):
        return {k: _fill(v, tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_fill(v, tensors) for v in value)
    return value


def broadcast_optimizer_state(optimizer: torch.optim.Optimizer, root_rank: int = 0) -> None:
    """Make every rank's optimizer state and hyperparameters (lr, betas, ...) equal root's.

    Root's state_dict travels as a pickled skeleton plus its tensors (packed broadcasts); the
    other ranks load it with `load_state_dict`, so state that does not exist yet there (an Adam
    that has not stepped) is created. The model must be the same on every rank.
    """
    is_root = rank() == int(root_rank)
    tensors: List[torch.Tensor] = []
    skeleton = _strip(optimizer.state_dict(), tensors) if is_root else None
    skeleton = broadcast_object(skeleton, root_rank)
    if not is_root:
        specs: List[_Slot] = []
        _collect_slots(skeleton, specs)
        specs.sort(key=lambda s: s.index)
        tensors = [torch.empty(s.shape, dtype=s.dtype) for s in specs]
    broadcast_tensors_(tensors, root_rank)
    if not is_root:
        optimizer.load_state_dict(_fill(skeleton, tensors))


def _collect_slots(value: Any, out: List[_Slot]) -> None:
    if isinstance(value, _Slot):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_slots(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect_slots(v, out)
