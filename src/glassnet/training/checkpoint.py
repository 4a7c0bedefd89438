"""Checkpoints of a fit: ``gn.save_checkpoint`` and ``gn.load_checkpoint`` with the
history as a ``History``, and ModelCheckpoint, which saves them during fit.

The file format is ``glassnet.io.checkpoint``'s, which keeps the history as plain
data (io sits below the fit loop and does not know ``History``); this module turns
one into the other.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..io import checkpoint as checkpoint_file
from ..io.checkpoint import Checkpoint
from ..io.errors import ModelFormatError
from ..optim.schedules import Monitor
from .callbacks import Callback
from .history import History

#: File name used when ModelCheckpoint is given a folder.
DEFAULT_NAME = "epoch-{epoch:04d}.safetensors"
BEST_NAME = "best.safetensors"


def save_checkpoint(
    path, net, optimizer, history, rng_state, epoch, step, metadata=None
) -> Path:
    """Saves a training checkpoint to ``path``, atomically; returns the path.

    Parameters
    ----------
    path : str or PathLike
    net : Sequential
    optimizer : glassnet optimizer or None
        Stored as ``config()`` and ``state_dict()``.
    history : History, its JSON text, or None
    rng_state : dict or None
        The generator state to resume from (``net.rng.bit_generator.state``; None
        takes that).
    epoch, step : int
        Epochs completed, and optimizer steps taken so far.
    metadata : dict, optional
        Extra JSON-able information, as for ``gn.save``.

    Examples
    --------
    >>> import tempfile, os
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 1), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> _ = gn.save_checkpoint(path, net, None, None, net.rng.bit_generator.state, 3, 30)
    >>> ckpt = gn.load_checkpoint(path)
    >>> ckpt.epoch, ckpt.step
    (3, 30)
    """
    # io takes the History itself (anything with to_dict) as its plain record
    return checkpoint_file.save_checkpoint(
        path, net, optimizer, history, rng_state, epoch, step, metadata
    )


def load_checkpoint(path, *, allow_nonfinite: bool = False) -> Checkpoint:
    """The checkpoint saved at ``path``: net, optimizer, history (a ``History``),
    rng_state, epoch, step (and metadata), validated like ``gn.load``.

    Raises ``ModelFormatError`` for a bad file or a plain model file.
    """
    loaded = checkpoint_file.load_checkpoint(path, allow_nonfinite=allow_nonfinite)
    return with_history(loaded)


def checkpoint_from_bytes(data: bytes, *, allow_nonfinite: bool = False) -> Checkpoint:
    """The checkpoint in ``data``, with its history as a ``History``; see
    ``load_checkpoint``."""
    loaded = checkpoint_file.checkpoint_from_bytes(
        data, allow_nonfinite=allow_nonfinite
    )
    return with_history(loaded)


def with_history(checkpoint: Checkpoint) -> Checkpoint:
    """``checkpoint`` with its history record (a dict) made a ``History``."""
    if checkpoint.history is None or isinstance(checkpoint.history, History):
        return checkpoint
    try:
        history = History.from_dict(checkpoint.history)  # a dict: never a path
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as error:
        raise ModelFormatError(f"history is not valid: {error}") from None
    return dataclasses.replace(checkpoint, history=history)


def default_save_fn():
    """The save function ModelCheckpoint uses unless given one: ``save_checkpoint``."""
    return save_checkpoint


class ModelCheckpoint(Callback):
    """Save a checkpoint every ``every_n_epochs`` epochs, or only when ``monitor``
    improves (``save_best_only=True``).

    Each save calls ``save_fn(path, net, optimizer, history, rng_state, epoch, step)``
    with ``rng_state = net.rng.bit_generator.state`` and (epoch, step) the position a
    resumed fit continues from (``fit(initial_epoch=epoch, initial_step=step)``; after
    a completed epoch e that is (e + 1, 0)). ``save_fn`` defaults to
    ``gn.save_checkpoint`` (atomic, safetensors).

    Parameters
    ----------
    path : str or Path
        A file name, which may use ``{epoch}`` (1-based, as printed) and logged values
        such as ``{val_loss:.4f}``; or a folder (existing, or ending with a separator),
        where files are named "epoch-0001.safetensors" (or "best.safetensors" with
        ``save_best_only``).
    every_n_epochs : int, default 1
    save_best_only : bool, default False
    monitor, mode, min_delta : as in EarlyStopping (used with ``save_best_only``).
    save_fn : callable, optional

    Attributes
    ----------
    saved : list of the paths written, in order.

    Examples
    --------
    >>> import glassnet as gn
    >>> X, y = gn.datasets.xor()
    >>> net = gn.Sequential(gn.Dense(2, 4, "tanh"), gn.Dense(4, 1, "sigmoid"), seed=0)
    >>> calls = []
    >>> def save(path, net, optimizer, history, rng_state, epoch, step):
    ...     calls.append((path, epoch, step))
    >>> checkpoint = gn.ModelCheckpoint("ckpt-{epoch}.safetensors", every_n_epochs=2,
    ...                                 save_fn=save)
    >>> _ = net.fit(X, y, epochs=4, callbacks=[checkpoint], verbose=0)
    >>> calls
    [('ckpt-2.safetensors', 2, 0), ('ckpt-4.safetensors', 4, 0)]
    """

    def __init__(
        self,
        path,
        every_n_epochs: int = 1,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
        save_fn=None,
    ):
        if (
            isinstance(every_n_epochs, bool)
            or not isinstance(every_n_epochs, int)
            or every_n_epochs < 1
        ):
            raise ValueError(
                f"every_n_epochs must be a positive integer, got {every_n_epochs!r}"
            )
        if save_fn is not None and not callable(save_fn):
            raise TypeError(f"save_fn must be callable, got {save_fn!r}")
        text = os.fspath(path)
        is_folder = text.endswith(("/", os.sep)) or Path(text).is_dir()
        name = BEST_NAME if save_best_only else DEFAULT_NAME
        self.path = str(Path(text) / name) if is_folder else text
        self.every_n_epochs = every_n_epochs
        self.save_best_only = bool(save_best_only)
        self.monitor = monitor
        self._monitor = Monitor(monitor, mode, min_delta)
        self.save_fn = save_fn
        self.saved: list[str] = []

    def on_train_begin(self, logs):
        self._monitor.best = None
        if self.save_fn is None:
            self.save_fn = default_save_fn()

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            if not self._monitor.improved(self._monitor.value(logs)):
                return
        elif (epoch + 1) % self.every_n_epochs:
            return
        self.save(epoch, logs)

    def save(self, epoch: int, logs: dict) -> str:
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"ModelCheckpoint path {self.path!r} names a value that is not logged "
                f"({error}); available: epoch, {', '.join(sorted(logs))}"
            ) from error
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        next_epoch, next_step = self.trainer.position()
        net = self.model
        self.save_fn(
            path,
            net,
            self.trainer.optimizer,
            self.trainer.history,
            net.rng.bit_generator.state,
            next_epoch,
            next_step,
        )
        self.saved.append(path)
        return path
