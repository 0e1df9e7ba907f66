"""DistributedOptimizer: averages gradients across ranks while backward() still runs.

Gradients are grouped into fusion buckets of up to COHORT_FUSION_THRESHOLD bytes (default
64 MiB; suffixes K, M, G allowed; 0 = one bucket per parameter), filled in reverse parameter
order (roughly the order backward produces them). Every parameter's .grad is a view of its
bucket's flat buffer (preallocated once, reused every step), so autograd accumulates straight
into it; a hook on each gradient accumulator marks the gradient ready (copying it in only if
.grad was replaced, e.g. by zero_grad(set_to_none=True)), and when a bucket is full its
allreduce starts at once, so communication overlaps the rest of backward. Buckets start in the same order on every rank (a bucket that fills early waits for
the ones before it), which keeps the ranks' collectives matched. step() = synchronize() (start
what has not started, with zeros for parameters that got no gradient, as Horovod does; wait;
the results are already in .grad) and then the wrapped optimizer's step.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Iterable, Iterator, List, Optional, Tuple

import torch

from .. import _C
from .basics import Average, ReduceOp, check_dtype, size
from .compression import Compression

_DEFAULT_FUSION = 64 << 20


def fusion_threshold() -> int:
    """COHORT_FUSION_THRESHOLD in bytes (default 64 MiB)."""
    text = os.environ.get("COHORT_FUSION_THRESHOLD", "").strip()
    if not text:
        return _DEFAULT_FUSION
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1].upper(), 1)
    digits = text[:-1] if scale != 1 else text
    try:
        value = int(digits) * scale
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"COHORT_FUSION_THRESHOLD={text!r} is not a byte count (e.g. 67108864, "
                         "64M, or 0 for one bucket per parameter)")
    return value


class _Bucket:
    """Gradients of a few parameters of one dtype, reduced with one allreduce."""

    def __init__(self, params: List[torch.Tensor], compression: Any, op: ReduceOp):
        self.params = params
        self.offsets: List[int] = []
        total = 0
        for p in params:
            self.offsets.append(total)
            total += p.numel()
        dtype = params[0].dtype
        self.buffer = torch.zeros(total, dtype=dtype)
        wire = compression.wire_dtype(dtype) if hasattr(compression, "wire_dtype") else None
        self.custom = wire is None  # a compressor that does not say what it sends
        narrowing = wire != dtype
        self.wire = torch.zeros(total, dtype=wire) if narrowing and not self.custom else None
        # Average with a narrowing (or unknown) compressor: divide first, then sum (see
        # compression.py); otherwise the core averages.
        if narrowing and op == ReduceOp.Average:
            self.prescale, self.op = 1.0 / size(), ReduceOp.Sum
        else:
            self.prescale, self.op = 1.0, op
        self.ready = [False] * len(params)
        self.pending = len(params)
        self.work: Any = None
        self.ctx: Any = None
        self.sent: Optional[torch.Tensor] = None

    def grad_view(self, slot: int) -> torch.Tensor:
        """The part of the flat buffer that holds parameter `slot`'s gradient."""
        p, off = self.params[slot], self.offsets[slot]
        return self.buffer[off:off + p.numel()].view(p.shape)

    def attach(self) -> None:
        """Makes every parameter's .grad a view of the flat buffer (as DDP's
        gradient_as_bucket_view): autograd then accumulates straight into the buffer, and
        neither packing nor unpacking copies anything."""
        for slot, p in enumerate(self.params):
            view = self.grad_view(slot)
            if p.grad is not None:
                view.copy_(p.grad)
            p.grad = view

    def pack(self, slot: int, grad: Optional[torch.Tensor]) -> None:
        view = self.grad_view(slot).view(-1)
        if grad is None:
            view.zero_()
        elif grad.data_ptr() == view.data_ptr():
            pass  # autograd accumulated into the attached view: already in the buffer
        else:
            if grad.is_sparse:
                raise NotImplementedError("DistributedOptimizer: sparse gradients are not "
                                          "supported; use a dense embedding (sparse=False)")
            view.copy_(grad.reshape(-1))
        self.ready[slot] = True
        self.pending -= 1

    def launch(self, compression: Any) -> None:
        if self.prescale != 1.0:
            self.buffer.mul_(self.prescale)
        if self.custom:
            sent, self.ctx = compression.compress(self.buffer)
            self.sent = sent.contiguous()
        elif self.wire is not None:
            self.wire.copy_(self.buffer)
            self.sent = self.wire
        else:
            self.sent = self.buffer
        self.work = _C.allreduce_async(self.sent, None, int(self.op))

    def finish(self, compression: Any) -> None:
        self.work.wait()
        if self.custom:
            self.buffer.copy_(compression.decompress(self.sent, self.ctx).reshape(-1))
        elif self.wire is not None:
            self.buffer.copy_(self.wire)
        for slot, p in enumerate(self.params):
            view = self.grad_view(slot)
            # Normally .grad is the view already; after zero_grad(set_to_none=True), or if the
            # user replaced .grad, attach the view again.
            if p.grad is None or p.grad.data_ptr() != view.data_ptr():
                p.grad = view

    def reset(self) -> None:
        self.ready = [False] * len(self.params)
        self.pending = len(self.params)
        self.work = self.ctx = self.sent = None


class _DistributedOptimizer:
    """Mixin placed before the wrapped optimizer's class (see DistributedOptimizer)."""

    def _cohort_setup(self, named_parameters: Optional[Iterable[Tuple[str, torch.Tensor]]],
                      compression: Any, backward_passes_per_step: int, op: ReduceOp) -> None:
        if backward_passes_per_step < 1:
            raise ValueError("backward_passes_per_step must be at least 1, got "
                             f"{backward_passes_per_step}")
        size()  # "cohort is not initialized" now rather than at the first backward
        self._compression = compression
        self._passes = int(backward_passes_per_step)
        params: List[torch.Tensor] = []
        seen = set()
        for group in self.param_groups:
            for p in group["params"]:
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        self._names = _names(named_parameters, params)
        for p in params:
            check_dtype(p.dtype, f"parameter {self._names[id(p)]!r}")
            if p.device.type != "cpu":
                raise NotImplementedError(f"parameter {self._names[id(p)]!r} is on {p.device}; "
                                          "this build of cohort moves CPU tensors only")
        self._buckets = _make_buckets(list(reversed(params)), fusion_threshold(),
                                      compression, ReduceOp(op))
        self._delay = {id(p): self._passes for p in params}
        self._next = 0  # buckets [0, _next) have started this step
        self._should_sync = True
        self._synchronized = False
        self._grad_accs = []  # keep the accumulators (and so the hooks) alive
        with torch.no_grad():
            for b in self._buckets:
                b.attach()
        with torch.enable_grad():
            for b in self._buckets:
                for slot, p in enumerate(b.params):
                    acc = p.expand_as(p).grad_fn.next_functions[0][0]
                    acc.register_hook(self._make_hook(p, b, slot))
                    self._grad_accs.append(acc)

    def _make_hook(self, p: torch.Tensor, bucket: _Bucket, slot: int) -> Any:
        def hook(*_: Any) -> None:
            key = id(p)
            if self._delay[key] <= 0:
                raise AssertionError(
                    f"gradient of {self._names[key]!r} was computed more than "
                    f"backward_passes_per_step={self._passes} times before step(); increase "
                    "backward_passes_per_step to accumulate gradients locally")
            self._delay[key] -= 1
            if self._delay[key] == 0:
                with torch.no_grad():
                    bucket.pack(slot, p.grad)
                    self._launch_ready()
        return hook

    def _launch_ready(self) -> None:
        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            self._buckets[self._next].launch(self._compression)
            self._next += 1

    def synchronize(self) -> None:
        """Finish every gradient's allreduce and write the averages into `.grad`."""
        try:
            for b in self._buckets[self._next:]:
                for slot, p in enumerate(b.params):
                    if not b.ready[slot]:
                        b.pack(slot, p.grad)
            self._launch_ready()
            with torch.no_grad():
                for b in self._buckets:
                    b.finish(self._compression)
        finally:
            for b in self._buckets:
                b.reset()
            self._next = 0
            for key in self._delay:
                self._delay[key] = self._passes
        self._synchronized = True

    @contextlib.contextmanager
    def skip_synchronize(self) -> Iterator[None]:
        """Inside this block step() does not synchronize (after an explicit synchronize())."""
        self._should_sync = False
        try:
            yield
        finally:
            self._should_sync = True

    def step(self, closure: Any = None) -> Any:
        """synchronize() (unless already done since the last step), then the wrapped step."""
        if self._should_sync and not self._synchronized:
            self.synchronize()
        self._synchronized = False
        return super().step(closure)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """As the wrapped optimizer's; refused while gradients are being communicated."""
        if self._next > 0 or any(any(b.ready) for b in self._buckets):
            raise AssertionError(
                "optimizer.zero_grad() was called after loss.backward() but before "
                "optimizer.step() or optimizer.synchronize(); the gradients being averaged "
                "would be lost")
        return super().zero_grad(set_to_none)


def _names(named: Optional[Iterable[Tuple[str, torch.Tensor]]], params: List[torch.Tensor]) -> dict:
    if named is None:
        return {id(p): f"param.{i}" for i, p in enumerate(params)}
    pairs = list(named)
    if any(not isinstance(x, tuple) or len(x) != 2 for x in pairs):
        raise ValueError("named_parameters must be (name, parameter) pairs, e.g. "
                         "model.named_parameters()")
    names = [n for n, _ in pairs]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise ValueError(f"named_parameters has duplicate names: {', '.join(dups)}")
    out = {id(p): n for n, p in pairs}
    missing = [i for i, p in enumerate(params) if id(p) not in out]
    if missing:
        raise ValueError(f"named_parameters does not name {len(missing)} of the optimizer's "
                         "parameters; pass model.named_parameters() for the optimized model")
    return out


def _make_buckets(params: List[torch.Tensor], threshold: int, compression: Any,
                  op: ReduceOp) -> List[_Bucket]:
    buckets: List[_Bucket] = []
    current: List[torch.Tensor] = []
    nbytes = 0
    for p in params:
        size_p = p.numel() * p.element_size()
        if current and (p.dtype != current[0].dtype or nbytes + size_p > threshold):
            buckets.append(_Bucket(current, compression, op))
            current, nbytes = [], 0
        current.append(p)
        nbytes += size_p
    if current:
        buckets.append(_Bucket(current, compression, op))
    return buckets


def DistributedOptimizer(optimizer: torch.optim.Optimizer,
                         named_parameters: Optional[Iterable[Tuple[str, torch.Tensor]]] = None,
                         compression: Any = Compression.none, backward_passes_per_step: int = 1,
                         op: ReduceOp = Average) -> torch.optim.Optimizer:
    """Wrap `optimizer` so that step() applies gradients averaged (op) over every rank.

    The result is an instance of a subclass of `optimizer`'s class sharing its state and
    param_groups (isinstance, state_dict and load_state_dict work). `backward_passes_per_step=N`
    accumulates N backward passes locally and communicates on the N-th (gradients are summed
    over the passes, as Horovod does: scale the loss by 1/N for a mean).
    """
    if isinstance(optimizer, _DistributedOptimizer):
        raise ValueError("optimizer is already a DistributedOptimizer")
    base = optimizer.__class__
    cls = type(base.__name__, (_DistributedOptimizer, base), {"__module__": base.__module__})
    dist = cls.__new__(cls)
    dist.__dict__.update(optimizer.__dict__)
    dist._cohort_setup(named_parameters, compression, backward_passes_per_step, op)
    return dist
