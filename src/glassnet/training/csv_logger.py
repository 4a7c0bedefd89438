"""CSVLogger: one row per epoch in a CSV file."""

from __future__ import annotations

import csv
import io
import os

from ..io.atomic import atomic_write
from .callbacks import Callback


class CSVLogger(Callback):
    """Write "epoch" and every logged value of each epoch to a CSV file.

    The header is written with the first row; ``append=True`` continues an existing
    file (a resumed fit) without repeating it. The whole file is rewritten through
    the atomic writer after each epoch, so it is readable while training runs and a
    crash or a full disk never leaves it half-written (the logs are a few kB).
    """

    def __init__(self, path, separator: str = ",", append: bool = False):
        self.path = os.fspath(path)
        self.separator = separator
        self.append = bool(append)
        self._text: io.StringIO | None = None
        self._writer = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs):
        self._keys = None
        self._text = io.StringIO()
        exists = os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if self.append and exists:
            with open(self.path, newline="", encoding="utf-8") as handle:
                previous = handle.read()
            header = next(
                csv.reader(io.StringIO(previous), delimiter=self.separator), None
            )
            self._keys = header[1:] if header else None
            self._text.write(previous)
        self._writer = csv.writer(self._text, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs):
        if self._keys is None:
            self._keys = list(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(_cell(logs.get(k)) for k in self._keys)])
        atomic_write(self.path, self._text.getvalue().encode("utf-8"))

    def on_train_end(self, logs):
        self._text = None
        self._writer = None


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value
