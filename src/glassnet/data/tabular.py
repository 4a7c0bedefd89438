"""Tabular data files: CSV, Parquet, .npy and .npz as numeric features X and a target y.

The command line's ``train``, ``predict``, ``evaluate`` and ``attack`` read data
through this module:

- ``read_table(path)``: a file as named columns (CSV with a header and Parquet through
  pandas, the ``data`` extra; .npy and .npz through numpy alone, never unpickling).
- ``select(table, target, features)``: the feature matrix X (n, d) as float64 and the
  target column, with one clear error for each way a file can be unusable (a missing
  or misspelled column, text in a feature column, an empty cell, too few rows).
- ``infer_task(y)``, ``fit_classes(y)``, ``encode_labels(y, classes)``: what the target
  means and its class labels as indices 0..k-1.
- ``Preprocessing``: the record kept with a trained model (feature names, the
  standardisation z = (x - mean) / scale fitted on the training rows, the task, the
  target and the class labels), stored as the ``"preprocessing"`` entry of the model
  file's metadata so that predict, evaluate, attack and export apply the same steps.

Column names of array files: a .npy array of shape (n, d) has columns "0" .. "d-1"
(as pandas names the columns of a headerless file); a structured .npy array keeps its
field names; in a .npz file a 1-D array is one column named by its key and a 2-D array
``K`` of width d gives the columns "K0" .. "K<d-1>".

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from glassnet import tabular
>>> path = os.path.join(tempfile.mkdtemp(), "data.npz")
>>> np.savez(path, X=np.array([[1.0, 10.0], [3.0, 30.0]]), y=np.array([0, 1]))
>>> table = tabular.read_table(path)
>>> table.names
['X0', 'X1', 'y']
>>> X, y, names = tabular.select(table, "y")
>>> X.tolist(), y.tolist(), names
([[1.0, 10.0], [3.0, 30.0]], [0, 1], ['X0', 'X1'])
>>> record = tabular.Preprocessing.fit(X, names, "classification", "y", [0, 1])
>>> record.transform(X).tolist()        # (x - mean) / scale, column by column
[[-1.0, -1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import Standardizer

__all__ = [
    "FORMATS",
    "MAX_AUTO_CLASSES",
    "METADATA_KEY",
    "DataError",
    "Preprocessing",
    "Progress",
    "Table",
    "check_rows",
    "encode_labels",
    "fingerprint",
    "fit_classes",
    "fold_standardization",
    "infer_task",
    "load_model",
    "read_table",
    "select",
]

#: File suffixes read, by format (CSV may also be compressed: data.csv.gz, ...).
FORMATS = {
    "csv": (".csv", ".tsv"),
    "parquet": (".parquet", ".pq"),
    "npy": (".npy",),
    "npz": (".npz",),
}
_COMPRESSION = (".gz", ".bz2", ".zip", ".xz", ".zst")
#: A numeric target with at most this many distinct whole numbers is read as classes.
MAX_AUTO_CLASSES = 20
#: The key of the preprocessing record in a model file's metadata.
METADATA_KEY = "preprocessing"
RECORD_VERSION = 1
#: Files larger than this are read in chunks with a progress indication.
LARGE_FILE_BYTES = 32 * 2**20
CSV_CHUNK_ROWS = 100_000
_INSTALL_DATA = "pip install 'glassnet[data]'"


class DataError(ValueError):
    """A data file that cannot be used as asked: the message says why and what to do."""


# -- progress --------------------------------------------------------------------------
class Progress:
    """A one-line progress indication on ``stream`` (stderr by default): redrawn in
    place on a terminal, else a line at each quarter. Silent when not ``enabled``.

    >>> import io
    >>> out = io.StringIO()
    >>> progress = Progress("reading data.csv", 200, stream=out)
    >>> for done in (50, 100, 150, 200):
    ...     progress.update(done)
    >>> progress.close()
    >>> print(out.getvalue(), end="")
    reading data.csv: 25%
    reading data.csv: 50%
    reading data.csv: 75%
    reading data.csv: 100%
    """

    def __init__(self, label: str, total: int, stream=None, enabled: bool = True):
        self.label, self.total = label, max(int(total), 1)
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty and isatty())
        self.shown = -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        percent = min(100, int(100 * done / self.total))
        step = percent if self.live else 25 * (percent // 25)
        if step <= self.shown:
            return
        self.shown = step
        if self.live:
            self.stream.write(f"\r{self.label}: {percent:3d}%")
        else:
            self.stream.write(f"{self.label}: {step}%\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.live and self.shown >= 0:
            self.stream.write("\n")
            self.stream.flush()


# -- reading ---------------------------------------------------------------------------
@dataclass
class Table:
    """Named columns of equal length, in file order.

    Each column is a numpy array: int64, float64 (NaN where a cell is empty) or bool
    for numeric columns; object (str, ..., None where a cell is empty) otherwise.
    """

    path: str
    columns: dict[str, np.ndarray]
    n_rows: int

    @property
    def names(self) -> list[str]:
        return list(self.columns)


def format_of(path) -> str:
    """ "csv", "parquet", "npy" or "npz" from the file name, or a DataError."""
    name = Path(os.fspath(path)).name.lower()
    for suffix in _COMPRESSION:
        if name.endswith(suffix) and name[: -len(suffix)].endswith(FORMATS["csv"]):
            return "csv"
    for fmt, suffixes in FORMATS.items():
        if name.endswith(suffixes):
            return fmt
    known = ", ".join(s for suffixes in FORMATS.values() for s in suffixes)
    suffix = Path(name).suffix or "(none)"
    raise DataError(
        f"{path}: unknown data format {suffix!r}; expected one of {known} "
        "(CSV may be compressed, e.g. data.csv.gz)"
    )


def read_table(path, *, progress: bool = False, stream=None) -> Table:
    """The columns of the data file at ``path`` (format from its suffix).

    CSV files need a header row; CSV and Parquet need pandas (and pyarrow for
    Parquet), the ``data`` extra. Files larger than ``LARGE_FILE_BYTES`` are read in
    chunks, with a progress line on ``stream`` (stderr) when ``progress`` is true.
    """
    text = os.fspath(path)
    fmt = format_of(text)
    file = Path(text)
    if not file.exists():
        raise DataError(f"no such data file: {text}")
    if file.is_dir():
        raise DataError(f"{text} is a folder, not a data file")
    size = file.stat().st_size
    if size == 0:
        raise DataError(f"{text} is empty (0 bytes)")
    show = progress and size > LARGE_FILE_BYTES
    if fmt in ("npy", "npz"):
        columns = _read_numpy(text, fmt)
    else:
        pd = _pandas(fmt)
        reader = _read_csv if fmt == "csv" else _read_parquet
        frame = reader(pd, text, size, Progress(f"reading {text}", size, stream, show))
        columns = _columns_of_frame(pd, frame, text)
    n = len(next(iter(columns.values()))) if columns else 0
    return Table(text, columns, n)


def _pandas(fmt: str):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            f"reading {fmt.upper()} files needs pandas (and pyarrow for Parquet), "
            f"which are not installed: install the data extra with  {_INSTALL_DATA}  "
            "(.npy and .npz files work without it)"
        ) from None
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError(
                "reading Parquet files needs pyarrow, which is not installed: install "
                f"the data extra with  {_INSTALL_DATA}"
            ) from None
    return pd


def _read_csv(pd, path: str, size: int, progress: Progress):
    sep = "\t" if ".tsv" in Path(path).name.lower() else ","
    try:
        if not progress.enabled:
            return pd.read_csv(path, sep=sep)
        # Chunks of rows; the position in the (compressed) file measures progress.
        parts = []
        with open(path, "rb") as handle:
            for chunk in pd.read_csv(
                handle, sep=sep, chunksize=CSV_CHUNK_ROWS, compression="infer"
            ):
                parts.append(chunk)
                progress.update(handle.tell())
        progress.update(size)
        progress.close()
        return pd.concat(parts, ignore_index=True)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} has no header row (the first line must name the columns)"
        ) from None
    except pd.errors.ParserError as error:
        detail = str(error).strip().splitlines()[-1]
        raise DataError(f"{path} is not a valid CSV file: {detail}") from None
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not UTF-8 text (byte {error.start}: {error.reason}); save it as "
            "UTF-8 CSV"
        ) from None


def _read_parquet(pd, path: str, size: int, progress: Progress):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if not progress.enabled:
            return pd.read_parquet(path)
        file = pq.ParquetFile(path)
        groups = []
        for i in range(file.num_row_groups):  # row groups: Parquet's unit of reading
            groups.append(file.read_row_group(i))
            progress.update(size * (i + 1) // file.num_row_groups)
        progress.close()
        return pa.concat_tables(groups).to_pandas()
    except (pa.ArrowException, OSError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DataError(f"{path} is not a readable Parquet file: {detail}") from None


def _columns_of_frame(pd, frame, path: str) -> dict[str, np.ndarray]:
    types = pd.api.types
    columns = {}
    for i, key in enumerate(frame.columns):
        name = str(key)
        if name in columns:
            raise DataError(f"{path}: the column name {name!r} appears twice")
        series = frame.iloc[:, i]
        dtype = series.dtype
        if types.is_bool_dtype(dtype) and not series.hasnans:
            values = series.to_numpy(dtype=bool)
        elif types.is_integer_dtype(dtype) and not series.hasnans:
            values = series.to_numpy(dtype=np.int64)
        elif (types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype)) and not (
            types.is_complex_dtype(dtype)
        ):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:  # text, categories, dates: the values themselves, None where missing
            values = series.to_numpy(dtype=object, na_value=None)
        columns[name] = values
    return columns


_MAGIC = {"npy": b"\x93NUMPY", "npz": b"PK"}


def _read_numpy(path: str, fmt: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as handle:
        start = handle.read(len(_MAGIC[fmt]))
    if start != _MAGIC[fmt]:  # np.load would take anything else for a pickle
        raise DataError(
            f"{path} is not a valid {fmt} file (it does not start with numpy's "
            f"{_MAGIC[fmt]!r} signature)"
        )
    try:
        loaded = np.load(path, allow_pickle=False)  # never unpickle: object arrays fail
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise DataError(
                f"{path} holds Python objects (a pickled object array), which glassnet "
                "never loads: save numbers only (e.g. X.astype(float))"
            ) from None
        raise DataError(f"{path} is not a valid {fmt} file: {error}") from None
    except (OSError, EOFError) as error:
        raise DataError(f"{path} is not a valid {fmt} file: {error}") from None
    if fmt == "npy":
        return _columns_of_array(path, loaded, None)
    columns: dict[str, np.ndarray] = {}
    with loaded:
        try:
            arrays = {key: loaded[key] for key in loaded.files}
        except ValueError as error:  # an object array inside the archive
            raise DataError(
                f"{path} holds Python objects (a pickled object array), which glassnet "
                f"never loads: save numbers only ({error})"
            ) from None
        except (OSError, EOFError) as error:
            raise DataError(f"{path} is not a valid npz file: {error}") from None
    if not arrays:
        raise DataError(f"{path} holds no arrays")
    for key, array in arrays.items():
        for name, values in _columns_of_array(path, array, key).items():
            if name in columns:
                raise DataError(f"{path}: the column name {name!r} appears twice")
            columns[name] = values
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(
            f"{path}: the arrays have different numbers of rows: "
            + ", ".join(f"{name} {n}" for name, n in list(lengths.items())[:6])
        )
    return columns


def _columns_of_array(path: str, array: np.ndarray, key: str | None):
    where = path if key is None else f"{path}[{key!r}]"
    if array.dtype.names:  # a structured array: one column per field
        if array.ndim != 1:
            raise DataError(
                f"{where}: a structured array must be 1-D, got shape {array.shape}"
            )
        return {name: _plain(array[name], where) for name in array.dtype.names}
    if array.ndim == 1 and key is not None:
        return {key: _plain(array, where)}
    if array.ndim != 2:
        expected = "1-D (one column) or 2-D (rows, columns)"
        if key is None:
            expected = "2-D (rows, columns)"
        raise DataError(f"{where} must be {expected}, got shape {array.shape}")
    prefix = "" if key is None else key
    return {f"{prefix}{j}": _plain(array[:, j], where) for j in range(array.shape[1])}


def _plain(values: np.ndarray, where: str) -> np.ndarray:
    kind = values.dtype.kind
    if kind == "b":
        return values.astype(bool)
    if kind in "iu":
        return values.astype(np.int64)
    if kind == "f":
        return values.astype(np.float64)
    if kind in "US":
        return np.array([v.item() or None for v in values], dtype=object)
    raise DataError(f"{where} has unsupported dtype {values.dtype}")


# -- selecting features and target ------------------------------------------------------
def _is_numeric(values: np.ndarray) -> bool:
    return values.dtype.kind in "biuf"


def _missing(values: np.ndarray) -> np.ndarray:
    """True where a cell is empty: NaN in a float column, None in an object one."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None for v in values], dtype=bool)
    return np.zeros(len(values), dtype=bool)


def _suggest(name: str, names: list[str]) -> str:
    lower = {n.lower(): n for n in names}
    close = [lower[name.lower()]] if name.lower() in lower else []
    close += [c for c in difflib.get_close_matches(name, names, n=3) if c not in close]
    shown = ", ".join(repr(n) for n in names[:12]) + (
        ", ..." if len(names) > 12 else ""
    )
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} (columns: {shown})"


def column(table: Table, name: str, what: str = "column") -> np.ndarray:
    """The column ``name``, or a DataError suggesting the closest names."""
    if name not in table.columns:
        raise DataError(
            f"{table.path}: no {what} {name!r}{_suggest(name, table.names)}"
        )
    return table.columns[name]


def check_rows(table: Table, minimum: int, purpose: str) -> None:
    if table.n_rows < minimum:
        raise DataError(
            f"{table.path} has {table.n_rows} data row{'s' * (table.n_rows != 1)}; "
            f"{purpose} needs at least {minimum}"
        )


def _first_text(values: np.ndarray):
    """(row, value) of the first cell that is not a number, or None."""
    for i, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, (bool, int, float, np.number)):
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            return i, value
    return None


def features_matrix(table: Table, names: list[str]) -> np.ndarray:
    """The columns ``names`` as a float64 matrix (n, d), checked: every column present
    and numeric, no empty cell, no infinity."""
    values = [column(table, name, "feature column") for name in names]
    text = [(n, v) for n, v in zip(names, values, strict=True) if not _is_numeric(v)]
    if text:
        shown = ", ".join(repr(n) for n, _ in text[:6]) + (
            ", ..." if len(text) > 6 else ""
        )
        example = next((f for f in (_first_text(v) for _, v in text) if f), None)
        seen = (
            f" ({text[0][0]!r} holds {example[1]!r} in row {example[0] + 1})"
            if example and example[1] is not None and len(text) == 1
            else ""
        )
        listed = ", ".join(repr(n) for n, _ in text[:6])
        raise DataError(
            f"{table.path}: feature column{'s' * (len(text) > 1)} {shown} "
            f"{'are' if len(text) > 1 else 'is'} not numeric{seen}; encode "
            f"{'them' if len(text) > 1 else 'it'} as numbers first, e.g. one-hot with "
            f"pandas.get_dummies(df, columns=[{listed}]) before saving the file, or "
            "leave them out with --features"
        )
    _check_complete(table, names, values)
    X = np.empty((table.n_rows, len(names)), dtype=np.float64)
    for j, v in enumerate(values):
        X[:, j] = v
    infinite = np.isinf(X)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise DataError(
            f"{table.path}: column {names[j]!r} holds {X[i, j]} in row {i + 1} "
            "(counting data rows from 1); features must be finite numbers"
        )
    return X


def _check_complete(table: Table, names: list[str], values: list[np.ndarray]) -> None:
    """A DataError naming the first row (then column) with an empty or NaN cell."""
    first = None
    for name, v in zip(names, values, strict=True):
        missing = _missing(v)
        if missing.any():
            i = int(np.argmax(missing))
            if first is None or i < first[0]:
                first = (i, name, int(missing.sum()))
    if first is not None:
        i, name, count = first
        raise DataError(
            f"{table.path}: row {i + 1} (counting data rows from 1) has an empty or "
            f"NaN value in column {name!r} ({count} such cell{'s' * (count > 1)} in that "
            "column); fill them (pandas fillna) or drop those rows (dropna) first"
        )


def target_column(table: Table, target: str) -> np.ndarray:
    """The target column, checked for empty cells."""
    y = column(table, target, "target column")
    _check_complete(table, [target], [y])
    if y.dtype.kind == "f" and np.isinf(y).any():
        i = int(np.argmax(np.isinf(y)))
        raise DataError(
            f"{table.path}: target column {target!r} holds {y[i]} in row {i + 1}"
        )
    return y


def select(table: Table, target: str | None, features: list[str] | None = None):
    """(X, y, feature_names): features (n, d) float64 and the target column (n,).

    ``features`` defaults to every column but the target. ``target`` None gives
    y None (prediction).
    """
    if target is not None:
        y = target_column(table, target)
    else:
        y = None
    if features is None:
        features = [name for name in table.names if name != target]
    else:
        if target is not None and target in features:
            raise DataError(
                f"the target column {target!r} is also listed in --features; a model "
                "must not see the answer among its inputs"
            )
        repeated = sorted({f for f in features if features.count(f) > 1})
        if repeated:
            raise DataError(f"--features lists {repeated[0]!r} twice")
    if not features:
        raise DataError(f"{table.path} has no feature columns besides {target!r}")
    return features_matrix(table, features), y, list(features)


# -- the target ----------------------------------------------------------------------
def infer_task(y: np.ndarray) -> str:
    """ "classification" when the target holds text or booleans, or at most
    ``MAX_AUTO_CLASSES`` (20) distinct whole numbers; "regression" otherwise.

    >>> infer_task(np.array(["cat", "dog"], dtype=object)), infer_task(np.array([0.5, 1.5]))
    ('classification', 'regression')
    """
    if not _is_numeric(y) or y.dtype.kind == "b":
        return "classification"
    if y.dtype.kind == "f" and not np.array_equal(y, np.floor(y)):
        return "regression"
    return "classification" if len(np.unique(y)) <= MAX_AUTO_CLASSES else "regression"


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def fit_classes(y: np.ndarray) -> list:
    """The distinct values of y, sorted, as plain Python values (str, int, float,
    bool): class i of the network is ``classes[i]``.

    >>> fit_classes(np.array(["b", "a", "b"], dtype=object))
    ['a', 'b']
    """
    values = {_python(v) for v in y}
    try:
        return sorted(values)
    except TypeError:  # a mixture of types: order by their text
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def encode_labels(y: np.ndarray, classes: list, where: str = "the data") -> np.ndarray:
    """Indices into ``classes`` (int64, shape (n,)) of each value of y; a DataError
    naming values never seen in training.

    A value matches a class when equal (1 == 1.0) or, failing that, when their texts
    agree ("1" and 1), so a CSV column read as numbers in one file and as text in
    another still matches.

    >>> encode_labels(np.array(["b", "a"], dtype=object), ["a", "b"]).tolist()
    [1, 0]
    """
    index = {}
    for i, c in enumerate(classes):
        index.setdefault(c, i)
    by_text = {str(c): i for i, c in enumerate(classes)}
    distinct = fit_classes(y)
    code_of, unseen = {}, []
    for value in distinct:
        i = index.get(value)
        if i is None:
            i = by_text.get(str(value))
        if i is None:
            unseen.append(value)
        code_of[value] = i
    if unseen:
        shown = ", ".join(repr(v) for v in unseen[:5]) + (
            ", ..." if len(unseen) > 5 else ""
        )
        known = ", ".join(repr(c) for c in classes[:20])
        raise DataError(
            f"{where} has label{'s' * (len(unseen) > 1)} {shown} the model never saw in "
            f"training; it knows {len(classes)} classes: {known}"
        )
    return np.array([code_of[_python(v)] for v in y], dtype=np.int64)


# -- the preprocessing record ---------------------------------------------------------
@dataclass
class Preprocessing:
    """What a model trained on a data file needs to read new rows of that file.

    z = (x - mean) / scale per feature, with mean and scale (the population standard
    deviation; 1 where it is 0) fitted on the training rows only. ``classes[i]`` is
    the label of output class i (None for regression).
    """

    features: list[str]
    mean: np.ndarray  # (d,) float64
    scale: np.ndarray  # (d,) float64, > 0
    task: str  # "classification" or "regression"
    target: str | None = None
    classes: list | None = None
    n_train: int = 0

    @classmethod
    def fit(cls, X_train, features, task, target=None, classes=None) -> Preprocessing:
        """The record with mean and scale fitted on ``X_train`` (n, d)."""
        scaler = Standardizer().fit(X_train)
        return cls(
            list(features),
            scaler.mean_,
            scaler.scale_,
            task,
            target,
            None if classes is None else list(classes),
            int(np.shape(X_train)[0]),
        )

    def transform(self, X) -> np.ndarray:
        """z = (x - mean) / scale, float64 (n, d)."""
        X = np.asarray(X, dtype=np.float64)
        return (X - self.mean) / self.scale

    def to_metadata(self) -> dict:
        """The record as JSON values (floats round-trip exactly)."""
        return {
            "version": RECORD_VERSION,
            "features": list(self.features),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "task": self.task,
            "target": self.target,
            "classes": self.classes,
            "n_train": self.n_train,
        }

    @classmethod
    def from_metadata(cls, metadata: dict, net=None) -> Preprocessing | None:
        """The record in a model file's metadata (None if it has none), checked
        against ``net``: a malformed record raises DataError."""
        record = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        if record is None:
            return None

        def bad(what: str):
            raise DataError(f"the model file's preprocessing record is invalid: {what}")

        if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
            bad(f"expected an object with version {RECORD_VERSION}")
        features, mean, scale = (
            record.get("features"),
            record.get("mean"),
            record.get("scale"),
        )
        if not isinstance(features, list) or not all(
            isinstance(f, str) for f in features
        ):
            bad("'features' must be a list of column names")
        d = len(features)
        for key, values in (("mean", mean), ("scale", scale)):
            if (
                not isinstance(values, list)
                or len(values) != d
                or not all(
                    isinstance(v, (int, float))
                    and not isinstance(v, bool)
                    and math.isfinite(v)
                    for v in values
                )
            ):
                bad(f"{key!r} must be {d} finite numbers, one per feature")
        if any(v <= 0 for v in scale):
            bad("'scale' must be positive")
        task = record.get("task")
        if task not in ("classification", "regression"):
            bad(f"'task' must be 'classification' or 'regression', got {task!r}")
        classes = record.get("classes")
        if task == "classification" and (not isinstance(classes, list) or not classes):
            bad("a classifier's record needs its list of 'classes'")
        target = record.get("target")
        if target is not None and not isinstance(target, str):
            bad("'target' must be a column name")
        n_train = record.get("n_train", 0)
        if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 0:
            bad("'n_train' must be a non-negative integer")
        if net is not None:
            if d != net.in_features:
                bad(f"it lists {d} features but the network takes {net.in_features}")
            if task == "classification":
                k = net.out_features
                if len(classes) != (2 if k == 1 else k):
                    bad(
                        f"it lists {len(classes)} classes but the network has {k} "
                        f"output{'s' * (k > 1)}"
                    )
        return cls(
            list(features),
            np.array(mean, dtype=np.float64),
            np.array(scale, dtype=np.float64),
            task,
            target,
            None if task == "regression" else list(classes),
            n_train,
        )


def fingerprint(X: np.ndarray, y: np.ndarray | None, features: list[str]) -> str:
    """SHA-256 of the feature names, X (float64) and y: the same data gives the
    same text, so a resumed run can check it trains on what it started with."""
    digest = hashlib.sha256()
    digest.update("\x00".join(features).encode())
    digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    if y is not None:
        digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()


# -- models ----------------------------------------------------------------------------
def load_model(path):
    """(net, record or None, metadata) of a model or checkpoint file.

    A missing file or folder raises DataError; a malformed file gn.ModelFormatError.
    """
    from ..io import load

    text = os.fspath(path)
    if not Path(text).exists():
        raise DataError(f"no such model file: {text}")
    if Path(text).is_dir():
        raise DataError(f"{text} is a folder, not a model file")
    net, metadata = load(text, return_metadata=True)
    return net, Preprocessing.from_metadata(metadata, net), metadata


def fold_standardization(net, record: Preprocessing):
    """A copy of ``net`` that takes raw features: the first Dense layer absorbs
    z = (x - mean) / scale.

    W z + b = W ((x - mean) / scale) + b = W' x + b'  with  W' = W / scale (each
    column j divided by scale_j) and b' = b - W' mean.  Computed in float64, then
    stored in the network's dtype. The first layer must be a Dense with a bias.
    """
    from ..nn.layers import Dense

    folded = net.copy()
    layer = folded.layers[0]
    if not isinstance(layer, Dense):
        raise ValueError(
            "cannot fold the standardisation into this network: its first layer is "
            f"{type(layer).__name__}, not Dense"
        )
    if not layer.use_bias:
        raise ValueError(
            "cannot fold the standardisation into a first Dense without a bias"
        )
    W = np.asarray(layer.W, dtype=np.float64) / record.scale  # W': (out, in)
    b = np.asarray(layer.b, dtype=np.float64) - W @ record.mean  # b': (out,)
    layer.W, layer.b = W, b
    return folded
