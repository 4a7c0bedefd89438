"""Both cores for branch and bound: batches of boxes or subproblems in worker processes.

A batch of subproblems is cut in one part per worker; each worker bounds its part
(``relu_split.evaluate``) with one BLAS thread, so two workers use two cores without
oversubscribing them. The main process is one of the workers: it bounds the first
part itself while the worker processes bound the others, so "2 workers" is one
extra process, and only its part crosses between processes (a main process that
waited for two workers sat idle). Input splitting's many small products run on one
BLAS thread, so a second process doubles its speed; ReLU splitting's products over
hundreds of neurons already use both cores through the BLAS threads, and a second
process did not make it faster (6,947 to 8,131 subproblems in 20 s in one process,
6,531 and 7,747 with two, on the benchmark's hardest MNIST-like instance), so
``verify`` starts workers for it only when asked. Processes start by "forkserver"
(or "spawn" where there is no forkserver), safe next to threads. The network is
sent to each worker once.
"""

from __future__ import annotations

import functools
import multiprocessing
import os

import numpy as np

from ..errors import InputError
from .relu_split import _index_warm, _join_warm

_NET = None
START_AFTER = 1.0  # seconds of search before workers start (``LazyPool``)
START_ROOM = 5.0  # and seconds left at least
RELU_SPLIT_AFTER = 64  # and subproblems bounded at least, for ReLU splitting


@functools.cache
def _controller():
    """threadpoolctl's view of the BLAS libraries, made once (making one scans the
    loaded libraries: about a millisecond, per batch otherwise)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread():
    """The main process's part of a batch runs on one BLAS thread, as the workers."""
    return _controller().limit(limits=1, user_api="blas")


def _init(vn) -> None:
    global _NET
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _NET = vn


def _work(box, C, d, phases, steps, parent, inherit, start):
    from .relu_split import evaluate

    return evaluate(_NET, box, C, d, phases, steps, parent, inherit, start)


def _bound_work(prop, lo, hi, parent):
    from .branch import _bound_boxes

    return _bound_boxes(_NET, prop, lo, hi, parent)


class Pool:
    """Worker processes that bound subproblems: ``evaluate`` as in ``relu_split``."""

    def __init__(self, vn, workers: int) -> None:
        from concurrent.futures import ProcessPoolExecutor

        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context(
            "forkserver" if "forkserver" in methods else "spawn"
        )
        self.vn, self.workers, self.broken = vn, workers, False
        self.executor = ProcessPoolExecutor(
            workers - 1, mp_context=context, initializer=_init, initargs=(vn,)
        )

    def evaluate(
        self, vn, box, C, d, phases, steps, parent=None, inherit=False, start=None
    ):  # fmt: skip
        """``relu_split.evaluate``, a part of the subproblems per worker; None when
        the workers could not start, and for good after that."""
        from concurrent.futures.process import BrokenProcessPool

        if self.broken:
            return None
        from .relu_split import evaluate

        D = len(phases[0])
        cuts = np.array_split(np.arange(D), min(self.workers, D))

        def part(c):
            return (
                box, C, d, [p[c] for p in phases], steps,
                None if parent is None else [(L[c], U[c]) for L, U in parent],
                inherit, None if start is None else _index_warm(start, c),
            )  # fmt: skip

        try:
            futures = [self.executor.submit(_work, *part(c)) for c in cuts[1:]]
            with _one_blas_thread():
                here = evaluate(vn, *part(cuts[0]))
            parts = [here] + [f.result() for f in futures]
        except (BrokenProcessPool, RuntimeError, OSError):
            self.broken = True
            return None
        value = np.concatenate([p[0] for p in parts])
        X = np.concatenate([p[1] for p in parts])
        scores = {j: np.concatenate([p[2][j] for p in parts]) for j in parts[0][2]}
        bounds = [
            (
                np.concatenate([p[3][k][0] for p in parts]),
                np.concatenate([p[3][k][1] for p in parts]),
            )
            for k in range(len(parts[0][3]))
        ]
        warm = parts[0][4]
        for p in parts[1:]:
            warm = _join_warm(warm, p[4])
        return value, X, scores, bounds, warm

    def bound_boxes(self, prop, lo, hi, parent):
        """``branch._bound_boxes`` of the boxes (lo, hi), a part per worker; None
        when the workers could not start (a script without the
        ``if __name__ == "__main__":`` guard), and for good after that."""
        from concurrent.futures.process import BrokenProcessPool

        if self.broken:
            return None
        from .branch import _bound_boxes

        cuts = np.array_split(np.arange(len(lo)), min(self.workers, len(lo)))

        def part(c):
            return prop, lo[c], hi[c], [(L[c], U[c]) for L, U in parent]

        try:
            futures = [self.executor.submit(_bound_work, *part(c)) for c in cuts[1:]]
            with _one_blas_thread():
                here = _bound_boxes(self.vn, *part(cuts[0]))
            parts = [here] + [f.result() for f in futures]
        except (BrokenProcessPool, RuntimeError, OSError):
            self.broken = True
            return None
        bounds = np.concatenate([p[0] for p in parts])
        layers = [
            (
                np.concatenate([p[1][k][0] for p in parts]),
                np.concatenate([p[1][k][1] for p in parts]),
            )
            for k in range(len(parts[0][1]))
        ]
        return bounds, layers

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class LazyPool:
    """A ``Pool`` opened only once a search has bounded ``after_boxes`` boxes (or
    subproblems) in ``after`` seconds or more and has at least ``room`` seconds
    left: starting workers costs a second or so (each imports glassnet and loads
    its compiled loops), which a short search does not win back. With workers=None,
    2 when the machine has 2 cores and the main script can start workers
    (``main_is_guarded``), else 1. ``get(n_boxes, deadline)`` gives the pool, or
    None (then bound in process)."""

    def __init__(
        self, vn, workers: int | None, after: float | None = None,
        after_boxes: int = 1024, room: float | None = None,
    ) -> None:  # fmt: skip
        import time

        after = START_AFTER if after is None else after
        room = START_ROOM if room is None else room

        if workers is None:
            two = (os.cpu_count() or 1) >= 2
            workers = 2 if two and main_is_guarded() else 1
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise InputError(
                f"workers must be a positive integer or None, got {workers!r}"
            )
        self.vn, self.workers, self.pool = vn, workers, None
        self.after, self.after_boxes, self.room = after, after_boxes, room
        self.clock = time.perf_counter
        self.start = self.clock()

    @property
    def started(self) -> int:
        """How many worker processes are bounding (0: none, all in process)."""
        return 0 if self.pool is None else self.workers

    def get(self, n_boxes: int = 0, deadline: float = float("inf")):
        if self.pool is None and self.workers > 1:
            now = self.clock()
            if (
                n_boxes >= self.after_boxes
                and now - self.start >= self.after
                and deadline - now >= self.room
            ):
                self.pool = Pool(self.vn, self.workers)
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def main_is_guarded() -> bool:
    """Whether worker processes can start without running the program again: a
    worker started by "forkserver" or "spawn" imports the main script, so a script
    whose work is not under ``if __name__ == "__main__":`` would run once more per
    worker. True for an interactive session or ``python -c`` (no main file) and for
    a main file with that guard; False when the file cannot be read."""
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path is None:
        return True
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            source = f.read()
    except OSError:
        return False
    return "__name__" in source and "__main__" in source
