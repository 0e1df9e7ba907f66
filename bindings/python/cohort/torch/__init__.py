"""Horovod-style PyTorch API over cohort's collectives: ``import cohort.torch as ct``.

    ct.init()
    ct.broadcast_parameters(model.state_dict(), root_rank=0)
    ct.broadcast_optimizer_state(opt, root_rank=0)
    opt = ct.DistributedOptimizer(opt, named_parameters=model.named_parameters())
    ...  loss.backward(); opt.step()

Collectives take torch tensors (CPU in this build) or numpy arrays and return the same kind.
Errors: TypeError for unsupported dtypes (bool, complex, int16, ...), ValueError (a
``cohort.CohortValueError`` when it comes from the core) for shapes or counts that ranks disagree
on, NotImplementedError for CUDA tensors in a CPU-only build, ``cohort.CohortError`` ("cohort is
not initialized") before init(), ``cohort.CohortTimeoutError`` / ``cohort.CohortPeerError`` when a
peer stalls or fails.
"""
from .. import (CohortAuthError, CohortError, CohortPeerError, CohortTimeoutError,  # noqa: F401
                CohortUnsupportedError, CohortValueError, __version__)
from .basics import (Average, Max, Min, Product, ReduceOp, Sum, init, is_initialized,  # noqa: F401
                     local_rank, local_size, rank, shutdown, size)
from .compression import Compression, Compressor  # noqa: F401
from .functions import (allgather_object, broadcast_object, broadcast_optimizer_state,  # noqa: F401
                        broadcast_parameters)
from .ops import (Handle, allgather, allgather_async, allreduce, allreduce_,  # noqa: F401
                  allreduce_async, allreduce_async_, alltoall, alltoall_async, barrier, barrier_async, broadcast,
                  broadcast_, broadcast_async, broadcast_async_, poll, reduce_scatter,
                  reduce_scatter_async, synchronize)
from .optimizer import DistributedOptimizer  # noqa: F401
from .ps import ParameterStore, ShardedOptimizer  # noqa: F401

__all__ = [n for n in dir() if not n.startswith("_")]
