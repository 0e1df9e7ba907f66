"""The sharded parameter store and the ZeRO optimizer for torch tensors (CPU).

    ps = ct.ParameterStore(optimizer={"type": "adamw", "lr": 1e-3, "weight_decay": 0.01})
    for name, p in model.named_parameters():
        ps.init(name, p.data)                  # every rank, same order; rank 0's values win
    ...
    loss.backward()
    ps.push_pull([n for n, _ in params], [p.grad for _, p in params], [p.data for _, p in params])

    opt = ct.ShardedOptimizer(model.parameters(), "adamw", lr=1e-3, stage=2)
    loss.backward(); opt.step(); opt.zero_grad()

See the README's "Parameter store and ZeRO" for the semantics (synchronous and asynchronous modes,
staleness, checkpoints). Tensors must be contiguous and in host memory; errors are cohort's
exceptions (CohortValueError for bad keys, shapes and dtypes, CohortPeerError for a lost server).
"""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Union

import torch

from .. import _C
from .ops import Handle

Tensors = Union[torch.Tensor, Sequence[torch.Tensor]]


def _names(keys: Union[str, Sequence[str]]) -> List[str]:
    return [keys] if isinstance(keys, str) else list(keys)


def _tensors(t: Tensors) -> List[torch.Tensor]:
    return [t] if isinstance(t, torch.Tensor) else list(t)


def _check(t: torch.Tensor, what: str) -> torch.Tensor:
    if t.device.type != "cpu":
        raise NotImplementedError(f"the parameter store takes host tensors; {what} is on {t.device}")
    if not t.is_contiguous():
        raise ValueError(f"{what} must be contiguous")
    return t


class ParameterStore:
    """cohort's ParameterStore (C++) for torch tensors. Collective calls: init, save, load,
    set_learning_rate, set_optimizer, close."""

    def __init__(self, asynchronous: bool = False, staleness: int = -1, num_servers: int = 0,
                 average_gradients: bool = True, optimizer: Optional[dict] = None,
                 min_split_bytes: int = 256 * 1024, name: str = "ps"):
        self._c = _C.ParameterStore(name, asynchronous, staleness, num_servers, average_gradients,
                                    optimizer or {"type": "sgd", "lr": 0.01}, min_split_bytes)

    def init(self, key: str, value: torch.Tensor, optimizer: Optional[dict] = None) -> None:
        _check(value, f"the value of '{key}'")
        self._c.init(key, value.detach(), list(value.shape), optimizer)

    def _start(self, op: str, keys, grads, outs, step: int = 0) -> Handle:
        names = _names(keys)
        g = [_check(t.detach(), "a gradient") for t in _tensors(grads)] if grads is not None else []
        o = [_check(t.detach(), "an output") for t in _tensors(outs)] if outs is not None else []
        work = self._c.start(op, names, g, o, step)
        return Handle([work], lambda: None, f"parameter store {op} of {len(names)} keys")

    def push_async(self, keys, grads, step: int = 0) -> Handle:
        return self._start("push", keys, grads, None, step)

    def pull_async(self, keys, outs) -> Handle:
        return self._start("pull", keys, None, outs)

    def push_pull_async(self, keys, grads, outs) -> Handle:
        return self._start("push_pull", keys, grads, outs)

    def push(self, keys, grads, step: int = 0) -> None:
        self.push_async(keys, grads, step).wait()

    def pull(self, keys, outs) -> None:
        self.pull_async(keys, outs).wait()

    def push_pull(self, keys, grads, outs) -> None:
        self.push_pull_async(keys, grads, outs).wait()

    def set_learning_rate(self, lr: float, key: str = "") -> None:
        self._c.set_learning_rate(lr, key)

    def set_optimizer(self, optimizer: dict, key: str = "") -> None:
        self._c.set_optimizer(optimizer, key)

    def save(self, directory: str) -> None:
        self._c.save(str(directory))

    def load(self, directory: str) -> None:
        self._c.load(str(directory))

    def step(self, key: str) -> int:
        return self._c.step(key)

    def keys(self) -> List[str]:
        return self._c.keys()

    def optimizer(self, key: str) -> dict:
        return self._c.optimizer(key)

    def server_bytes(self) -> List[int]:
        return self._c.server_bytes()

    @property
    def num_servers(self) -> int:
        return self._c.num_servers()

    def close(self) -> None:
        """Says goodbye to the servers (collective; also done when the store is collected)."""
        self._c.close()


class ShardedOptimizer:
    """ZeRO stage 1/2 over the default communicator: each rank keeps the f32 master copy and the
    optimizer state of 1/N of the parameters. step() averages the gradients across ranks,
    updates this rank's slice with cohort's fused kernel and allgathers the parameters.

    The gradients are the parameters' .grad tensors, created (zeroed) here if missing; keep them
    (zero_grad() zeroes them in place rather than setting them to None)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], optimizer: str = "adamw", stage: int = 2,
                 bucket_bytes: int = 16 << 20, **hyperparameters):
        self.params = [p for p in params if p.requires_grad]
        for p in self.params:
            _check(p.data, "a parameter")
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        self._grads = [p.grad for p in self.params]
        spec = {"type": optimizer, **hyperparameters}
        self._c = _C.ShardedOptimizer([p.data for p in self.params], self._grads, spec, stage, bucket_bytes)

    def step(self) -> None:
        for p, g in zip(self.params, self._grads):
            if p.grad is not g:  # backward made a new tensor: bring its values to the registered one
                g.copy_(p.grad)
                p.grad = g
        self._c.step()

    def zero_grad(self) -> None:
        for g in self._grads:
            g.zero_()

    def set_learning_rate(self, lr: float) -> None:
        self._c.set_learning_rate(lr)

    def state_bytes(self) -> int:
        """Bytes of optimizer state this rank holds (1/N of the unsharded optimizer's)."""
        return self._c.state_bytes()
