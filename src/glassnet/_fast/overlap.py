"""The optimizer's update on the second core while backpropagation goes on.

Backpropagation produces the gradients last layer first, and a layer's parameters are
not read again in the step once its own backward has run. The stock update rules are
elementwise (each parameter's new value from its own theta, g and moments), so layer
l's part of the update can run as soon as its gradient is final, on a persistent
worker thread (the compiled loops and numpy release the GIL), while the main thread
backpropagates through layers l-1 .. 1::

    main:    backward L | backward L-1 | ... | backward 1 | update 1 | wait
    worker:             | update L     | ... | update 2   |

The step returns only when every part is done, so the fit loop's divergence guard,
Ctrl-C, callbacks and checkpoints see exactly the weights of the update after
backpropagation: the same operations on every parameter, bitwise the same numbers.
The first layer's part (the last gradient, the next forward's first need) runs on
the main thread, with no hand-over.

It runs only for an optimizer whose update is elementwise (``Optimizer.elementwise``:
the stock rules, no ``clip_norm``, whose global norm reads every gradient) and a
network of at least two layers with parameters. ``enable(True)`` turns it on,
``enable(False)`` off, ``enable(None)`` back to the default: off, unless
``GLASSNET_OVERLAP=1`` is in the environment. It is off by default: on the 2-core
machine it was measured on, handing the parts over costs more than the overlap saves,
since the first layer, which holds most of the parameters, has its gradient last
(BENCHMARKS.md, "Also measured and dropped").

Examples
--------
>>> from glassnet._fast import overlap
>>> overlap.enable(True); overlap.enabled()
True
>>> overlap.enable(False); overlap.enabled()
False
>>> overlap.enable(None)                  # the default: GLASSNET_OVERLAP decides
"""

from __future__ import annotations

import math
import os
import queue
import threading
import weakref

import numpy as np

_ENV = "GLASSNET_OVERLAP"

_choice: bool | None = None  # enable(...); None: the environment decides
_environment_on: bool | None = None  # GLASSNET_OVERLAP=1; read at first use


def enable(flag: bool | None) -> None:
    """Overlap the update with backpropagation (True), never (False), or the default
    (None): only when ``GLASSNET_OVERLAP`` is ``1`` (read again after each call)."""
    global _choice, _environment_on
    if flag is not None and not isinstance(flag, bool):
        raise TypeError(f"overlap.enable takes True, False or None, got {flag!r}")
    _choice = flag
    _environment_on = None


def enabled() -> bool:
    """Whether the fit loop overlaps the update with backpropagation now."""
    global _environment_on
    if _choice is not None:
        return _choice
    if _environment_on is None:  # read once: this runs at every training step
        _environment_on = os.environ.get(_ENV) == "1"
    return _environment_on


# -- the worker ---------------------------------------------------------------------------
class _Worker:
    """A daemon thread running the parts handed to it, in order. ``wait`` returns
    when all are done and raises the first error one of them raised. The thread
    ends when this object is collected (its training thread has ended)."""

    def __init__(self):
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        threading.Thread(
            target=_serve,
            args=(self._tasks, self._done),
            name="glassnet-update",
            daemon=True,
        ).start()
        weakref.finalize(self, self._tasks.put, None)  # None: stop serving

    def submit(self, function, *args) -> None:
        self._pending += 1
        self._tasks.put((function, args, np.geterr()))

    def wait(self, quiet: bool = False) -> None:
        """Until every part handed over is done; then raise the first error one
        raised, unless ``quiet`` (the caller has an error of its own to report)."""
        error = None
        while self._pending:
            result = self._done.get()
            self._pending -= 1
            if error is None:
                error = result
        if error is not None and not quiet:
            raise error


def _serve(tasks: queue.SimpleQueue, done: queue.SimpleQueue) -> None:
    """The worker thread: run each (function, args, numpy error state) in turn."""
    while (task := tasks.get()) is not None:
        function, args, errors = task
        try:
            with np.errstate(**errors):  # the caller's (errstate is per thread)
                function(*args)
        except BaseException as error:  # handed to the caller of wait
            done.put(error)
        else:
            done.put(None)
        del task, function, args  # keep no network alive between steps


_local = threading.local()  # one worker per training thread


def _worker() -> _Worker:
    worker = getattr(_local, "worker", None)
    if worker is None:
        worker = _local.worker = _Worker()
    return worker


def _forget_workers() -> None:  # a forked child has none of the parent's threads
    global _local
    _local = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


# -- one step's update in parts -----------------------------------------------------------
class LayerUpdates:
    """The update of one step, one part per layer with parameters (its slice of the
    flat buffers). Use as ``with updates as ready: net._backward(...,
    after_layer=ready)``: the block ends when every part is applied."""

    def __init__(self, net, optimizer):
        self.optimizer = optimizer  # not the network: the plans are kept by it, weakly
        self.params, self.grads = net.flat_params, net.flat_grads
        self.parts: list[slice | None] = []
        offset = 0
        for layer in net.layers:  # the flat buffers hold the layers in order
            size = sum(p.size for p in layer.params.values())
            self.parts.append(slice(offset, offset + size) if size else None)
            offset += size
        with_params = [i for i, part in enumerate(self.parts) if part is not None]
        self.first = with_params[0] if with_params else None
        self.started = False

    def __enter__(self):
        self.started = False
        return self.ready

    def ready(self, value: float, i: int) -> None:
        """Layer i's gradient is final: start its part (none for a loss that is not
        finite: the step then changes nothing, as ``train_step``)."""
        part = self.parts[i]
        if part is None or not math.isfinite(value):
            return
        if not self.started:
            self.optimizer.begin_step(self.params, self.grads)  # t <- t + 1, once
            keep = getattr(self.optimizer, "keep", None)  # theta before any part
            if keep is not None:
                keep(self.params)
            self.started = True
        if i != self.first:
            _worker().submit(self.optimizer.update_part, self.params, self.grads, part)

    def __exit__(self, kind, error, traceback):
        worker = _worker()
        if kind is None and self.started:
            try:
                part = self.parts[self.first]
                self.optimizer.update_part(self.params, self.grads, part)
            except BaseException:
                worker.wait(quiet=True)  # this error is the one to report
                raise
        worker.wait(quiet=kind is not None)  # no thread writes after the step
        return False


_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layer_updates(net, optimizer) -> LayerUpdates | None:
    """The step's update in parts, or None when it runs as one (overlap off, an
    update that is not elementwise, fewer than two layers with parameters)."""
    if not enabled():
        return None
    elementwise = getattr(optimizer, "elementwise", None)  # any object with step
    if elementwise is None or not elementwise():
        return None
    plan = _plans.get(net)
    if (
        plan is None
        or plan.optimizer is not optimizer
        or plan.params is not net.flat_params
        or plan.grads is not net.flat_grads
    ):
        plan = LayerUpdates(net, optimizer)
        if sum(part is not None for part in plan.parts) < 2:
            return None
        _plans[net] = plan
    return plan
