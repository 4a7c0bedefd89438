"""The fit loop: for each epoch, for each batch, one step; then the epoch's logs.

One step is ``train_step``: forward, loss, backward, update, in that order, nothing
done twice. Everything else here is bookkeeping around it: the training position
(epoch, step) for resuming, divergence checks, Ctrl-C, callbacks and the History.

Hook: ``Trainer.step_fn`` is ``train_step`` unless replaced. A wrapper with the same
signature (e.g. adversarial training: perturb X, then call ``train_step``) changes
what one step does without touching the loop.

Speed: a step allocates no arrays of its own. The layers write into work arrays kept
per batch size, the batch is gathered into kept arrays, the optimizer updates the
flat parameter buffer in place (with the stock step, keeping the weights of before it
for the divergence guard and telling whether the new ones are finite, in the same
pass: ``Optimizer.keep_previous``), and BLAS threads follow ``glassnet._fast.threads``. So the
outputs A of a step, and the batch arrays, are overwritten by the next step: copy
what you keep.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time

import numpy as np

from .._fast import ops, overlap, threads
from ..errors import DivergenceError
from ..optim.base import Optimizer
from .history import History


def train_step(net, loss, optimizer, X, Y, sample_weight=None):
    """One optimisation step on the batch (X, Y). Returns (loss value, outputs A).

    The loss is the one of the weights *before* the update. If it is not finite the
    update is skipped, so NaN never reaches the weights.
    """
    A = net._forward(X, training=True, reuse=True)  # forward: A = f(X; theta) (n, out)
    updates = overlap.layer_updates(net, optimizer)
    if updates is not None:  # each layer's update starts once its gradient is final
        with updates as ready:
            value = net._backward(
                loss, A, Y, sample_weight, reuse=True, after_layer=ready
            )  # L(A, Y), dL/dtheta, and the update theta <- theta - ...
        return value, A
    value = net._backward(loss, A, Y, sample_weight, reuse=True)  # L(A, Y), dL/dtheta
    if math.isfinite(value):
        optimizer.step(net.flat_params, net.flat_grads)  # update: theta <- theta - ...
    return value, A


class Trainer:
    """Runs the epochs of one ``fit`` call. Callbacks see it as ``self.trainer``.

    Attributes
    ----------
    net, loss, optimizer, history, params
    epoch : int, the current epoch (0-based)
    step : int, the number of batches done in the current epoch
    stop_training : bool, set to True to stop after the current batch
    stop_reason : None, "early_stopping", "callback" or "interrupted"
    step_fn : the per-batch step, ``train_step`` by default (see the module docstring)
    """

    def __init__(
        self,
        net,
        loss,
        optimizer,
        data,
        *,
        epochs: int,
        seed: int,
        task,
        metrics,
        callbacks,
        validate=None,
        params: dict,
    ):
        self.net, self.loss, self.optimizer, self.data = net, loss, optimizer, data
        self.epochs, self.seed, self.task = epochs, seed, task
        self.metrics = metrics
        self.callbacks = callbacks
        self.validate = validate  # None, or f() -> dict of val_ logs
        self.params = params
        self.history = History(params)
        self.step_fn = train_step
        self.epoch = 0
        self.step = 0
        self.stop_training = False
        self.stop_reason: str | None = None
        self._backup = np.empty_like(net.flat_params)  # weights before the current step
        self._ones = np.ones_like(net.flat_params)  # for the finiteness check
        # With the stock step, whose only change to the weights is the optimizer's
        # update, the update itself keeps the weights of before it in _backup and
        # says whether the new ones are finite, in its own pass over them
        self._kept_by_update = False

    # -- position ---------------------------------------------------------------------
    def position(self) -> tuple[int, int]:
        """(epoch, step) at which a resumed fit continues: pass them as
        ``initial_epoch`` and ``initial_step``."""
        steps = self.data.steps
        if steps is not None and self.step >= steps:
            return self.epoch + 1, 0
        return self.epoch, self.step

    # -- the loop ---------------------------------------------------------------------
    def run(self, initial_epoch: int = 0, initial_step: int = 0) -> History:
        net, callbacks = self.net, self.callbacks
        net.stop_training = False
        self.epoch, self.step = initial_epoch, initial_step
        callbacks.set_trainer(self)
        with _CtrlC(self), threads.managed():
            callbacks.on_train_begin({})
            try:
                for epoch in range(initial_epoch, self.epochs):
                    start_step = initial_step if epoch == initial_epoch else 0
                    logs = self._run_epoch(epoch, start_step)
                    if logs is None:  # stopped inside the epoch
                        break
                    if not logs:  # nothing was left of it to train
                        continue
                    self.history.append(epoch, logs)
                    callbacks.on_epoch_end(epoch, logs)
                    if self._should_stop():
                        break
            except KeyboardInterrupt:  # raised outside a step (e.g. in a callback)
                self._interrupted()
            finally:
                self._keep_by_update(False)
                self.history.next_epoch, self.history.next_step = self.position()
                self.history.stop_reason = self.stop_reason
                callbacks.on_train_end(self.history.last())
        return self.history

    def _should_stop(self) -> bool:
        if getattr(self.net, "stop_training", False):
            self.stop_training = True
        if self.stop_training and self.stop_reason is None:
            self.stop_reason = "callback"
        return self.stop_training

    def _run_epoch(self, epoch: int, start_step: int) -> dict | None:
        """Train one epoch from ``start_step``; its logs, or None if stopped early."""
        net, callbacks = self.net, self.callbacks
        self.epoch, self.step = epoch, start_step
        callbacks.on_epoch_begin(epoch, {})
        started = time.perf_counter()
        loss_sum = weight_sum = 0.0
        seen_outputs, seen_targets = [], []
        batch_logs: dict = {}
        for Xb, Yb, wb, _ in self.data.batches(self.seed, epoch, start_step):
            step = self.step
            callbacks.on_batch_begin(step, batch_logs)
            self._keep_by_update(self.step_fn is train_step)  # a callback may swap it
            updates = getattr(self.optimizer, "t", None)  # the count of updates
            try:
                if not self._kept_by_update:
                    np.copyto(self._backup, net.flat_params)
                with np.errstate(over="ignore", invalid="ignore"):
                    value, A = self.step_fn(net, self.loss, self.optimizer, Xb, Yb, wb)
                    updated = getattr(self.optimizer, "t", None) != updates
                    self._check_finite(value, epoch, step, updated)
            except KeyboardInterrupt:
                # The step did not finish: undo its weight change (the optimizer's
                # moments may have advanced; a real Ctrl-C never lands here, it only
                # sets a flag, see _CtrlC).
                self._restore(getattr(self.optimizer, "t", None) != updates)
                self._interrupted()
                return None
            self.step = step + 1
            size = len(Yb)
            weight = size if wb is None else float(wb.sum())
            loss_sum += value * weight
            weight_sum += weight
            if self.metrics:  # copies: the next step reuses these arrays
                seen_outputs.append(A.copy())
                seen_targets.append(Yb.copy())
            batch_logs = {"loss": value, "size": size}
            try:
                callbacks.on_batch_end(step, batch_logs)
            except KeyboardInterrupt:
                self._interrupted()
                return None
            if self._should_stop():
                if self.data.steps is None or self.step < self.data.steps:
                    return None
        if weight_sum == 0:  # resumed at the very end of a batch iterable's epoch
            return {}
        logs = {"loss": loss_sum / weight_sum}
        if self.metrics:
            Y, A = np.concatenate(seen_targets), np.concatenate(seen_outputs)
            for name, fn in self.metrics:
                logs[name] = fn(self.task, Y, A)
        if self.validate is not None:
            logs.update(self.validate())
        logs["lr"] = float(self.optimizer.lr)
        logs["epoch_time"] = time.perf_counter() - started
        return logs

    def _interrupted(self) -> None:
        self.stop_training = True
        self.stop_reason = "interrupted"

    # -- divergence -------------------------------------------------------------------
    def _check_finite(
        self, value: float, epoch: int, step: int, updated: bool = True
    ) -> None:
        """Raise DivergenceError, keeping the last finite weights, if the loss or
        the updated weights are NaN or inf. updated: whether the optimizer updated
        the weights in this step.

        The update's own compiled pass tells whether every new weight is finite
        (when it kept the weights of before it). Else one pass checks every
        weight: the compiled loop (``glassnet._fast.ops``), or else a dot product
        with ones (a NaN or inf anywhere makes the sum NaN or inf; BLAS sums faster
        than ndarray.sum), confirmed by np.isfinite, which also names the culprit,
        since huge finite weights can overflow the sum.
        """
        params = self.net.flat_params
        if math.isfinite(value):
            finite = None
            if self._kept_by_update and updated:
                finite = self.optimizer.update_finite
            if finite is None:
                finite = ops.all_finite(params, load=True)
            if finite is None:
                finite = math.isfinite(float(np.dot(params, self._ones)))
            if finite:
                return
            bad = np.flatnonzero(~np.isfinite(params))
            if not bad.size:
                return
            what = (
                f"the update made {bad.size} weight(s) NaN or inf, first "
                f"{_name_of(self.net, int(bad[0]))}"
            )
        else:
            what = f"the loss is {value}"
        self._restore(updated)
        error = DivergenceError(
            f"training diverged at epoch {epoch + 1}, step {step + 1}: {what}. The "
            "network keeps its last finite weights (from before this step). Try a "
            f"smaller learning rate (lr is {self.optimizer.lr:g}) or scale the inputs "
            "(e.g. gn.datasets.standardize)."
        )
        error.epoch, error.step = epoch, step
        raise error

    def _keep_by_update(self, keep: bool) -> None:
        keep = keep and isinstance(self.optimizer, Optimizer)
        if keep is not self._kept_by_update:
            self.optimizer.keep_previous(self._backup if keep else None)
            self._kept_by_update = keep

    def _restore(self, updated: bool) -> None:
        """The weights of before the step, from _backup: copied there before the
        step, or kept there by the update (nothing to undo when none ran)."""
        if updated or not self._kept_by_update:
            self.net.flat_params[...] = self._backup


def _name_of(net, flat_index: int) -> str:
    """Which parameter (layer and name) holds element ``flat_index`` of flat_params."""
    offset = 0
    for layer_index, name, array in net.parameters():
        if flat_index < offset + array.size:
            return f"in layer {layer_index} {name}"
        offset += array.size
    return f"at flat index {flat_index}"


class _CtrlC:
    """While training, the first Ctrl-C asks the loop to stop after the current step
    (weights kept, history returned); a second one aborts at once."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.installed = False

    def __enter__(self):
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        return self

    def _handle(self, signum, frame):
        signal.signal(
            signal.SIGINT, signal.default_int_handler
        )  # a second press aborts
        self.trainer._interrupted()
        print(
            "\nInterrupted: stopping after the current step (Ctrl-C again to abort)",
            file=sys.stderr,
        )

    def __exit__(self, *exc):
        if self.installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return False
