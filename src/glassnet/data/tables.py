"""Data files as named columns: CSV, Parquet, .npy and .npz.

``read_table(path)`` reads a file by its suffix into a ``Table``: CSV (with a header)
and Parquet through pandas (the ``data`` extra), .npy and .npz through numpy alone
(``arrays``). Large files are read in chunks with a ``Progress`` line.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._fast.work import check_memory
from .arrays import read_numpy
from .errors import DataError

#: File suffixes read, by format (CSV may also be compressed: data.csv.gz, ...).
FORMATS = {
    "csv": (".csv", ".tsv"),
    "parquet": (".parquet", ".pq"),
    "npy": (".npy",),
    "npz": (".npz",),
}
_COMPRESSION = (".gz", ".bz2", ".zip", ".xz", ".zst")
#: Files larger than this are read in chunks with a progress indication.
LARGE_FILE_BYTES = 32 * 2**20
CSV_CHUNK_ROWS = 100_000
_INSTALL_DATA = "pip install 'glassnet[data]'"


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
    ``"-"`` reads CSV from standard input, and a FIFO (named pipe) is read as the
    format its name gives; either is read once, whole, into memory.
    """
    text = os.fspath(path)
    if text == "-" or _is_fifo(text):
        return _read_stream(text)
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
    if fmt == "csv":  # parsed numbers take at least the text's size (8 bytes a value)
        check_memory(
            size,
            f"reading {text} ({size / 2**30:.1f} GiB of text)",
            "read fewer rows or columns (split the file), or free memory",
        )
    if fmt in ("npy", "npz"):
        columns = read_numpy(text, fmt)
    else:
        pd = _pandas(fmt)
        reader = _read_csv if fmt == "csv" else _read_parquet
        frame = reader(pd, text, size, Progress(f"reading {text}", size, stream, show))
        columns = columns_of_frame(pd, frame, text)
    n = len(next(iter(columns.values()))) if columns else 0
    return Table(text, columns, n)


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


#: pandas names of the compressions a streamed CSV's name may carry.
_STREAM_COMPRESSION = {
    ".gz": "gzip",
    ".bz2": "bz2",
    ".zip": "zip",
    ".xz": "xz",
    ".zst": "zstd",
}


def _read_stream(text: str) -> Table:
    """A table from standard input ("-": CSV) or a FIFO (format from its name), read
    once into memory: a stream has no size to check and cannot be read twice."""
    fmt = "csv" if text == "-" else format_of(text)
    label = "standard input" if text == "-" else text
    if text == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(text, "rb") as handle:  # blocks until a writer opens the FIFO
            data = handle.read()
    if not data:
        raise DataError(f"{label} is empty: nothing was written to it")
    source = io.BytesIO(data)
    if fmt in ("npy", "npz"):
        columns = read_numpy(label, fmt, source=source)
    else:
        pd = _pandas(fmt)
        reader = _read_csv if fmt == "csv" else _read_parquet
        quiet = Progress(label, len(data), None, enabled=False)
        frame = reader(pd, label, len(data), quiet, source=source)
        columns = columns_of_frame(pd, frame, label)
    n = len(next(iter(columns.values()))) if columns else 0
    return Table(label, columns, n)


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


def _read_csv(pd, path: str, size: int, progress: Progress, source=None):
    sep = "\t" if ".tsv" in Path(path).name.lower() else ","
    frame = _read_csv_frame(pd, path, size, progress, source, sep)
    _check_csv(pd, frame, path, sep, source)
    return frame


def _check_csv(pd, frame, path: str, sep: str, source) -> None:
    """What pandas reads without complaint but trains on the wrong thing: a repeated
    column name (pandas renames the second ``a.1``), one column whose name holds
    another delimiter (a ``;``-separated file)."""
    names = [str(name) for name in frame.columns]
    other = next((d for d in (";", "\t", "|") if d != sep and d in names[0]), None)
    if len(names) == 1 and other is not None:
        shown = {";": "';'", "\t": "tabs", "|": "'|'"}[other]
        raise DataError(
            f"{path}: one column named {names[0]!r}: the file seems separated by "
            f"{shown}, not {sep!r}; save it with commas (or tabs as .tsv)"
        )
    if source is not None:
        source.seek(0)
        compression = _STREAM_COMPRESSION.get(Path(path).suffix.lower())
        header = pd.read_csv(source, sep=sep, header=None, nrows=1, dtype=str,
                             compression=compression, keep_default_na=False)  # fmt: skip
    else:
        header = pd.read_csv(
            path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False
        )
    raw = [str(name) for name in header.iloc[0]] if len(header) else names
    repeated = next((name for i, name in enumerate(raw) if name in raw[:i]), None)
    if repeated is not None:
        raise DataError(
            f"{path}: the column name {repeated!r} appears more than once in the "
            "header; give every column its own name"
        )


def _read_csv_frame(pd, path, size, progress, source, sep):
    try:
        if source is not None:  # bytes in memory: compression from the name
            compression = _STREAM_COMPRESSION.get(Path(path).suffix.lower())
            return pd.read_csv(source, sep=sep, compression=compression)
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


def _read_parquet(pd, path: str, size: int, progress: Progress, source=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if source is not None or not progress.enabled:
            return pd.read_parquet(path if source is None else source)
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


def columns_of_frame(pd, frame, path: str) -> dict[str, np.ndarray]:
    types = pd.api.types
    columns = {}
    for i, key in enumerate(frame.columns):
        name = str(key)
        if name in columns:
            raise DataError(f"{path}: the column name {name!r} appears twice")
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
            raise DataError(
                f"{path}: the column name {name!r} holds control characters; "
                "rename the column"
            )
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
