"""How many cores a matrix multiplication uses: a measured rule, or a fixed number.

A dense layer's step is three matrix products (Z = A W^T, dW = dZ^T A, dA = dZ W).
Splitting a product over two cores pays only when it is big enough to outweigh the
threads' hand-over, and only while the second core is free: when another process
competes for it, OpenBLAS's threads wait on each other and a 2-thread product runs
slower than a 1-thread one (up to ten times slower on a loaded 2-core machine).
So, inside ``fit``, ``predict`` and ``evaluate``, each product of m x k by k x n uses

    threads = unchanged                  if m k n <= SPLIT  (multiply-adds)
    threads = 1                          if m k n < SMALL
    threads = min(limit, free cores)     otherwise

where ``limit`` is the BLAS thread count in force when the call began (so
``threadpoolctl.threadpool_limits`` still caps it), and ``free cores`` = the cores
this process may run on minus the load other processes put on them, measured from
/proc/stat over the last half second (elsewhere: all cores are taken as free).
The library's thread count is changed only when the choice changes (a direct call
of about a microsecond, not threadpoolctl's context manager) and restored after.

``set_num_threads(n)`` fixes the count instead. Results can differ in the last bits
between thread counts (OpenBLAS splits the work differently), so for bitwise
reproducible runs of large networks on a machine whose load varies, fix it.

Examples
--------
>>> import glassnet as gn
>>> gn.set_num_threads(1); gn.get_num_threads()
1
>>> gn.set_num_threads(None); gn.get_num_threads() is None   # the measured rule
True
"""

from __future__ import annotations

import contextlib
import os
import time

#: Products with fewer multiply-adds (m k n) run on one thread: below this the
#: hand-over between threads costs more than it saves (measured, BENCHMARKS.md).
SMALL = 2**20

#: OpenBLAS splits a product over at most m k n / 2^18 threads (interface/gemm.c:
#: SMP_THRESHOLD_MIN 65536 x GEMM_MULTITHREAD_THRESHOLD 4), so one of at most this
#: many multiply-adds runs on one thread whatever the count: the count is left as
#: it is (switching it down and back up cost 3 us a step at batch 32).
SPLIT = 2**18

#: Seconds between two readings of the machine's load, and before the first reading
#: of a call that starts after a pause (its previous reading is then stale).
_LOAD_INTERVAL = 0.5
_FIRST_READING = 0.1

_fixed: int | None = None  # set_num_threads(n); None: the rule


def set_num_threads(n: int | None) -> None:
    """Use ``n`` BLAS threads for every product in fit/predict/evaluate, or the
    measured per-size rule with ``n=None`` (the default).

    Examples
    --------
    >>> import glassnet as gn
    >>> gn.set_num_threads(0)
    Traceback (most recent call last):
    ...
    ValueError: set_num_threads: n must be a positive integer or None, got 0
    >>> gn.set_num_threads(None)
    """
    global _fixed
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(
            f"set_num_threads: n must be a positive integer or None, got {n!r}"
        )
    _fixed = n


def get_num_threads() -> int | None:
    """The fixed thread count, or None when the per-size rule chooses."""
    return _fixed


class _Blas:
    """The BLAS libraries numpy uses, their thread count, and the machine's load."""

    def __init__(self):
        from threadpoolctl import ThreadpoolController

        self.libraries = ThreadpoolController().select(user_api="blas").lib_controllers
        self.current = self.get()
        self.limit = self.current
        self.free = float(_usable_cpus())
        self._load_sample = _load_sample()
        self._next_check = time.monotonic() + _LOAD_INTERVAL

    def get(self) -> int:
        counts = [lib.get_num_threads() for lib in self.libraries]
        return min((c for c in counts if c), default=1)

    def set(self, n: int) -> None:
        for lib in self.libraries:
            lib.set_num_threads(n)
        self.current = n

    def restart_load(self) -> None:
        """At the start of a call: after a pause, read the load again soon."""
        now = time.monotonic()
        if self._load_sample is None or now - self._load_sample[0] > 2 * _LOAD_INTERVAL:
            self._load_sample = _load_sample()
            self._next_check = now + _FIRST_READING

    def refresh_load(self) -> None:
        """Re-measure the free cores (at most every ``_LOAD_INTERVAL`` seconds)."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + _LOAD_INTERVAL
        sample = _load_sample()
        if sample is not None and self._load_sample is not None:
            self.free = _free_cores(self._load_sample, sample)
        self._load_sample = sample


_blas: _Blas | None = None
_depth = 0  # nesting of managed() sections


@contextlib.contextmanager
def managed():
    """Within this block, ``for_product`` chooses the threads; the library's count
    is put back after."""
    global _blas, _depth
    if _blas is None:
        _blas = _Blas()
    if _depth == 0:
        _blas.limit = _blas.current = _blas.get()
        _blas.restart_load()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _blas.current != _blas.limit:
            _blas.set(_blas.limit)


def for_product(m: int, k: int, n: int) -> None:
    """Set the BLAS threads for an (m, k) x (k, n) product (only inside ``managed``)."""
    if _depth == 0 or m * k * n <= SPLIT:
        return
    blas = _blas
    if _fixed is not None:
        want = _fixed
    elif m * k * n < SMALL:
        want = 1
    else:
        blas.refresh_load()
        want = max(1, min(blas.limit, int(blas.free + 0.5)))
    if want != blas.current:
        blas.set(want)


# -- the machine's load ------------------------------------------------------------------
def _usable_cpus() -> list[int] | int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _load_sample():
    """(wall time, busy CPU seconds of our CPUs, this process's CPU seconds), or None
    where /proc/stat cannot be read."""
    try:
        cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        ticks = os.sysconf("SC_CLK_TCK")
        busy = 0
        with open("/proc/stat", "rb") as f:
            for line in f:
                fields = line.split()
                if fields[0].decode() in cpus:
                    # user nice system idle iowait irq softirq steal: all but idle and
                    # iowait are busy (steal: the hypervisor gave the core to others).
                    values = [int(v) for v in fields[1:9]]
                    busy += sum(values) - values[3] - values[4]
        return time.monotonic(), busy / ticks, time.process_time()
    except (AttributeError, OSError, ValueError, IndexError):
        return None


def _free_cores(before, after) -> float:
    """Cores not used by other processes between two samples."""
    wall = after[0] - before[0]
    if wall <= 0:
        return float(_usable_cpus())
    others = ((after[1] - before[1]) - (after[2] - before[2])) / wall
    return max(0.0, _usable_cpus() - max(0.0, others))
