"""cohort: collectives for data-parallel training.

The C++ core lives in the extension module ``cohort._C``; this package re-exports it, and
``cohort.torch`` adds a Horovod-style PyTorch API on top (``import cohort.torch as ct``).

From a build tree: ``PYTHONPATH=<build>/bindings/python``. Exceptions raised by the core:

* ``CohortError`` (a ``RuntimeError``): base of all of them;
* ``CohortTimeoutError`` (also ``TimeoutError``): a wait ran past ``COHORT_TIMEOUT``;
* ``CohortPeerError`` (also ``ConnectionError``): a peer rank failed or went away;
* ``CohortValueError`` (also ``ValueError``): invalid arguments, or ranks that disagree;
* ``CohortAuthError`` (also ``PermissionError``): a peer did not prove the job secret;
* ``CohortUnsupportedError`` (also ``NotImplementedError``): e.g. CUDA buffers in a CPU build.
"""
try:
    from . import _C
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "cohort's C++ extension (cohort._C) could not be imported: build the project with CMake "
        "(pybind11 and the Python development files installed) and put <build>/bindings/python "
        f"on PYTHONPATH, or `cmake --install` it ({exc})") from exc

from ._C import (  # noqa: F401  (re-exports)
    CohortAuthError,
    CohortError,
    CohortPeerError,
    CohortTimeoutError,
    CohortUnsupportedError,
    CohortValueError,
    Handle,
    OP_AVG,
    OP_MAX,
    OP_MIN,
    OP_PROD,
    OP_SUM,
    abort,
    allgather,
    allgather_async,
    allreduce,
    allreduce_async,
    alltoall,
    alltoall_async,
    barrier,
    barrier_async,
    broadcast,
    broadcast_async,
    init,
    is_initialized,
    local_rank,
    local_size,
    rank,
    recv,
    recv_async,
    reduce,
    reduce_async,
    reduce_scatter,
    reduce_scatter_async,
    send,
    send_async,
    shutdown,
    size,
)

for _name in ("node_rank", "num_nodes", "transport_to", "last_algorithm", "shrink"):
    if hasattr(_C, _name):
        globals()[_name] = getattr(_C, _name)
del _name

__version__: str = _C.__version__

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("annotations",)]
