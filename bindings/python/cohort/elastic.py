"""Elastic training: go on with fewer ranks after one is lost, as Horovod elastic does.

Launch with ``cohortrun --elastic``: a rank that dies no longer stops the job. Keep what must
survive in a ``State`` and commit it at points worth coming back to::

    import cohort, cohort.elastic as elastic
    cohort.init()
    state = elastic.State(weights=w, step=0)

    @elastic.run
    def train(state):
        while state.step < 100:
            grad = compute(state.weights)
            cohort.allreduce(grad, op=cohort.OP_AVG)
            state.weights -= 0.1 * grad
            state.step += 1
            state.commit()

    train(state)

When a collective inside ``train`` fails because a peer was lost (``CohortPeerError``) or
stopped answering (``CohortTimeoutError``), every survivor replaces its communicator with the
survivors' (``cohort.shrink()``), puts the state back to its last commit, takes rank 0's copy of
it, runs the reset callbacks (to rescale a learning rate, rebuild a sampler), and calls ``train``
again. Other errors (bad arguments, a mismatch) propagate.
"""
import copy
import pickle

import numpy as np

from . import _C


def _copy(value):
    clone = getattr(value, "clone", None)  # a torch tensor: detach from autograd history too
    return clone().detach() if callable(clone) else copy.deepcopy(value)


class State:
    """Named values (arrays, tensors, numbers, anything picklable) with commit and restore."""

    def __init__(self, **values):
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_saved", {})
        object.__setattr__(self, "_callbacks", [])
        self.commit()

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"elastic.State has no value '{name}'") from None

    def __setattr__(self, name, value):
        self._values[name] = value

    def commit(self):
        """Remember the values as they are now: a loss goes back to here."""
        self._saved.clear()
        self._saved.update({k: _copy(v) for k, v in self._values.items()})

    def restore(self):
        """Back to the last commit. Arrays and tensors are updated in place where they can be,
        so that a model or optimizer holding them sees the restored values."""
        for key, saved in self._saved.items():
            current = self._values.get(key)
            if hasattr(current, "copy_") and getattr(current, "shape", None) == saved.shape:
                current.copy_(saved)
            elif isinstance(current, np.ndarray) and current.shape == getattr(saved, "shape", None):
                np.copyto(current, saved)
            else:
                self._values[key] = _copy(saved)

    def sync(self):
        """Every rank takes rank 0's values (the survivors may have committed at different
        steps when the loss hit between their commits)."""
        payload = pickle.dumps(self._values) if _C.rank() == 0 else b""
        length = np.array([len(payload)], dtype=np.int64)
        _C.broadcast(length, None, 0)
        buffer = np.frombuffer(payload, dtype=np.uint8).copy() if _C.rank() == 0 else \
            np.zeros(int(length[0]), dtype=np.uint8)
        _C.broadcast(buffer, None, 0)
        if _C.rank() != 0:
            theirs = pickle.loads(buffer.tobytes())
            self._saved.clear()
            self._saved.update(theirs)
            self.restore()
        self.commit()

    def register_reset_callbacks(self, callbacks):
        """Functions called with no arguments after every change of the world."""
        self._callbacks.extend(callbacks)

    def on_reset(self):
        for callback in self._callbacks:
            callback()


def run(train):
    """Decorates ``train(state, ...)`` to resume on the survivors after a rank is lost."""
    def wrapper(state, *args, **kwargs):
        while True:
            try:
                return train(state, *args, **kwargs)
            except (_C.CohortPeerError, _C.CohortTimeoutError):
                _C.shrink()
                state.restore()
                state.sync()
                state.on_reset()
    wrapper.__name__ = getattr(train, "__name__", "train")
    wrapper.__doc__ = train.__doc__
    return wrapper
