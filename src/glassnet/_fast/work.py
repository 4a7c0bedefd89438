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

Before large arrays are made, ``check_memory`` compares the bytes they need with the
memory available (``available_memory``) and refuses with both figures, instead of a
``MemoryError`` halfway through (or the kernel's out-of-memory killer).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import GlassnetError

try:
    import resource
except ImportError:  # not on Windows
    resource = None

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
        # Zeros, not np.empty: a BLAS product into ``out`` may scale the old contents
        # by beta = 0, and 0 * NaN from uninitialised memory would raise (or flag)
        # "invalid value" in a product of finite numbers. Made once per batch size.
        array = np.zeros(shape, dtype=dtype)
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


# -- memory before allocating -----------------------------------------------------------
GIB = 2**30


class MemoryLimitError(GlassnetError, MemoryError):
    """Arrays glassnet was about to allocate would not fit in the memory available."""


def available_memory() -> int | None:
    """Bytes this process may still allocate: the kernel's MemAvailable (or free
    physical pages), capped by what RLIMIT_AS leaves above the current address
    space; None when neither can be read."""
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)  # given in kB
    except (OSError, ValueError, IndexError):
        pass
    if not limits:
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            pass
    if resource is not None:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(max(0, soft - _address_space()))
    return min(limits) if limits else None


def _address_space() -> int:
    """Bytes of address space the process uses now (0 if unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


_NETWORK_ADVICE = "use smaller layers, a smaller batch or float32, or free memory"


def check_memory(needed: int, what: str, advice: str = _NETWORK_ADVICE) -> None:
    """Raise MemoryLimitError naming ``what``, both figures and ``advice`` when
    ``needed`` bytes exceed the memory available (nothing when that cannot be
    read).

    Examples
    --------
    >>> check_memory(1024, "a small array")  # fits anywhere
    >>> check_memory(2**80, "a huge array")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    glassnet._fast.work.MemoryLimitError: a huge array needs 1125899906842624.0 GiB, ...
    """
    available = available_memory()
    if available is not None and needed > available:
        raise MemoryLimitError(
            f"{what} needs {needed / GIB:.1f} GiB, {available / GIB:.1f} GiB "
            f"available; {advice}"
        )
