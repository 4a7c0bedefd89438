"""History: what happened in each epoch of a fit, as plain lists (easy to plot, JSON).

Examples
--------
>>> from glassnet.training import History
>>> h = History()
>>> h.append(0, {"loss": 0.9, "lr": 0.1})
>>> h.append(1, {"loss": 0.5, "lr": 0.1})
>>> h.history["loss"], h.epoch
([0.9, 0.5], [0, 1])
>>> History.from_json(h.to_json()).history == h.history
True
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from ..io.atomic import atomic_write


class History:
    """Per-epoch logs of one call to ``fit``.

    Attributes
    ----------
    history : dict of str -> list
        One list per logged value, one entry per completed epoch: "loss", "val_loss",
        each metric and "val_<metric>", "lr" (the learning rate at the epoch's end),
        "epoch_time" (seconds).
    epoch : list of int
        The index (0-based) of each completed epoch.
    params : dict
        The fit's settings: epochs, steps per epoch, batch_size, n_samples, seed, ...
    seed : int or None
        The seed that ordered the batches (drawn from ``net.rng`` if fit had
        seed=None): pass it back to ``fit`` to resume.
    next_epoch, next_step : int
        Where training stopped: ``fit(initial_epoch=next_epoch,
        initial_step=next_step, seed=seed)`` with the same optimizer continues it.
    stop_reason : str or None
        None (all epochs ran), "early_stopping", "callback" (a callback set
        stop_training) or "interrupted" (Ctrl-C).
    """

    def __init__(self, params: dict | None = None):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self.params: dict = dict(params or {})
        self.seed: int | None = self.params.get("seed")
        self.next_epoch = 0
        self.next_step = 0
        self.stop_reason: str | None = None
        #: The TrainConfig the run was made with (set by fit; None for a History read
        #: back from JSON or a checkpoint, whose settings are in ``params``).
        self.config = None

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == "interrupted"

    def append(self, epoch: int, logs: dict) -> None:
        """Record the logs of a completed epoch (a key new this epoch is padded with
        None for the earlier ones)."""
        for key in logs:
            if key not in self.history:
                self.history[key] = [None] * len(self.epoch)
        self.epoch.append(int(epoch))
        for key, values in self.history.items():
            values.append(_plain(logs.get(key)))

    def __len__(self) -> int:
        return len(self.epoch)

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def last(self) -> dict:
        """The logs of the last completed epoch."""
        return {key: values[-1] for key, values in self.history.items() if values}

    # -- JSON ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "history": {
                k: [_json_safe(v) for v in vs] for k, vs in self.history.items()
            },
            "epoch": list(self.epoch),
            "params": {k: _json_safe(v) for k, v in self.params.items()},
            "seed": self.seed,
            "next_epoch": self.next_epoch,
            "next_step": self.next_step,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        if not isinstance(data, dict) or "history" not in data or "epoch" not in data:
            raise ValueError(
                "a History needs a dict with 'history' and 'epoch' keys (as written "
                f"by History.to_json), got {type(data).__name__}"
            )
        history = cls(data.get("params") or {})
        history.history = {str(k): list(v) for k, v in data["history"].items()}
        history.epoch = [int(e) for e in data["epoch"]]
        lengths = {len(v) for v in history.history.values()}
        if lengths - {len(history.epoch)}:
            raise ValueError(
                f"History lists must have one entry per epoch ({len(history.epoch)}), "
                f"got lengths {sorted(lengths)}"
            )
        history.seed = data.get("seed")
        history.next_epoch = int(data.get("next_epoch", 0))
        history.next_step = int(data.get("next_step", 0))
        history.stop_reason = data.get("stop_reason")
        return history

    def to_json(
        self, path: str | os.PathLike | None = None, indent: int | None = 1
    ) -> str:
        """The history as JSON text (also written to ``path`` if given). Non-finite
        numbers become null, so any JSON reader accepts it."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:  # atomically: a failed write leaves the old file whole
            atomic_write(path, text.encode("utf-8"))
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> History:
        """A History from JSON text or from a file path."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text_or_path, encoding="utf-8") as handle:
                text = handle.read()
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        last = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.last().items()
            if k != "epoch_time"
        )
        return f"History({len(self.epoch)} epochs{': ' + last if last else ''})"


def _plain(value):
    """numpy scalars as Python numbers, so the lists hold plain values."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_safe(value):
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
