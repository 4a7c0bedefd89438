"""Work arrays: where a layer writes Z, A and the gradients it passes back, kept per
batch size so that a training step allocates nothing.

A layer keeps one ``WorkArrays`` (a dict {batch size n: Batch}). Under ``reuse`` its
``batch(owner, X, reuse)`` gives the ``Batch`` for X's batch size, whose attributes
are the arrays (``work.Z``, ``work.dA_prev``), made on first use with the shape and
dtype the owner's ``_work_shapes(X)`` names, and the same arrays at every later step
of that size. Without ``reuse`` it gives ``NO_WORK``, whose every attribute is None:
numpy then allocates a new array, as a plain ``np.matmul(A, B, out=None)`` does.

Arrays of a batch are overwritten by the next call with the same batch size: a
caller that keeps an output copies it. Work arrays are scratch, not state: a layer
drops them when pickled or copied.
"""

from __future__ import annotations

import numpy as np

#: Batch sizes whose work arrays are kept at once (e.g. the full and the last batch).
KEPT_SIZES = 4


class Batch:
    """The work arrays of one batch size, as attributes made on first use."""

    def __init__(self, shapes: dict, X: np.ndarray):
        self._shapes = shapes  # {name: (shape, dtype)}
        self._key = (X.shape, X.dtype)  # the input these arrays were made for

    def __getattr__(self, name: str) -> np.ndarray:
        # Called only for a name not yet made: after this it is a plain attribute.
        try:
            shape, dtype = self.__dict__["_shapes"][name]
        except KeyError:
            raise AttributeError(f"no work array {name!r}") from None
        array = np.empty(shape, dtype=dtype)
        setattr(self, name, array)
        return array


class _NoWork:
    """Every work array is None: numpy allocates a new one."""

    def __getattr__(self, name: str) -> None:
        if name.startswith("__"):  # copy, pickle and the like: not a work array
            raise AttributeError(name)
        return None


NO_WORK = _NoWork()


class WorkArrays(dict):
    """{batch size n: Batch} of one layer, for the last ``KEPT_SIZES`` sizes."""

    def batch(self, owner, X: np.ndarray, reuse: bool) -> Batch | _NoWork:
        """The work arrays for the batch X under ``reuse``, else ``NO_WORK``.

        ``owner._work_shapes(X)`` names the arrays and their shapes and dtypes; it is
        asked once per batch size (again if X's width or dtype changes)."""
        if not reuse:
            return NO_WORK
        n = X.shape[0]
        batch = self.get(n)
        if batch is None or batch._key != (X.shape, X.dtype):
            if batch is None and len(self) >= KEPT_SIZES:
                self.pop(next(iter(self)))  # the oldest batch size
            batch = self[n] = Batch(owner._work_shapes(X), X)
        return batch
