"""CSVLogger: one row per epoch in a CSV file."""

from __future__ import annotations

import csv
import os

from .callbacks import Callback


class CSVLogger(Callback):
    """Write "epoch" and every logged value of each epoch to a CSV file.

    The header is written with the first row; ``append=True`` continues an existing
    file (a resumed fit) without repeating it. Each row is flushed at once, so the
    file is readable while training runs.
    """

    def __init__(self, path, separator: str = ",", append: bool = False):
        self.path = os.fspath(path)
        self.separator = separator
        self.append = bool(append)
        self._file = None
        self._writer = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs):
        exists = os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._keys = None
        if self.append and exists:
            with open(self.path, newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        self._file = open(
            self.path, "a" if self.append else "w", newline="", encoding="utf-8"
        )
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs):
        if self._keys is None:
            self._keys = list(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(_cell(logs.get(k)) for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs):
        if self._file is not None:
            self._file.close()
            self._file = None


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value
