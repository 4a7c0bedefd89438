"""LearningRateScheduler: set the optimizer's learning rate from a schedule."""

from __future__ import annotations

from ..optim.schedules import ReduceLROnPlateau, Schedule
from .callbacks import Callback


class LearningRateScheduler(Callback):
    """Set ``optimizer.lr`` from ``schedule`` during fit.

    ``schedule`` is a glassnet schedule (``StepLR``, ``ExponentialLR``, ``CosineLR``:
    lr = schedule(p, optimizer.initial_lr)), a ``ReduceLROnPlateau`` (updated at each
    epoch's end from the logged metric) or, as in Keras, a function
    ``f(epoch, lr) -> new lr`` of the epoch and the current learning rate.

    By default the rate is set at the start of each epoch (p = epoch); with
    ``per_batch=True`` before every batch, at p = epoch + step / steps_per_epoch.
    Schedules passed directly in ``fit(callbacks=[...])`` are wrapped in this.
    """

    def __init__(self, schedule, per_batch: bool = False, verbose: int = 0):
        if not callable(schedule) and not isinstance(schedule, Schedule):
            raise TypeError(
                "schedule must be a glassnet schedule or a function f(epoch, lr), "
                f"got {schedule!r}"
            )
        self.schedule = schedule
        self.per_batch = bool(per_batch)
        self.verbose = verbose
        self._plateau = isinstance(schedule, ReduceLROnPlateau)
        if self._plateau and self.per_batch:
            raise ValueError(
                "ReduceLROnPlateau acts on epoch-end metrics; per_batch=True does not apply"
            )

    def _lr_at(self, position: float) -> float:
        optimizer = self.trainer.optimizer
        if isinstance(self.schedule, Schedule):
            return float(self.schedule(position, optimizer.initial_lr))
        return float(self.schedule(position, optimizer.lr))

    def _set(self, lr: float, where: str) -> None:
        if not lr >= 0:  # also catches NaN
            raise ValueError(
                f"the learning-rate schedule gave lr={lr!r} at {where}; it must be >= 0"
            )
        optimizer = self.trainer.optimizer
        if self.verbose and lr != optimizer.lr:
            print(f"{where}: learning rate {optimizer.lr:.6g} -> {lr:.6g}")
        optimizer.lr = lr

    def on_epoch_begin(self, epoch, logs):
        if not self._plateau and not self.per_batch:
            self._set(self._lr_at(epoch), f"epoch {epoch + 1}")

    def on_batch_begin(self, step, logs):
        if self.per_batch:
            steps = self.params.get("steps")
            if not steps:
                raise ValueError(
                    "per_batch schedules need the number of steps per epoch, which a "
                    "batch iterable without len() does not give"
                )
            epoch = self.trainer.epoch
            self._set(
                self._lr_at(epoch + step / steps), f"epoch {epoch + 1} step {step + 1}"
            )

    def on_epoch_end(self, epoch, logs):
        if self._plateau:
            optimizer = self.trainer.optimizer
            self._set(
                self.schedule.update(logs, optimizer.lr), f"after epoch {epoch + 1}"
            )
