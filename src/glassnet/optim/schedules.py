"""Learning-rate schedules: lr as a function of the epoch, or of a watched metric.

A schedule maps the training position p (in epochs: p = epoch, or epoch + step/steps
when applied every batch) and the optimizer's initial learning rate lr0 to the learning
rate to use. They are pure functions of p, so training resumed at any epoch gets the
same rates. ``ReduceLROnPlateau`` is the exception: it reacts to a monitored metric.

Use them through ``fit(callbacks=[schedule])`` (they are wrapped in a
``LearningRateScheduler`` callback, which sets ``optimizer.lr``).

Examples
--------
>>> from glassnet.schedules import StepLR, CosineLR
>>> [StepLR(step_size=2, gamma=0.5)(epoch, 1.0) for epoch in range(5)]
[1.0, 1.0, 0.5, 0.5, 0.25]
>>> [round(CosineLR(total_epochs=4)(epoch, 1.0), 4) for epoch in range(5)]
[1.0, 0.8536, 0.5, 0.1464, 0.0]
"""

from __future__ import annotations

import math

from ..validation import check_number, check_positive_int


class Schedule:
    """Base class: ``schedule(epoch, initial_lr) -> lr``."""

    name = "schedule"

    def __call__(self, epoch: float, initial_lr: float) -> float:
        raise NotImplementedError

    def config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class StepLR(Schedule):
    """lr = lr0 * gamma^floor(p / step_size): divide by 1/gamma every step_size epochs
    (``torch.optim.lr_scheduler.StepLR``)."""

    name = "step"

    def __init__(self, step_size: int, gamma: float = 0.1):
        self.step_size = check_positive_int(step_size, "step_size")
        self.gamma = check_number(gamma, "gamma", low=0.0, low_open=True)

    def __call__(self, epoch, initial_lr):
        return initial_lr * self.gamma ** math.floor(epoch / self.step_size)

    def config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialLR(Schedule):
    """lr = lr0 * gamma^p (``torch.optim.lr_scheduler.ExponentialLR``)."""

    name = "exponential"

    def __init__(self, gamma: float):
        self.gamma = check_number(gamma, "gamma", low=0.0, low_open=True)

    def __call__(self, epoch, initial_lr):
        return initial_lr * self.gamma**epoch

    def config(self):
        return {"gamma": self.gamma}


class CosineLR(Schedule):
    """Cosine annealing from lr0 to min_lr over total_epochs, after an optional warm-up.

    Warm-up, p < w:   lr = lr0 (p + 1) / (w + 1)            (linear, reaching lr0 at p = w)
    then, p >= w:     lr = min_lr + (lr0 - min_lr) (1 + cos(pi (p - w) / (T - w))) / 2
    and lr = min_lr from p = T on. With w = 0 this is
    ``torch.optim.lr_scheduler.CosineAnnealingLR`` (T_max = T, eta_min = min_lr).

    Parameters
    ----------
    total_epochs : int
        T, the epoch at which lr reaches min_lr.
    min_lr : float, default 0
    warmup_epochs : int, default 0
        w, epochs of linear warm-up (w < T).
    """

    name = "cosine"

    def __init__(self, total_epochs: int, min_lr: float = 0.0, warmup_epochs: int = 0):
        self.total_epochs = check_positive_int(total_epochs, "total_epochs")
        self.min_lr = check_number(min_lr, "min_lr", low=0.0)
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int):
            raise TypeError(
                f"warmup_epochs must be a non-negative integer, got {warmup_epochs!r}"
            )
        if not 0 <= warmup_epochs < self.total_epochs:
            raise ValueError(
                f"warmup_epochs must be in [0, total_epochs) = [0, {self.total_epochs}), "
                f"got {warmup_epochs}"
            )
        self.warmup_epochs = warmup_epochs

    def __call__(self, epoch, initial_lr):
        w, T = self.warmup_epochs, self.total_epochs
        if epoch < w:
            return initial_lr * (epoch + 1) / (w + 1)
        if epoch >= T:
            return self.min_lr
        cosine = (1.0 + math.cos(math.pi * (epoch - w) / (T - w))) / 2.0
        return self.min_lr + (initial_lr - self.min_lr) * cosine

    def config(self):
        return {
            "total_epochs": self.total_epochs,
            "min_lr": self.min_lr,
            "warmup_epochs": self.warmup_epochs,
        }


class Monitor:
    """Watches one logged value for improvement (shared by ReduceLROnPlateau,
    EarlyStopping and ModelCheckpoint).

    mode "min": improved when value < best - min_delta; "max": value > best + min_delta;
    "auto": "max" for names containing accuracy, precision, recall, f1 or r2, else "min".
    """

    _MAX_WORDS = ("acc", "precision", "recall", "f1", "r2")

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta=0.0):
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be a metric name, got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        if mode == "auto":
            mode = "max" if any(w in monitor for w in self._MAX_WORDS) else "min"
        self.mode = mode
        self.min_delta = check_number(min_delta, "min_delta", low=0.0)
        self.best: float | None = None

    def value(self, logs: dict) -> float:
        if self.monitor not in logs:
            if self.monitor.startswith("val_") and "val_loss" not in logs:
                hint = " (pass validation_data= or validation_split= to fit)"
            elif self.monitor not in ("loss", "val_loss"):
                hint = " (list the metric in fit(metrics=[...]))"
            else:
                hint = ""
            raise ValueError(
                f"monitor {self.monitor!r} is not among the logged values "
                f"{sorted(logs)}{hint}"
            )
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        """Whether ``value`` beats the best so far (and if so, remember it)."""
        if self.best is None:
            better = True
        elif self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
        return better


class ReduceLROnPlateau(Schedule):
    """Multiply lr by ``factor`` when ``monitor`` has not improved for ``patience``
    epochs, as Keras's ``ReduceLROnPlateau`` callback.

    lr <- max(lr * factor, min_lr) after ``patience`` epochs in a row without an
    improvement by more than ``min_delta`` (absolute); the ``cooldown`` epochs after a
    reduction are not counted. (``torch.optim.lr_scheduler.ReduceLROnPlateau`` waits
    one epoch more and measures improvement relative to the best value by default;
    Keras's callback lets one cooldown epoch less go uncounted.)

    Examples
    --------
    >>> plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2)
    >>> lr = 1.0
    >>> for loss in [1.0, 0.5, 0.6, 0.7, 0.8]:
    ...     lr = plateau.update({"loss": loss}, lr)
    >>> lr                          # halved after two epochs without beating 0.5
    0.5
    """

    name = "plateau"

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        min_lr: float = 0.0,
        cooldown: int = 0,
        mode: str = "auto",
    ):
        self.factor = check_number(
            factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.patience = _non_negative_int(patience, "patience")
        self.cooldown = _non_negative_int(cooldown, "cooldown")
        self.min_lr = check_number(min_lr, "min_lr", low=0.0)
        self.monitor = Monitor(monitor, mode, min_delta)
        self.wait = 0
        self.cooldown_left = 0

    def __call__(self, epoch, initial_lr):
        raise TypeError(
            "ReduceLROnPlateau depends on a monitored metric, not on the epoch: "
            "use update(logs, lr)"
        )

    def update(self, logs: dict, lr: float) -> float:
        """The learning rate after an epoch whose logged values are ``logs``."""
        value = self.monitor.value(logs)
        improved = self.monitor.improved(value)
        if self.cooldown_left > 0:  # the epochs right after a reduction do not count
            self.cooldown_left -= 1
            self.wait = 0
            return lr
        if improved:
            self.wait = 0
            return lr
        self.wait += 1
        if self.wait < self.patience:
            return lr
        self.wait = 0
        self.cooldown_left = self.cooldown
        return max(lr * self.factor, self.min_lr)

    def state_dict(self) -> dict:
        best = self.monitor.best
        return {
            "best": float("nan") if best is None else best,
            "wait": self.wait,
            "cooldown_left": self.cooldown_left,
        }

    def load_state_dict(self, state: dict) -> None:
        best = float(state["best"])
        self.monitor.best = None if math.isnan(best) else best
        self.wait = int(state["wait"])
        self.cooldown_left = int(state["cooldown_left"])

    def config(self):
        return {
            "monitor": self.monitor.monitor,
            "factor": self.factor,
            "patience": self.patience,
            "min_delta": self.monitor.min_delta,
            "min_lr": self.min_lr,
            "cooldown": self.cooldown,
            "mode": self.monitor.mode,
        }


def _non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value
