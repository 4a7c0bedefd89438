"""EarlyStopping: stop when a monitored value stops improving; keep the best weights."""

from __future__ import annotations

import numpy as np

from ..optim.schedules import Monitor
from .callbacks import Callback


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Improvement means beating the best value so far by more than ``min_delta``
    (lower for losses, higher for accuracy-like names; ``mode`` overrides). With
    ``restore_best=True`` the weights of the best epoch are put back when training
    ends, whether it stopped early or ran out of epochs.

    Parameters
    ----------
    patience : int, default 5
        Epochs without improvement to wait before stopping.
    monitor : str, default "val_loss"
    min_delta : float, default 0
    restore_best : bool, default True
    mode : "auto", "min" or "max"
    verbose : int, default 0
        1 prints a line when stopping and when restoring.

    Attributes
    ----------
    best : the best monitored value; best_epoch : its epoch (0-based);
    stopped_epoch : the epoch after which training stopped, or None.

    Examples
    --------
    >>> import glassnet as gn
    >>> X, y = gn.datasets.moons(n_samples=200, noise=0.3, seed=0)
    >>> net = gn.Sequential(gn.Dense(2, 32, "relu"), gn.Dense(32, 2, "softmax"), seed=0)
    >>> stop = gn.EarlyStopping(patience=3)
    >>> history = net.fit(X, y, epochs=500, validation_split=0.3, early_stopping=stop,
    ...                   optimizer=gn.Adam(lr=0.05), verbose=0)
    >>> history.stop_reason, len(history.epoch) == stop.best_epoch + 1 + 3
    ('early_stopping', True)
    """

    def __init__(
        self,
        patience: int = 5,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        restore_best: bool = True,
        mode: str = "auto",
        verbose: int = 0,
    ):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(
                f"patience must be a non-negative integer, got {patience!r}"
            )
        self.patience = patience
        self._monitor = Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.restore_best = bool(restore_best)
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self._monitor.best = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_weights: np.ndarray | None = None

    @property
    def best(self) -> float | None:
        return self._monitor.best

    def on_train_begin(self, logs):
        self._reset()

    def on_epoch_end(self, epoch, logs):
        value = self._monitor.value(logs)
        if self._monitor.improved(value):
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best:
                if self._best_weights is None:
                    self._best_weights = self.model.flat_params.copy()
                else:
                    np.copyto(self._best_weights, self.model.flat_params)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            self.trainer.stop_reason = "early_stopping"
            if self.verbose:
                print(
                    f"Early stopping after epoch {epoch + 1}: {self.monitor} has not "
                    f"improved on {self.best:.6g} (epoch {self.best_epoch + 1}) for "
                    f"{self.patience} epochs"
                )

    def on_train_end(self, logs):
        if not self.restore_best or self._best_weights is None:
            return
        self.model.flat_params[...] = self._best_weights  # in place: layers hold views
        if self.verbose:
            print(
                f"Restored the weights of epoch {self.best_epoch + 1} ({self.monitor} = {self.best:.6g})"
            )

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, "
            f"min_delta={self._monitor.min_delta}, restore_best={self.restore_best})"
        )
