"""Statistics of a table's columns, gathered chunk by chunk and merged exactly.

``ColumnStats.update(columns)`` adds a chunk of rows (a dict name -> column, as
``Table.columns``); ``a.merge(b)`` combines two accumulators as if one had seen both
chunks. What ``Preprocessing.from_stats`` needs is kept per column:

- counts: rows, missing cells (NaN or None), number cells, text cells (the first
  text cell's row and value, for the "numbers held as text" message);
- numbers: count n, mean and M2 = sum (x - mean)^2, merged with Chan et al.'s
  formulas (mean = (n_a mean_a + n_b mean_b) / n, M2 = M2_a + M2_b + delta^2 n_a n_b / n),
  so the variance is M2 / n without a second pass;
- the median: from every value while they fit in a reservoir (``RESERVOIR``, 1M
  values, by default; ``STREAM_RESERVOIR``, 200k, for a streamed file): exact up to
  that many, else the median of a uniform sample of that many, drawn from the
  accumulator's seed;
- categories: the count of each distinct value of a text, boolean or named
  categorical column.

An object column's cells are grouped by value first (``cells_of``: hashing, in
pandas when it is installed), so what a cell means is worked out once per distinct
value, not once per cell.

Examples
--------
>>> import numpy as np
>>> stats = ColumnStats()
>>> _ = stats.update({"x": np.array([1.0, np.nan]), "c": np.array(["a", None], object)})
>>> _ = stats.update({"x": np.array([3.0, 5.0]), "c": np.array(["b", "a"], object)})
>>> x, c = stats.columns["x"], stats.columns["c"]
>>> x.count, x.mean, x.variance, x.median(), x.n_missing
(3, 3.0, 2.6666666666666665, 3.0, 1)
>>> c.category_counts(), c.n_missing
({'a': 2, 'b': 1}, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError

#: Values kept for the median: exact up to this many, a uniform sample beyond.
RESERVOIR = 1_000_000
#: The reservoir of a file streamed (bigger than memory): 1.6 MB per numeric column.
STREAM_RESERVOIR = 200_000


def _tag(value) -> tuple:
    """A category's key: (0, bool) | (1, number) | (2, str), so that True and 1 stay
    two categories and 1 and 1.0 are one; sorting keys orders booleans, numbers, text."""
    if isinstance(value, (bool, np.bool_)):
        return (0, bool(value))
    if isinstance(value, (int, np.integer)):
        return (1, int(value))
    if isinstance(value, (float, np.floating)):
        return (1, float(value))
    return (2, str(value))


def is_missing(value) -> bool:
    """None, NaN (float or numpy), or a pandas NA: an empty cell."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def is_number(value) -> bool:
    """A cell that holds a number: an int or float (not a bool), or text that
    parses as one ("2.5")."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass
class Column:
    """What one column's cells have shown so far."""

    name: str
    categorical: bool = False  # named categorical: count its numbers as categories
    n_rows: int = 0
    n_missing: int = 0
    n_text: int = 0  # non-missing cells that are not numbers (text, booleans)
    first_text: tuple | None = None  # (row from 1, value) of the first text cell
    n_bool: int = 0
    n_boxed: int = 0  # numbers held as Python objects: a pandas categorical's values
    count: int = 0  # numbers in a numeric (int/float) column
    mean: float = 0.0
    m2: float = 0.0
    sample: np.ndarray = field(default_factory=lambda: np.empty(0))
    counts: dict = field(default_factory=dict)  # category key -> cells
    reservoir: int = RESERVOIR  # numbers kept for the median

    @property
    def n_numbers(self) -> int:
        """Non-missing cells that are numbers (in a numeric column or as text)."""
        return self.n_rows - self.n_missing - self.n_text

    @property
    def variance(self) -> float:
        """Population variance M2 / n (0 for no numbers)."""
        return self.m2 / self.count if self.count else 0.0

    def median(self) -> float:
        """The median of the numbers seen (of the reservoir sample beyond
        ``reservoir`` numbers), NaN when there are none."""
        if not self.sample.size:
            return math.nan
        return float(np.median(self.sample))

    def category_counts(self) -> dict:
        """{category value: cells}, sorted (booleans, then numbers, then text)."""
        return {key[1]: self.counts[key] for key in sorted(self.counts)}

    # -- one chunk ------------------------------------------------------------------
    def add(self, values: np.ndarray, row0: int, rng) -> None:
        """Adds the cells of one chunk; ``row0`` rows came before it."""
        values = np.asarray(values)
        if values.ndim != 1:
            raise DataError(f"column {self.name!r} must be 1-D, got {values.shape}")
        chunk = Column(
            self.name, self.categorical, n_rows=len(values), reservoir=self.reservoir
        )
        if values.dtype.kind in "iuf":
            chunk._add_numbers(values.astype(np.float64), row0, rng)
        elif values.dtype.kind == "b":
            chunk._add_cells(values.astype(object), row0, rng)
        else:
            chunk._add_cells(values, row0, rng)
        self.merge_from(chunk, rng)

    def _add_numbers(self, x: np.ndarray, row0: int, rng) -> None:
        missing = np.isnan(x)
        self.n_missing = int(missing.sum())
        x = x[~missing]
        infinite = np.isinf(x)
        if infinite.any():
            i = int(np.flatnonzero(~missing)[np.argmax(infinite)])
            raise DataError(
                f"column {self.name!r} holds {x[infinite][0]} in row {row0 + i + 1} "
                "(counting data rows from 1); features must be finite numbers"
            )
        if self.categorical:
            keys, cells = np.unique(x, return_counts=True)
            self.counts = {
                _tag(int(k) if k.is_integer() else float(k)): int(c)
                for k, c in zip(keys, cells, strict=True)
            }
        self._add_number_stats(x, rng)

    def _add_number_stats(self, x: np.ndarray, rng) -> None:
        """count, mean, M2 and the median's sample of the finite numbers x."""
        self.count = len(x)
        if self.count:
            self.mean = float(np.mean(x))
            self.m2 = float(np.sum((x - self.mean) ** 2))
            if not math.isfinite(self.m2):
                raise DataError(
                    f"column {self.name!r} holds {np.max(np.abs(x)):.6g}: too large "
                    "to compute with, its squares overflow float64; scale the column "
                    "down first"
                )
        k = self.reservoir
        self.sample = x if len(x) <= k else rng.choice(x, k, replace=False)

    def _add_cells(self, values: np.ndarray, row0: int, rng) -> None:
        """Cells of an object column: missing, numbers (maybe as text), categories."""
        cells = cells_of(values)
        missing = cells.codes < 0
        self.n_missing = int(missing.sum())
        tally = np.bincount(cells.codes[~missing], minlength=len(cells.keys))
        counts: dict = {}
        # keys added in order of first appearance: 1 then 1.0 keeps the key 1
        for j in np.argsort(cells.first, kind="stable"):
            key, cells_j = cells.keys[j], int(tally[j])
            counts[key] = counts.get(key, 0) + cells_j
            self.n_bool += cells_j * (key[0] == 0)
            self.n_boxed += cells_j * (key[0] == 1)
        self.counts = counts
        text = ~missing & ~cells.number
        self.n_text = int(text.sum())
        if self.n_text:
            i = int(np.argmax(text))
            self.first_text = (row0 + i + 1, values[i])
        x = cells.x[cells.number]
        if np.isinf(x).any():
            raise DataError(
                f"column {self.name!r} holds {x[np.isinf(x)][0]}; "
                "features must be finite numbers"
            )
        self._add_number_stats(x, rng)

    # -- merging --------------------------------------------------------------------
    def merge_from(self, other: Column, rng) -> None:
        """This column as if it had also seen ``other``'s cells (coming after)."""
        if self.first_text is None and other.first_text is not None:
            self.first_text = (other.first_text[0], other.first_text[1])
        self.n_rows += other.n_rows
        self.n_missing += other.n_missing
        self.n_text += other.n_text
        self.n_bool += other.n_bool
        self.n_boxed += other.n_boxed
        for key, cells in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + cells
        n_a, n_b = self.count, other.count
        n = n_a + n_b
        if n_b:  # Chan et al.: exact merge of means and sums of squared deviations
            delta = other.mean - self.mean
            self.mean = self.mean + delta * n_b / n
            self.m2 = self.m2 + other.m2 + delta * delta * n_a * n_b / n
            self.sample = _merge_samples(
                self.sample, n_a, other.sample, n_b, rng, self.reservoir
            )
        self.count = n


def _merge_samples(a: np.ndarray, n_a: int, b: np.ndarray, n_b: int, rng, k: int):
    """A uniform sample of k of the n_a + n_b values from uniform samples of each
    part: all of them while they fit in k, else a hypergeometric share of each."""
    if n_a + n_b <= k:
        return np.concatenate([a, b])
    k_a = int(rng.hypergeometric(n_a, n_b, k))
    take_b = rng.choice(b, k - k_a, replace=False)
    if len(a) == k:  # a full reservoir and a chunk: k - k_a of a's values replaced
        # (those kept are a uniform k_a of a), cheaper than drawing the k_a kept
        out = a.copy()
        out[rng.choice(k, k - k_a, replace=False)] = take_b
        return out
    take_a = a if k_a == len(a) else rng.choice(a, k_a, replace=False)
    return np.concatenate([take_a, take_b])


# -- a column's cells, grouped by value --------------------------------------------------
@dataclass
class Cells:
    """A column's cells grouped by equal value and equal type, so that what a cell
    means (its category key, whether it is a number) is worked out once per group
    instead of once per cell.

    ``codes[i]`` is cell i's group, -1 for a missing cell; group j's first cell is
    row ``first[j]`` and its category key ``keys[j]`` (``_tag`` of that cell: two
    groups of different types may share a key, 1 and 1.0). ``number[i]`` says cell
    i is a number (maybe as text) and ``x[i]`` is then float(cell i), NaN elsewhere.
    """

    codes: np.ndarray  # (n,) int64
    first: np.ndarray  # (k,) int64
    keys: list  # (k,) category keys
    number: np.ndarray  # (n,) bool
    x: np.ndarray  # (n,) float64


#: Groups of cells of these types are found by hashing (pandas.factorize): within one
#: of them equal cells have one key, one float() and one is_number. Any other type
#: (or no pandas) takes the cell-by-cell path, which gives the same groups.
_TEXT, _BOOL, _INT, _FLOAT, _EMPTY = range(5)


def _kind(t: type) -> int | None:
    if t is str or t is np.str_:
        return _TEXT
    if t is bool or t is np.bool_:
        return _BOOL
    if t is int or issubclass(t, np.integer):
        return _INT
    if t is float or issubclass(t, np.floating):
        return _FLOAT
    if t is type(None) or t.__name__ in ("NAType", "NaTType"):
        return _EMPTY  # what is_missing calls empty, whatever the value
    return None


def cells_of(values: np.ndarray) -> Cells:
    """The cells of a 1-D column grouped by value (see ``Cells``)."""
    values = np.asarray(values)
    try:
        import pandas  # noqa: F401
    except ImportError:
        return _cells_one_by_one(values)
    kinds = {"U": _TEXT, "b": _BOOL, "i": _INT, "u": _INT, "f": _FLOAT}
    if values.dtype.kind in kinds:
        groups = [(kinds[values.dtype.kind], None)]
    elif values.dtype.kind == "O":
        types = np.fromiter(map(type, values), dtype=object, count=len(values))
        type_codes, distinct = _factorize(types)
        groups = [(_kind(t), type_codes == j) for j, t in enumerate(distinct)]
        if any(kind is None for kind, _ in groups):
            return _cells_one_by_one(values)
        if len(groups) == 1:
            groups = [(groups[0][0], None)]
    else:
        return _cells_one_by_one(values)
    n = len(values)
    cells = Cells(np.full(n, -1, np.int64), np.empty(0, np.int64), [],
                  np.zeros(n, bool), np.full(n, np.nan))  # fmt: skip
    for kind, mask in groups:
        rows = np.arange(n) if mask is None else np.flatnonzero(mask)
        _add_group(cells, kind, values if mask is None else values[rows], rows)
    return cells


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values): codes numbered in order of first appearance,
    -1 for NaN."""
    import pandas as pd

    return pd.factorize(values)


def _add_group(cells: Cells, kind: int, sub: np.ndarray, rows: np.ndarray) -> None:
    """Adds the cells ``sub`` (all of one type, at ``rows``) to ``cells``."""
    if kind == _EMPTY:
        return
    if kind == _FLOAT:
        f = sub.astype(np.float64)  # float(cell), cell by cell (0.0 and -0.0 kept)
        cells.number[rows] = ~np.isnan(f)
        cells.x[rows] = f
        codes, _ = _factorize(f)  # NaN: -1, missing
    else:
        codes, _ = _factorize(sub)
    # codes are numbered in order of first appearance: a code's first row is where it
    # exceeds every code before it
    seen = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
    first = np.flatnonzero(codes > seen)
    heads = [sub[i] for i in first]
    if kind == _INT:
        cells.number[rows] = True
        cells.x[rows] = sub.astype(np.float64)
    elif kind == _TEXT:  # "2.5" is a number: float() once per distinct text
        number = np.array([is_number(v) for v in heads] + [False])
        x = np.array([float(v) if is_number(v) else math.nan for v in heads] + [0.0])
        cells.number[rows] = number[codes]
        cells.x[rows] = np.where(number[codes], x[codes], np.nan)
    offset = len(cells.keys)
    cells.codes[rows] = np.where(codes >= 0, codes + offset, -1)
    cells.first = np.concatenate([cells.first, rows[first]])
    cells.keys += [_tag(v) for v in heads]


def _cells_one_by_one(values) -> Cells:
    """``Cells`` found cell by cell: for types not hashed safely, or without pandas."""
    n = len(values)
    cells = Cells(np.full(n, -1, np.int64), np.empty(0, np.int64), [],
                  np.zeros(n, bool), np.full(n, np.nan))  # fmt: skip
    groups: dict = {}
    first = []
    for i, value in enumerate(values):
        if is_missing(value):
            continue
        key = _tag(value)
        j = groups.setdefault((type(value), key), len(groups))
        if j == len(first):
            first.append(i)
            cells.keys.append(key)
        cells.codes[i] = j
        if is_number(value):
            cells.number[i] = True
            cells.x[i] = float(value)
    cells.first = np.array(first, dtype=np.int64)
    return cells


class ColumnStats:
    """Per-column statistics of the rows seen, in the order columns first appear.

    ``categorical`` names integer columns to treat as categories (their values are
    counted). The median is exact while a column has at most ``reservoir`` numbers
    (default ``RESERVOIR``), else it is the median of a uniform sample of that many,
    drawn from ``seed``.
    """

    def __init__(self, categorical=(), seed: int = 0, reservoir: int | None = None):
        reservoir = RESERVOIR if reservoir is None else reservoir
        if (
            isinstance(reservoir, bool)
            or not isinstance(reservoir, int)
            or reservoir < 1
        ):
            raise ValueError(f"reservoir must be an integer >= 1, got {reservoir!r}")
        self.reservoir = reservoir
        self.categorical = set(categorical)
        self.columns: dict[str, Column] = {}
        self.n_rows = 0
        self.rng = np.random.default_rng([seed, 7])

    def update(self, columns: dict) -> ColumnStats:
        """Adds one chunk of rows (name -> 1-D column, all of one length)."""
        columns = getattr(columns, "columns", columns)  # a Table or a dict
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise DataError(f"the columns of a chunk differ in length: {lengths}")
        for name, values in columns.items():
            if name not in self.columns:
                self._absent(name, self.n_rows)
            self.columns[name].add(values, self.n_rows, self.rng)
        n = lengths.pop() if lengths else 0
        for name in self.columns.keys() - columns.keys():
            self._absent(name, n)
        self.n_rows += n
        return self

    def _column(self, name: str) -> Column:
        return Column(name, name in self.categorical, reservoir=self.reservoir)

    def _absent(self, name: str, n: int) -> None:
        """``n`` rows without the column ``name``: all its cells missing."""
        if name not in self.columns:
            self.columns[name] = self._column(name)
        self.columns[name].n_rows += n
        self.columns[name].n_missing += n

    def merge(self, other: ColumnStats) -> ColumnStats:
        """These statistics as if they had also seen ``other``'s rows (after them)."""
        for name, column in other.columns.items():
            if name not in self.columns:
                self.columns[name] = self._column(name)
                self._absent(name, self.n_rows)
            shifted = column
            if column.first_text is not None:
                shifted = Column(**{**column.__dict__})
                shifted.first_text = (
                    column.first_text[0] + self.n_rows,
                    column.first_text[1],
                )
            self.columns[name].merge_from(shifted, self.rng)
        for name in self.columns.keys() - other.columns.keys():
            self._absent(name, other.n_rows)
        self.n_rows += other.n_rows
        return self
