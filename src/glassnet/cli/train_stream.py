"""``glassnet train`` on a file read chunk by chunk: bigger than memory.

Whether to stream: ``--stream`` / ``--no-stream``, else automatically when reading
the file whole would take more than ``STREAM_FRACTION`` of the memory available
(``glassnet.data.streaming.in_memory_bytes``: five times a CSV's text or a Parquet
file's uncompressed data, as measured for the in-memory path). A resumed run keeps
the choice of the run it continues (the validation rows differ between the two).

Streamed, one pass over the file (``streaming.survey``) types the columns, checks the
target and gathers the statistics of the training rows; the preprocessing record is
``Preprocessing.from_stats`` of them, the same record the in-memory path fits. Then
each epoch reads the file again (``StreamedRows``): chunks in a random order, rows
through the shuffle buffer, validation rows picked by a seeded hash of the row number
(``RowSplit``; not stratified by class).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from .._fast.work import GIB, available_memory
from ..data import streaming
from ..data.columns import column
from ..data.labels import MAX_AUTO_CLASSES, encode_labels, fit_classes
from ..data.tables import LARGE_FILE_BYTES, Progress, Table
from . import CliError
from .tabular import DataError, Preprocessing
from .train_data import MIN_TRAIN_ROWS, TrainingData, read_data

#: Stream when reading the file whole would take more than this share of the memory
#: available.
STREAM_FRACTION = 0.5


def choose(
    settings: dict, stream: bool | None, stored: dict | None
) -> tuple[bool, str]:
    """(stream?, why, for the train output) for the run's data."""
    if stored is not None and "stream" in stored:
        if stream is not None and stream != stored["stream"]:
            raise CliError(
                f"--{'' if stream else 'no-'}stream differs from the run being "
                f"resumed, which {'streamed' if stored['stream'] else 'read'} its "
                "data (its validation rows depend on it): leave the option out"
            )
        return bool(stored["stream"]), "as the run being resumed"
    path = settings.get("data")
    if not path:
        if stream:
            raise CliError("--stream reads a data file (DATA), not a built-in dataset")
        return False, "a built-in dataset"
    why_not = streamable_or_none(path)
    if stream:
        if why_not is not None:
            raise CliError(f"--stream: {why_not}")
        return True, "--stream"
    if stream is False:
        return False, "--no-stream"
    if why_not is not None:
        return False, "its format is read whole"
    if not os.path.isfile(path):
        return False, "not a file"  # the reader names the problem
    needed, available = streaming.in_memory_bytes(path), available_memory()
    if available is not None and needed > STREAM_FRACTION * available:
        return True, (
            f"reading it whole would take about {_bytes(needed)}, more than "
            f"{STREAM_FRACTION:.0%} of the {_bytes(available)} available"
        )
    return False, "it fits in memory"


def _bytes(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / 2**20:.0f} MiB"


def streamable_or_none(path: str) -> str | None:
    try:
        return streaming.streamable(path)
    except OSError as error:
        return str(error)


def read_training_data(settings: dict, quiet: bool, stream: bool | None, stored):
    """(TrainingData, one line saying how the data is read)."""
    streamed, why = choose(settings, stream, stored)
    settings["stream"] = streamed
    if not streamed:
        return read_data(settings, quiet), f"read in memory ({why})"
    data = read_streamed(settings, quiet)
    source = data.Z_train
    n = len(source.stream.chunks)
    how = (
        f"streamed in {n} chunk{'s' * (n != 1)} ({why}); shuffled by chunk "
        f"order and a buffer of {source.buffer_rows} rows; each epoch reads the file"
    )
    return data, how


def read_streamed(settings: dict, quiet: bool, chunk_bytes: int | None = None,
                  buffer_rows: int | None = None) -> TrainingData:  # fmt: skip
    """The training data of a streamed run: sources instead of arrays."""
    path = settings["data"]
    target = settings["target"]
    try:
        stream = streaming.open_stream(path, chunk_bytes or streaming.CHUNK_BYTES)
    except ImportError as error:
        raise CliError(str(error)) from None
    names = Table(path, dict.fromkeys(stream.names), 0)
    column(names, target, "target column")  # a DataError naming close names
    features = _features(settings, stream.names, target, names)
    categorical = settings.get("categorical") or []
    for name in categorical:
        if name not in features:
            raise CliError(
                f"--categorical names {name!r}, which is not a feature column"
            )
    split = streaming.RowSplit(settings["val_split"], settings["seed"])
    show = not quiet and stream.chunks and stream.chunks[-1].stop > LARGE_FILE_BYTES
    progress = Progress(
        f"reading {path} (statistics pass)", stream.size, enabled=bool(show)
    )
    found = streaming.survey(
        stream, target, features, split, categorical, settings["seed"], progress
    )
    n = found.n_train + found.n_val
    if n < MIN_TRAIN_ROWS:
        raise DataError(
            f"{path} has {n} data row{'s' * (n != 1)}; training needs at least "
            f"{MIN_TRAIN_ROWS}"
        )
    if found.n_train == 0 or (settings["val_split"] and found.n_val == 0):
        raise CliError(
            f"--val-split {settings['val_split']}: {n} rows leave "
            f"{found.n_train} training and {found.n_val} validation rows"
        )
    task, classes = _task(settings, found, path, target)
    record = Preprocessing.from_stats(found.stats, features, task, target, classes)
    dtype = np.dtype(settings["dtype"])
    where = f"{path} column {target!r}"

    def encode(columns: dict):
        y = columns[target]
        if classes is None:
            y = y.astype(np.float64)
        else:
            y = encode_labels(y, classes, where)
        X, _ = record.transform({f: columns[f] for f in features}, where=path)
        return X, y

    rows = dict(encode=encode, split=split, dtype=dtype, columns=[*features, target])
    if buffer_rows is not None:
        rows["buffer_rows"] = buffer_rows
    train = streaming.StreamedRows(stream, n_rows=found.n_train, role="train", **rows)
    validation = None
    if found.n_val:
        validation = streaming.StreamedRows(
            stream, n_rows=found.n_val, role="validation", **rows
        )
    digest = hashlib.sha256(
        "\x00".join([stream.sha256, target, *features]).encode()
    ).hexdigest()
    return TrainingData(
        table=Table(path, {}, n),
        features=features,
        task=task,
        classes=classes,
        record=record,
        sha256=digest,
        train_rows=range(found.n_train),  # counts only: the rows are never listed
        val_rows=range(found.n_val) if validation is not None else None,
        Z_train=train,
        y_train=None,  # the source gives (X, y) pairs
        validation=validation,
    )


def _features(settings: dict, names: list[str], target: str, table: Table):
    features = settings["features"]
    if features is None:
        features = [name for name in names if name != target]
    else:
        if target in features:
            raise DataError(
                f"the target column {target!r} is also listed in --features; a model "
                "must not see the answer among its inputs"
            )
        for name in features:
            column(table, name, "feature column")
    if not features:
        raise DataError(f"{table.path} has no feature columns besides {target!r}")
    return list(features)


def _task(settings: dict, found, path: str, target: str):
    """(task, classes) from the target's values over all rows, as the in-memory
    path decides them (``infer_task``, ``fit_classes``)."""
    task = settings["task"]
    if task == "auto":
        few = found.distinct is not None and len(found.distinct) <= MAX_AUTO_CLASSES
        if found.target_kind != "number" or (found.integral and few):
            task = "classification"
        else:
            task = "regression"
    if task == "regression":
        if found.target_kind == "text":
            raise DataError(
                f"{path}: target column {target!r} holds text; regression needs "
                "numbers (use --task classification)"
            )
        return task, None
    if found.distinct is None:
        raise DataError(
            f"{path}: target column {target!r} holds more than "
            f"{streaming.MAX_DISTINCT_TARGETS} distinct values: too many classes"
        )
    classes = fit_classes(np.array(found.distinct, dtype=object))
    if len(classes) < 2:
        raise DataError(
            f"{path}: target column {target!r} holds a single value "
            f"({classes[0]!r}); classification needs at least 2 classes"
        )
    return task, classes
