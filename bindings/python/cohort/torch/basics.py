"""Process identity, reduction ops and the tensor checks shared by cohort.torch's modules."""
from __future__ import annotations

import enum
from typing import Any, Tuple

import torch

from .. import _C

try:  # numpy is optional: collectives accept numpy arrays when it is there
    import numpy as _np
except ImportError:  # pragma: no cover
    _np = None


class ReduceOp(enum.IntEnum):
    """Reductions, numbered as the C++ core's cohort::ReduceOp."""

    Sum = 0
    Product = 1
    Min = 2
    Max = 3
    Average = 4


Sum = ReduceOp.Sum
Product = ReduceOp.Product
Min = ReduceOp.Min
Max = ReduceOp.Max
Average = ReduceOp.Average

#: dtypes that cohort moves and reduces, in a fixed order (their index travels in size exchanges).
SUPPORTED_DTYPES: Tuple[torch.dtype, ...] = (
    torch.float32, torch.float64, torch.float16, torch.bfloat16,
    torch.int8, torch.uint8, torch.int32, torch.int64,
)
_SUPPORTED_TEXT = "supported: float32, float64, float16, bfloat16, int8, uint8, int32, int64"
_NUMPY_OK = ("float32", "float64", "float16", "int8", "uint8", "int32", "int64")


def init() -> None:
    """Join the job (identity from cohortrun, mpirun, srun or torchrun variables). Idempotent.

    Without any launcher variables the process is a world of one rank.
    """
    _C.init()


def shutdown() -> None:
    """Leave the job. Pending operations end with an error."""
    _C.shutdown()


def is_initialized() -> bool:
    """True between init() and shutdown()."""
    return bool(_C.is_initialized())


def rank() -> int:
    """This process's rank in [0, size())."""
    return _C.rank()


def size() -> int:
    """Number of ranks in the job."""
    return _C.size()


def local_rank() -> int:
    """This process's rank among the ranks on its host."""
    return _C.local_rank()


def local_size() -> int:
    """Number of ranks on this process's host."""
    return _C.local_size()


def check_dtype(dtype: torch.dtype, what: str = "tensor") -> None:
    """Raise TypeError naming `dtype` unless cohort can move and reduce it."""
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{what} has dtype {str(dtype).replace('torch.', '')}, which cohort cannot "
                        f"reduce or move; {_SUPPORTED_TEXT}")


def to_tensor(obj: Any, what: str = "tensor", inplace: bool = False) -> Tuple[torch.Tensor, bool]:
    """(torch view of `obj`, whether `obj` is a numpy array). Checks the dtype.

    The returned tensor is detached (it shares `obj`'s memory); for in-place operations a numpy
    array must be writable.
    """
    if isinstance(obj, torch.Tensor):
        check_dtype(obj.dtype, what)
        return obj.detach(), False
    if _np is not None and isinstance(obj, _np.ndarray):
        if obj.dtype.name not in _NUMPY_OK:
            raise TypeError(f"{what} has numpy dtype {obj.dtype.name}, which cohort cannot reduce "
                            f"or move; {_SUPPORTED_TEXT}")
        if not obj.dtype.isnative:
            raise TypeError(f"{what} has a big-endian dtype ({obj.dtype.str}); use native order")
        if not obj.flags.writeable:
            if inplace:
                raise ValueError(f"{what} is a read-only numpy array, but this operation writes "
                                 "its result there; pass a writable array (arr.copy())")
            obj = obj.copy()
        return torch.from_numpy(obj), True
    raise TypeError(f"{what} must be a torch.Tensor or a numpy.ndarray, not "
                    f"{type(obj).__name__}")


def from_tensor(t: torch.Tensor, as_numpy: bool) -> Any:
    """`t`, or its numpy view when the caller passed numpy."""
    return t.numpy() if as_numpy else t


def shape_text(shape: Any) -> str:
    """[2, 3] for torch.Size([2, 3])."""
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"
