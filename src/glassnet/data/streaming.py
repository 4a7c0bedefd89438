"""Data files read chunk by chunk: training on files bigger than memory.

Three pieces, each usable alone:

- ``open_stream(path)`` (``TableStream``): an uncompressed CSV (or TSV) or a Parquet
  file cut into chunks that can be read in any order. A CSV chunk is a byte range
  of about ``CHUNK_BYTES`` ending at a line break outside quotes (found by one scan
  of the raw bytes, which also gives the file's SHA-256); a Parquet chunk is a row
  group, read ``PARQUET_BATCH_ROWS`` rows at a time. ``stream.scan()`` reads every
  chunk in file order (the statistics pass: it also learns each chunk's rows) and
  ``stream.read(chunk)`` one chunk; each gives the columns as ``Table.columns`` does
  (int64, float64 with NaN, bool, or object with None).
  A column is typed from ALL chunks, by the first ``scan``: it starts as the first
  chunk shows it (int64, float64, bool or text) and is widened when a later chunk
  holds what that type cannot (int64 -> float64 for 1.5, anything -> text for
  ``"abc"``); a column becoming text after numbers were counted restarts the scan,
  so that every chunk reaches the statistics with the column's final type. After
  the scan, every read uses those types. Nested Parquet columns (lists, structs,
  maps) are refused, naming the column.
- ``RowSplit(fraction, seed)``: the validation rows, chosen by a seeded hash of the
  row number (SplitMix64): row i is a validation row when
  ``splitmix64(i + key(seed)) / 2**64 < fraction``. The same rows every epoch and on
  every run with that seed, and never an index array: each chunk computes its own.
  Each row is drawn independently, so the validation set holds about fraction * n
  rows (a binomial count), and the split is not stratified by class.
- ``shuffled_batches``: the shuffle buffer. Rows arrive chunk by chunk (chunks in a
  random order per epoch) into a buffer of ``buffer_rows`` rows; when the buffer is
  full it is permuted and given out as batches of ``batch_size`` (each batch's rows
  in buffer order), the rows left over (fewer than a batch) staying for the next
  fill; at the end of the epoch the rest is permuted and given out, the last batch
  possibly smaller. Unlike tf.data's buffer (each output drawn from a sliding pool)
  the buffer is emptied fill by fill, so that with one chunk and a buffer holding
  every row it is exactly ``fit``'s own shuffle: the first fill's permutation is
  ``np.random.default_rng([seed, epoch]).permutation(n)``, and the batches equal
  those of ``net.fit(X, y, seed=seed)`` on the same rows, bit for bit.

``StreamedRows`` ties them together as the data source ``net.fit`` reads
(see ``glassnet.training.data.SourceBatches``): ``batches(batch_size, seed, epoch)``
gives (X, y) pairs of one epoch, a function of (seed, epoch) alone.

Memory: a CSV chunk's text and its parsed columns, one encoded chunk and the buffer
(``buffer_rows`` x inputs floats) are held at once, whatever the file's size.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError
from .tables import format_of

#: Bytes of CSV text per chunk.
CHUNK_BYTES = 4 * 2**20  # its parsing holds about 14x that at once (measured)
#: Rows read at once from a Parquet row group.
PARQUET_BATCH_ROWS = 16_384
#: Rows of the shuffle buffer (x inputs x 4 bytes in float32: 200k x 50 = 40 MB).
BUFFER_ROWS = 200_000
#: Read this many bytes at a time when scanning a CSV file's raw bytes.
_SCAN_BYTES = 8 * 2**20
#: Third word of the seed of an epoch's chunk order: [seed, epoch, 7]. The buffer's
#: permutations use [seed, epoch] (as fit's epoch order), the in-memory split
#: [seed, 0, 1] and [seed, 0, 2]: the streams never coincide.
_CHUNK_ORDER_STREAM = 7

_INSTALL_DATA = "pip install 'glassnet[data]'"


def _pyarrow():
    try:
        import pyarrow as pa
    except ImportError:
        raise ImportError(
            "streaming CSV or Parquet files needs pyarrow, which is not installed: "
            f"install the data extra with  {_INSTALL_DATA}"
        ) from None
    return pa


# -- chunks ------------------------------------------------------------------------------
@dataclass
class Chunk:
    """One piece of a file: bytes [start, stop) of a CSV, or a Parquet row group."""

    index: int
    start: int  # CSV: first byte; Parquet: the row group
    stop: int  # CSV: end byte; Parquet: unused (0)
    first_row: int = -1  # data rows before it (known after the first scan)
    n_rows: int = -1


@dataclass
class TableStream:
    """A data file read chunk by chunk; see the module docstring."""

    path: str
    format: str  # "csv" or "parquet"
    names: list[str]
    chunks: list[Chunk]
    sha256: str = ""
    delimiter: str = ","
    types: dict = field(default_factory=dict)  # name -> pyarrow type (None: unknown)
    scanned: bool = False

    @property
    def size(self) -> int:
        """The file's extent in the units of ``position``: bytes of a CSV, row
        groups of a Parquet file."""
        if self.format == "csv":
            return self.chunks[-1].stop if self.chunks else 1
        return max(len(self.chunks), 1)

    def position(self, chunk: Chunk) -> int:
        """How far into the file the end of ``chunk`` is (see ``size``)."""
        return chunk.stop if self.format == "csv" else chunk.index + 1

    @property
    def n_rows(self) -> int:
        """Data rows of the file (after the first ``scan``)."""
        if not self.scanned:
            raise RuntimeError("the row count is known after the first scan()")
        return sum(chunk.n_rows for chunk in self.chunks)

    def scan(self, columns=None):
        """(first row, columns dict) of every part of every chunk, in file order.

        The first scan types the columns (see the module docstring) and counts each
        chunk's rows; when a column must become text after numbers were counted, it
        raises ``Retyped``: start the scan (and the statistics) again.
        """
        if self.scanned:
            for chunk in self.chunks:
                for first_row, part in self._parts(chunk, columns):
                    yield first_row, part
            return
        row = 0
        for chunk in self.chunks:
            chunk.first_row, chunk.n_rows = row, 0
            for first_row, part in self._parts(chunk, columns, typing=True):
                chunk.n_rows += _length(part)
                yield first_row, part
            row += chunk.n_rows
        for name in self.names if columns is None else columns:
            if self.types.get(name) is None:  # empty in every row: float64 NaN
                self.types[name] = _pyarrow().float64()
        self.scanned = True

    def chunk_of(self, first_row: int) -> Chunk:
        """The chunk holding row ``first_row`` (of those read so far)."""
        found = self.chunks[0]
        for chunk in self.chunks:
            if 0 <= chunk.first_row <= first_row:
                found = chunk
        return found

    def read(self, chunk: Chunk, columns=None):
        """(first row, columns dict) of each part of ``chunk`` (after a scan)."""
        if not self.scanned:
            raise RuntimeError("scan() the file once before reading chunks")
        yield from self._parts(chunk, columns)

    def _parts(self, chunk: Chunk, columns, typing: bool = False):
        wanted = self.names if columns is None else list(columns)
        if self.format == "csv":
            table = self._csv_chunk(chunk, wanted, typing)
            yield chunk.first_row, _numpy_columns(table, wanted)
            return
        yield from self._parquet_chunk(chunk, wanted)

    # -- CSV ------------------------------------------------------------------------
    def _csv_chunk(self, chunk: Chunk, wanted, typing: bool):
        pa = _pyarrow()
        import pyarrow.csv as csv

        with open(self.path, "rb") as handle:
            handle.seek(chunk.start)
            text = handle.read(chunk.stop - chunk.start)
        while True:
            fixed = {n: t for n, t in self.types.items() if t is not None}
            try:
                table = csv.read_csv(
                    pa.BufferReader(text),
                    read_options=csv.ReadOptions(
                        column_names=self.names, block_size=max(len(text), 1 << 20)
                    ),
                    parse_options=csv.ParseOptions(delimiter=self.delimiter),
                    convert_options=csv.ConvertOptions(
                        column_types=fixed,
                        include_columns=wanted,
                        timestamp_parsers=[],
                        strings_can_be_null=True,
                    ),
                )
            except pa.ArrowInvalid as error:
                if not typing:
                    raise self._invalid(error, chunk) from None
                self._widen(error, chunk)
                continue
            if not typing:
                return table
            if self._note_types(table):
                continue  # a dated column: read again as text
            return table

    def _invalid(self, error, chunk: Chunk) -> DataError:
        detail = str(error).strip().splitlines()[0]
        return DataError(
            f"{self.path} is not a valid CSV file (in bytes {chunk.start}.."
            f"{chunk.stop}): {detail}"
        )

    def _widen(self, error, chunk: Chunk) -> None:
        """The type of the column the conversion failed on, widened (or a DataError
        when the error is not a conversion)."""
        pa = _pyarrow()
        found = re.search(
            r"CSV column #(\d+): CSV conversion error to (\w+)", str(error)
        )
        if not found:
            raise self._invalid(error, chunk)
        name = self.names[int(found.group(1))]
        old = self.types.get(name)
        if old is not None and pa.types.is_string(old):  # text cannot widen further
            raise self._invalid(error, chunk)
        value = re.search(r"invalid value '(.*)'", str(error))
        if pa.types.is_integer(old) and value and _is_float(value.group(1)):
            self.types[name] = pa.float64()
            return
        self.types[name] = pa.string()
        if old is not None and chunk.index > 0:
            raise Retyped(name)

    def _note_types(self, table) -> bool:
        """Records the types the chunk showed for still-unknown columns; True when
        one came out dated (read such columns as text: read it again)."""
        pa = _pyarrow()
        again = False
        for name, column in zip(table.column_names, table.columns, strict=True):
            if self.types.get(name) is not None:
                continue
            kind = column.type
            if pa.types.is_null(kind):
                continue
            if not (
                pa.types.is_integer(kind)
                or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind)
                or pa.types.is_string(kind)
            ):
                kind, again = pa.string(), True
            self.types[name] = kind
        return again

    # -- Parquet ---------------------------------------------------------------------
    def _parquet_chunk(self, chunk: Chunk, wanted):
        import pyarrow.parquet as pq

        # Buffered, not pre-buffered: a column chunk is decoded through a small
        # buffer instead of read whole into memory.
        file = pq.ParquetFile(self.path, buffer_size=1 << 20, pre_buffer=False)
        row = chunk.first_row if chunk.first_row >= 0 else 0
        for batch in file.iter_batches(
            batch_size=PARQUET_BATCH_ROWS, row_groups=[chunk.start], columns=wanted
        ):
            yield row, _numpy_columns(batch, wanted)
            row += batch.num_rows


class Retyped(DataError):
    """A column turned out to hold text after numbers were counted: scan again."""

    def __init__(self, name: str):
        super().__init__(f"column {name!r} holds text in a later chunk")
        self.column = name


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _length(columns: dict) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def _numpy_columns(table, wanted) -> dict:
    """An Arrow table or record batch as columns like ``Table.columns``: int64 and
    bool without missing cells, float64 with NaN, object (None where empty)."""
    pa = _pyarrow()
    names = table.column_names if hasattr(table, "column_names") else table.schema.names
    out = {}
    for name in wanted:
        column = table.column(names.index(name))
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if pa.types.is_null(kind):
            out[name] = np.full(len(column), np.nan)
        elif pa.types.is_integer(kind) and column.null_count == 0:
            out[name] = column.to_numpy().astype(np.int64, copy=False)
        elif pa.types.is_boolean(kind) and column.null_count == 0:
            out[name] = column.to_numpy(zero_copy_only=False).astype(bool)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
            out[name] = values.astype(np.float64, copy=False)
        elif pa.types.is_decimal(kind):
            out[name] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            out[name] = column.to_numpy(zero_copy_only=False).astype(object)
        else:  # dates, times, binary: their text
            out[name] = column.cast(pa.string()).to_numpy(zero_copy_only=False)
    return out


# -- opening a file ----------------------------------------------------------------------
def streamable(path) -> str | None:
    """None when ``path`` can be streamed, else why not (one line)."""
    text = os.fspath(path)
    try:
        fmt = format_of(text)
    except DataError as error:
        return str(error)
    if fmt not in ("csv", "parquet"):
        return f"{fmt} files are read whole (memory-map a large .npy instead)"
    if fmt == "csv" and not Path(text).name.lower().endswith((".csv", ".tsv")):
        return "a compressed CSV cannot be read from any chunk; decompress it first"
    return None


def open_stream(path, chunk_bytes: int = CHUNK_BYTES) -> TableStream:
    """The file at ``path`` cut into chunks (CSV: byte ranges; Parquet: row groups).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write('a,b\\n1,x\\n2,"y\\nz"\\n3.5,w\\n')
    >>> stream = open_stream(path, chunk_bytes=2)
    >>> [(r, c["a"].tolist(), c["b"].tolist()) for r, c in stream.scan()]
    [(0, [1], ['x']), (1, [2], ['y\\nz']), (2, [3.5], ['w'])]
    >>> stream.n_rows, str(stream.types["a"])
    (3, 'double')
    """
    text = os.fspath(path)
    why = streamable(text)
    if why is not None:
        raise DataError(f"{text}: cannot stream it: {why}")
    file = Path(text)
    if not file.is_file():
        raise DataError(f"no such data file: {text}")
    if file.stat().st_size == 0:
        raise DataError(f"{text} is empty (0 bytes)")
    _pyarrow()
    if format_of(text) == "parquet":
        return _open_parquet(text)
    return _open_csv(text, chunk_bytes)


def _open_csv(path: str, chunk_bytes: int) -> TableStream:
    pa = _pyarrow()
    import pyarrow.csv as csv

    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    header_end, cuts, digest = _csv_cuts(path, chunk_bytes)
    with open(path, "rb") as handle:
        header = handle.read(header_end)
    try:
        names = csv.read_csv(
            pa.BufferReader(header + b"\n"),
            parse_options=csv.ParseOptions(delimiter=delimiter),
        ).column_names
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        detail = str(error).strip().splitlines()[0]
        raise DataError(f"{path} has no readable header row: {detail}") from None
    _check_names(path, names)
    bounds = [header_end, *cuts, os.path.getsize(path)]
    ranges = [(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False) if hi > lo]
    chunks = [Chunk(i, lo, hi) for i, (lo, hi) in enumerate(ranges)]
    chunks = [c for c in chunks if _has_data(path, c)]
    for i, chunk in enumerate(chunks):
        chunk.index = i
    digest.update("\x00".join(names).encode())
    return TableStream(
        path, "csv", list(names), chunks, digest.hexdigest(), delimiter,
        {name: None for name in names},
    )  # fmt: skip


def _has_data(path: str, chunk: Chunk) -> bool:
    """False for a range holding only line breaks (a file ending in blank lines)."""
    if chunk.stop - chunk.start > 64:
        return True
    with open(path, "rb") as handle:
        handle.seek(chunk.start)
        return bool(handle.read(chunk.stop - chunk.start).strip())


def _csv_cuts(path: str, chunk_bytes: int):
    """(end of the header line, chunk cut positions, sha256 of the bytes).

    A cut is just after a line break outside quotes: the quotes before it are even
    in number (an escaped quote "" counts twice, so the parity still holds).
    """
    digest = hashlib.sha256()
    cuts: list[int] = []
    header_end = None
    target = quotes = offset = 0  # quotes: in the bytes before `offset`
    with open(path, "rb") as handle:
        while block := handle.read(_SCAN_BYTES):
            digest.update(block)
            want = max(target - offset, 0)
            while want < len(block):
                cut = _next_break(block, want, quotes + block.count(b'"', 0, want))
                if cut is None:
                    break
                end = offset + cut + 1  # just after the line break
                if header_end is None:
                    header_end = end
                else:
                    cuts.append(end)
                target = end + chunk_bytes
                want = target - offset
            quotes += block.count(b'"')
            offset += len(block)
    return (offset if header_end is None else header_end), cuts, digest


def _next_break(block: bytes, start: int, quotes_before: int) -> int | None:
    """The first line break at or after ``start`` with an even count of quotes
    before it (``quotes_before`` counts those before ``start``)."""
    at = start
    while True:
        cut = block.find(b"\n", at)
        if cut < 0:
            return None
        if (quotes_before + block.count(b'"', start, cut)) % 2 == 0:
            return cut
        at = cut + 1


def _open_parquet(path: str) -> TableStream:
    pa = _pyarrow()
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DataError(f"{path} is not a readable Parquet file: {detail}") from None
    schema = file.schema_arrow
    for item in schema:
        if pa.types.is_nested(item.type):
            raise DataError(
                f"{path}: column {item.name!r} is nested ({item.type}); glassnet reads "
                "flat columns of numbers, text or booleans: flatten it into columns "
                "of their own first"
            )
    names = list(schema.names)
    _check_names(path, names)
    chunks, row = [], 0
    for g in range(file.num_row_groups):
        n = file.metadata.row_group(g).num_rows
        chunks.append(Chunk(g, g, 0, row, n))
        row += n
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_SCAN_BYTES):
            digest.update(block)
    types = {item.name: item.type for item in schema}
    stream = TableStream(path, "parquet", names, chunks, digest.hexdigest(), ",", types)
    stream.scanned = True  # row counts and types come from the metadata
    return stream


def _check_names(path: str, names) -> None:
    for i, name in enumerate(names):
        if name in names[:i]:
            raise DataError(
                f"{path}: the column name {name!r} appears more than once in the "
                "header; give every column its own name"
            )
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
            raise DataError(
                f"{path}: the column name {name!r} holds control characters; "
                "rename the column"
            )


def in_memory_bytes(path) -> int:
    """A rough figure of the memory reading ``path`` whole takes: five times its
    text for a CSV, five times its uncompressed data for Parquet (pandas' frame,
    the columns, the matrix and its standardised copies, measured at 5x)."""
    text = os.fspath(path)
    if format_of(text) == "parquet":
        try:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(text).metadata
            size = sum(
                meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)
            )
        except Exception:  # unreadable here: the reader names the problem
            size = os.path.getsize(text)
    else:
        size = os.path.getsize(text)
    return 5 * size


# -- the validation split ------------------------------------------------------------------
_MASK = np.uint64(2**64 - 1)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (Steele, Lea and Flood 2014) on uint64 x,
    wrapping modulo 2**64 (numpy's unsigned arrays wrap without a warning)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class RowSplit:
    """Row i is a validation row when splitmix64(i + key) / 2**64 < fraction, key
    the seed's own SplitMix64 output.

    >>> split = RowSplit(0.25, seed=0)
    >>> mask = split.validation(0, 100_000)
    >>> round(float(mask.mean()), 2), bool((split.validation(500, 10) == mask[500:510]).all())
    (0.25, True)
    """

    fraction: float
    seed: int

    def validation(self, first_row: int, n: int) -> np.ndarray:
        """True for the validation rows among rows first_row .. first_row + n - 1."""
        if self.fraction <= 0:
            return np.zeros(n, dtype=bool)
        key = splitmix64(np.array([self.seed], dtype=np.uint64))[0]
        rows = np.arange(first_row, first_row + n, dtype=np.uint64) + key
        top53 = splitmix64(rows) >> np.uint64(11)  # uniform on 0 .. 2**53 - 1
        return top53 < np.uint64(math.ceil(self.fraction * 2**53))


# -- the shuffle buffer ---------------------------------------------------------------------
def shuffled_batches(parts, batch_size: int, buffer_rows: int, rng, dtype):
    """(X_b, y_b) batches from ``parts``, an iterable of (X, y) arrays, through the
    shuffle buffer described in the module docstring. ``rng`` draws each fill's
    permutation; X is converted to ``dtype``. X_b and y_b are new arrays.

    >>> X = np.arange(10.0)[:, None]
    >>> out = shuffled_batches([(X[:4], X[:4, 0]), (X[4:], X[4:, 0])], 3, 100,
    ...                        np.random.default_rng([0, 0]), np.float64)
    >>> [b[1].tolist() for b in out] == [
    ...     sorted(p) for p in np.split(np.random.default_rng([0, 0]).permutation(10),
    ...                                  [3, 6, 9])]
    True
    """
    buffer_rows = max(int(buffer_rows), batch_size)
    Xbuf = ybuf = None
    fill = 0
    for X, y in parts:
        if Xbuf is None:
            Xbuf = np.empty((buffer_rows, X.shape[1]), dtype=dtype)
            ybuf = np.empty((buffer_rows, *np.shape(y)[1:]), dtype=np.asarray(y).dtype)
        at = 0
        while at < len(X):
            take = min(buffer_rows - fill, len(X) - at)
            Xbuf[fill : fill + take] = X[at : at + take]
            ybuf[fill : fill + take] = y[at : at + take]
            fill, at = fill + take, at + take
            if fill == buffer_rows:
                yield from _emit(Xbuf, ybuf, fill, batch_size, rng, final=False)
                fill = fill % batch_size
    if fill:
        yield from _emit(Xbuf, ybuf, fill, batch_size, rng, final=True)


def _emit(Xbuf, ybuf, fill: int, batch_size: int, rng, final: bool):
    """The buffer's first ``fill`` rows permuted, as whole batches (every row when
    ``final``); the rows left over are moved to the buffer's front."""
    order = rng.permutation(fill)
    n_out = fill if final else fill - fill % batch_size
    for lo in range(0, n_out, batch_size):
        idx = np.sort(order[lo : lo + batch_size])  # buffer order inside a batch
        yield np.take(Xbuf, idx, axis=0), np.take(ybuf, idx, axis=0)
    rest = order[n_out:]
    if len(rest):
        Xbuf[: len(rest)] = Xbuf[np.sort(rest)]
        ybuf[: len(rest)] = ybuf[np.sort(rest)]


# -- the data source fit reads ------------------------------------------------------------
class StreamedRows:
    """The training (or validation) rows of a ``TableStream``, as a data source for
    ``net.fit``: ``batches(batch_size, seed, epoch)`` gives the (X, y) pairs of one
    epoch, chunk order and buffer permutations drawn from (seed, epoch) alone;
    ``seed=None`` gives the rows in file order, unshuffled (for evaluation).

    ``encode(columns) -> (X, y)`` turns a chunk's raw columns into inputs (n, d)
    and targets; ``split`` and ``role`` ("train" or "validation") pick the rows;
    ``n_rows`` is their count (from the statistics pass).
    """

    def __init__(self, stream: TableStream, encode, n_rows: int, *, split=None,
                 role: str = "train", buffer_rows: int | None = None,
                 dtype=np.float32, columns=None):  # fmt: skip
        if role not in ("train", "validation"):
            raise ValueError(f"role must be 'train' or 'validation', got {role!r}")
        self.stream, self.encode, self.n_rows = stream, encode, int(n_rows)
        self.split, self.role = split, role
        if buffer_rows is None:
            buffer_rows = BUFFER_ROWS
        self.buffer_rows, self.dtype = int(buffer_rows), dtype
        self.columns = columns

    def __repr__(self) -> str:
        return (
            f"StreamedRows({self.stream.path!r}, {self.role}, {self.n_rows} rows, "
            f"{len(self.stream.chunks)} chunks)"
        )

    def parts(self, order=None):
        """(X, y) of this role's rows, part by part, chunks in ``order``."""
        chunks = self.stream.chunks
        for c in range(len(chunks)) if order is None else order:
            for first_row, columns in self.stream.read(chunks[c], self.columns):
                n = _length(columns)
                if self.split is not None:
                    held = self.split.validation(first_row, n)
                    keep = held if self.role == "validation" else ~held
                    if not keep.all():
                        columns = {k: v[keep] for k, v in columns.items()}
                if _length(columns):
                    yield self.encode(columns)

    def batches(self, batch_size: int, seed: int | None = None, epoch: int = 0):
        """(X, y) batches of one epoch (see the class docstring)."""
        if seed is None:
            for X, y in self.parts():
                for lo in range(0, len(X), batch_size):
                    yield (
                        np.asarray(X[lo : lo + batch_size], dtype=self.dtype),
                        y[lo : lo + batch_size],
                    )
            return
        n_chunks = len(self.stream.chunks)
        order = np.random.default_rng([seed, epoch, _CHUNK_ORDER_STREAM]).permutation(
            n_chunks
        )
        rng = np.random.default_rng([seed, epoch])  # the first fill: fit's epoch order
        # No bigger than the rows (one more, so that a buffer holding every row
        # is emptied once, at the end: fit's own epoch order).
        buffer_rows = min(self.buffer_rows, self.n_rows + 1)
        yield from shuffled_batches(
            self.parts(order), batch_size, buffer_rows, rng, self.dtype
        )


# -- the statistics pass --------------------------------------------------------------------
@dataclass
class Survey:
    """What one pass over a file learned: the statistics of the training rows'
    feature columns, the row counts, and the target's values (for the task and the
    classes)."""

    stats: object  # ColumnStats of the training rows' features
    n_train: int
    n_val: int
    target_kind: str  # "number", "bool" or "text"
    distinct: list  # the target's distinct values (all rows), sorted
    integral: bool  # every target value is a whole number


#: Distinct target values kept: more are never classes glassnet trains on.
MAX_DISTINCT_TARGETS = 100_000


def survey(stream: TableStream, target: str, features, split: RowSplit | None,
           categorical=(), seed: int = 0, progress=None) -> Survey:  # fmt: skip
    """One pass over ``stream`` (in file order): ``ColumnStats`` of the training
    rows' ``features``, the target checked (no empty cell, finite) and its distinct
    values over all rows. Restarted when a later chunk retypes a column as text
    (see the module docstring)."""
    from .column_stats import STREAM_RESERVOIR, ColumnStats

    for _ in range(len(stream.names) + 1):
        # the median: exact up to STREAM_RESERVOIR numbers a column, else of a
        # seeded uniform sample of that many (1.6 MB a column, not 8 MB)
        stats = ColumnStats(categorical, seed=seed, reservoir=STREAM_RESERVOIR)
        target_state = _TargetState(target, stream.path)
        n_train = n_val = 0
        try:
            for first_row, columns in stream.scan([*features, target]):
                n = _length(columns)
                target_state.add(columns[target], first_row)
                held = (
                    np.zeros(n, dtype=bool)
                    if split is None
                    else split.validation(first_row, n)
                )
                n_val += int(held.sum())
                n_train += n - int(held.sum())
                stats.update({f: columns[f][~held] for f in features})
                if progress is not None:
                    progress.update(stream.position(stream.chunk_of(first_row)))
        except Retyped:
            continue
        if progress is not None:
            progress.close()
        kind, distinct, integral = target_state.result()
        return Survey(stats, n_train, n_val, kind, distinct, integral)
    raise DataError(f"{stream.path}: the column types did not settle")  # unreachable


class _TargetState:
    """The target column over all chunks: its kind, distinct values, wholeness."""

    def __init__(self, name: str, path: str):
        self.name, self.path = name, path
        self.kinds: set = set()
        self.values: set = set()
        self.integral = True
        self.too_many = False

    def add(self, y: np.ndarray, first_row: int) -> None:
        missing = None
        if y.dtype.kind == "f":
            missing = np.isnan(y)
        elif y.dtype.kind == "O":
            missing = np.equal(y, None)  # elementwise: True where a cell is empty
        if missing is not None and missing.any():
            i = int(np.argmax(missing))
            raise DataError(
                f"{self.path}: row {first_row + i + 1} (counting data rows from 1) has "
                f"an empty or NaN value in target column {self.name!r}; fill or drop "
                "such rows first"
            )
        if y.dtype.kind == "f" and np.isinf(y).any():
            i = int(np.argmax(np.isinf(y)))
            raise DataError(
                f"{self.path}: target column {self.name!r} holds {y[i]} in row "
                f"{first_row + i + 1}"
            )
        kind = {"b": "bool", "i": "number", "u": "number", "f": "number"}.get(
            y.dtype.kind, "text"
        )
        self.kinds.add(kind)
        if kind == "number" and y.dtype.kind == "f":
            self.integral = self.integral and bool(np.array_equal(y, np.floor(y)))
        if self.too_many:
            return
        try:
            distinct = np.unique(y).tolist()
        except TypeError:  # text mixed with other values: no order among them
            distinct = set(y.tolist())
        self.values.update(distinct)
        if len(self.values) > MAX_DISTINCT_TARGETS:
            self.too_many, self.values = True, set()

    def result(self):
        kind = (
            "text"
            if "text" in self.kinds or len(self.kinds) > 1
            else (self.kinds.pop() if self.kinds else "number")
        )
        try:
            distinct = sorted(self.values)
        except TypeError:
            distinct = sorted(self.values, key=lambda v: (type(v).__name__, str(v)))
        return kind, None if self.too_many else distinct, self.integral
