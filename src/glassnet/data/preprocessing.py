"""The preprocessing record a model trained on a data file keeps, to read new rows.

A record lists the raw columns the model reads, by name, in order. Each gives one or
more network inputs, concatenated in the order of the columns:

- a numeric column (``NumericColumn``): a missing cell is filled with the training
  median, x~ = fill when x is missing; then z = (x~ - mean) / scale, with mean and
  scale (population std, 1 where it is 0) of the filled training values; and, when
  the training rows had missing cells, an indicator input m = 1 if x was missing.
- a categorical column (``CategoricalColumn``): one-hot, e_k for the row's category
  k (all zeros for a value not seen in training: the unknown slot), or, for more
  than ``ONEHOT_MAX`` categories, one input holding the category's index for the
  network's ``Embedding`` first layer (len(categories) for an unknown value).
  Missing cells in training make "missing" a category of its own (None, last).

It is stored as JSON, the ``"preprocessing"`` entry (``METADATA_KEY``) of the model
file's metadata, so that predict, evaluate, attack and export apply the same steps.
Records of version 1 (numeric columns, no missing cells) still load and work: a
missing cell is refused in their input, as it was when they were written.

Examples
--------
>>> import numpy as np
>>> columns = {"x": np.array([1.0, np.nan, 3.0, 5.0]),
...            "c": np.array(["a", "b", "a", "b"], dtype=object)}
>>> record = Preprocessing.fit(columns, ["x", "c"], "regression", "y")
>>> record.features
['x', 'x (missing)', 'c=a', 'c=b']
>>> X, report = record.transform({"x": np.array([np.nan]),
...                               "c": np.array(["z"], dtype=object)})
>>> X.tolist(), report.missing, report.unknown
([[0.0, 1.0, 0.0, 0.0]], {'x': 1}, {'c': 1})
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .column_stats import ColumnStats, _tag, cells_of, is_missing
from .errors import DataError

#: The key of the preprocessing record in a model file's metadata.
METADATA_KEY = "preprocessing"
RECORD_VERSION = 2
#: A categorical column with more categories than this is embedded, not one-hot.
ONEHOT_MAX = 16
#: How a numeric column's fill was chosen (the record's optional "strategy", "median"
#: when absent): glassnet train takes the median; a scikit-learn SimpleImputer saved
#: by ``glassnet.sklearn.save`` keeps its own; "none": the pipeline had no imputer
#: (it refuses empty cells), fill is the mean, z = 0.
FILL_STRATEGIES = {
    "median": "median",
    "mean": "mean",
    "most_frequent": "most frequent value",
    "constant": "constant",
    "none": "no imputer: the mean, z = 0",
}


def embedding_dim(k: int) -> int:
    """Width of the learned row of a column with k categories: min(16, (k + 1) // 2)
    (half the categories, at most 16: a rule of thumb in fastai's spirit)."""
    return min(16, (k + 1) // 2)


@dataclass(frozen=True)
class NumericColumn:
    """z = (x~ - mean) / scale with x~ = fill where x is missing, then the indicator
    m = [x missing] when ``indicator``."""

    name: str
    fill: float
    indicator: bool
    mean: float
    scale: float
    strategy: str = "median"  # how fill was chosen: a key of FILL_STRATEGIES
    kind: ClassVar[str] = "numeric"

    @property
    def features(self) -> list[str]:
        return [self.name] + [f"{self.name} (missing)"] * self.indicator

    def to_json(self) -> dict:
        out = {"name": self.name, "kind": "numeric", "fill": float(self.fill),
               "indicator": self.indicator, "mean": float(self.mean),
               "scale": float(self.scale)}  # fmt: skip
        if self.strategy != "median":  # absent means median: older records read alike
            out["strategy"] = self.strategy
        return out


@dataclass(frozen=True)
class CategoricalColumn:
    """One-hot e_k, or the index k for an embedding, of the row's category k
    (``categories[k]``; None is the "missing" category)."""

    name: str
    categories: tuple
    encoding: str  # "onehot" or "embedding"
    missing: bool
    dim: int | None = None
    kind: ClassVar[str] = "categorical"
    index: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "categories", tuple(self.categories))
        keys = {_key(c): k for k, c in enumerate(self.categories)}
        # text naming a boolean or number category ("True", "3": typed on a command
        # line, or a CSV read as text) finds it too, unless a text category says so
        for k, c in enumerate(self.categories):
            if c is not None and not isinstance(c, str):
                keys.setdefault((2, str(c)), k)
        object.__setattr__(self, "index", keys)

    @property
    def features(self) -> list[str]:
        if self.encoding == "embedding":
            return [self.name]
        return [f"{self.name}={_shown(c)}" for c in self.categories]

    @property
    def width(self) -> int:
        return 1 if self.encoding == "embedding" else len(self.categories)

    def to_json(self) -> dict:
        out = {"name": self.name, "kind": "categorical",
               "categories": list(self.categories), "encoding": self.encoding,
               "missing": self.missing}  # fmt: skip
        if self.encoding == "embedding":
            out["dim"] = self.dim
        return out


ColumnSpec = NumericColumn | CategoricalColumn


def _key(value):
    return None if value is None or is_missing(value) else _tag(value)


def _shown(category) -> str:
    return "(missing)" if category is None else str(category)


@dataclass
class TransformReport:
    """What ``transform`` met: per column, the cells that were missing (numeric:
    filled with the median) and those holding a category not seen in training
    (the unknown slot; a missing cell of a column without a "missing" category
    counts here too)."""

    n_rows: int = 0
    missing: dict = field(default_factory=dict)
    unknown: dict = field(default_factory=dict)

    def warnings(self) -> list[str]:
        """At most two lines: the unknown categories, then the empty cells, each
        counted per column."""
        return [line for line in (self.unknown_line(), self.filled_line()) if line]

    def unknown_line(self) -> str | None:
        """The categories not seen in training, counted per column: information the
        model did not have (a warning)."""
        if not self.unknown:
            return None
        counts = ", ".join(
            f"column {name!r}: {count} row{'s' * (count != 1)}"
            for name, count in self.unknown.items()
        )
        return (
            f"{counts} of {self.n_rows} hold categories not seen in training "
            "(encoded as the unknown category, which adds nothing)"
        )

    def filled_line(self) -> str | None:
        """The empty cells filled, counted per column: done as in training (a note)."""
        if not self.missing:
            return None
        counts = ", ".join(
            f"column {name!r} {count} row{'s' * (count != 1)}"
            for name, count in self.missing.items()
        )
        return (
            f"empty cells filled as in training: {counts} (of {self.n_rows}; a "
            "numeric column takes its fill (the training median, unless the "
            "model says otherwise: glassnet info), a categorical one its "
            "missing category, or the unknown one if training had no empty cell)"
        )


@dataclass
class Preprocessing:
    """What a model trained on a data file needs to read new rows of that file.

    ``columns`` are the raw columns read, in order; ``classes[i]`` is the label of
    output class i (None for regression). ``version`` 1 marks a record read from an
    old model file: its input may have no missing cell.
    """

    columns: list
    task: str  # "classification" or "regression"
    target: str | None = None
    classes: list | None = None
    n_train: int = 0
    version: int = RECORD_VERSION

    # -- what the network sees -----------------------------------------------------
    @property
    def features(self) -> list[str]:
        """Names of the network's inputs, in order."""
        return [f for column in self.columns for f in column.features]

    @property
    def n_inputs(self) -> int:
        return len(self.features)

    @property
    def names(self) -> list[str]:
        """Names of the raw columns read."""
        return [column.name for column in self.columns]

    @property
    def mean(self) -> np.ndarray:
        """Per network input, the mean subtracted (0 for indicator, one-hot and
        index inputs, which are not standardised)  (n_inputs,)."""
        return self._per_input("mean", 0.0)

    @property
    def scale(self) -> np.ndarray:
        """Per network input, the scale divided by (1 where not standardised)."""
        return self._per_input("scale", 1.0)

    def _per_input(self, what: str, other: float) -> np.ndarray:
        values = []
        for column in self.columns:
            if column.kind == "numeric":
                values += [getattr(column, what)] + [other] * column.indicator
            else:
                values += [other] * column.width
        return np.array(values, dtype=np.float64)

    @property
    def embedded(self) -> list[tuple[int, CategoricalColumn]]:
        """(input index, column) of each embedded column, in order."""
        out, at = [], 0
        for column in self.columns:
            if column.kind == "categorical" and column.encoding == "embedding":
                out.append((at, column))
            at += len(column.features)
        return out

    # -- fitting -------------------------------------------------------------------
    @classmethod
    def fit(cls, table_or_columns, names, task, target=None, classes=None,
            categorical=(), onehot_max=ONEHOT_MAX) -> Preprocessing:  # fmt: skip
        """The record fitted on the training rows: a dict name -> column (or a
        Table), or a 2-D array whose columns are ``names``."""
        columns = _as_columns(table_or_columns, names)
        absent = [name for name in names if name not in columns]
        if absent:
            raise DataError(f"no column {absent[0]!r} among the training rows")
        stats = ColumnStats(categorical).update({n: columns[n] for n in names})
        return cls.from_stats(stats, names, task, target, classes, onehot_max)

    @classmethod
    def from_stats(cls, stats: ColumnStats, names, task, target=None, classes=None,
                   onehot_max=ONEHOT_MAX) -> Preprocessing:  # fmt: skip
        """The record from statistics gathered over the training rows."""
        specs = []
        for name in names:
            if name not in stats.columns:
                raise DataError(f"no column {name!r} among the training rows")
            specs.append(_fit_column(stats.columns[name], onehot_max))
        classes = None if classes is None else list(classes)
        return cls(specs, task, target, classes, stats.n_rows)

    # -- applying ------------------------------------------------------------------
    def transform(self, columns, where: str = "DATA", standardize: bool = True):
        """(X float64 (n, n_inputs), TransformReport) for the raw columns: a dict
        name -> column, a Table (columns found by name), or a 2-D array whose
        columns are the record's columns in order. ``standardize`` False leaves
        the numeric inputs filled but not standardised (x~, not z)."""
        columns = _as_columns(columns, self.names)
        absent = [name for name in self.names if name not in columns]
        if absent:
            raise DataError(
                f"{where} has no column {absent[0]!r}, which the model reads "
                f"({len(absent)} of its {len(self.names)} columns missing)"
            )
        n = len(columns[self.names[0]]) if self.names else 0
        report = TransformReport(n)
        parts = []
        for spec in self.columns:
            values = np.asarray(columns[spec.name])
            if spec.kind == "numeric":
                z = self._numeric(spec, values, report, where, standardize)
                parts.append(z)
            else:
                parts.append(_categorical(spec, values, report))
        X = np.concatenate(parts, axis=1) if parts else np.empty((n, 0))
        return X, report

    def _numeric(self, spec, values, report, where, standardize) -> np.ndarray:
        x = numbers_of(values, spec.name, where, training=False)
        missing = np.isnan(x)
        if missing.any():
            if self.version == 1:
                i = int(np.argmax(missing))
                raise DataError(
                    f"{where}: row {i + 1} (counting data rows from 1) has an empty "
                    f"or NaN value in column {spec.name!r} ({int(missing.sum())} such "
                    "cells in that column); this model (an older model file) cannot "
                    "fill them: fill (pandas fillna) or drop (dropna) them first"
                )
            report.missing[spec.name] = int(missing.sum())
            x = np.where(missing, spec.fill, x)  # x~ = fill where x is missing
        z = (
            (x - spec.mean) / spec.scale if standardize else x
        )  # z = (x~ - mean) / scale
        if spec.indicator:
            return np.stack([z, missing.astype(np.float64)], axis=1)
        return z[:, None]

    # -- the JSON record ------------------------------------------------------------
    def to_metadata(self) -> dict:
        """The record as JSON values (floats round-trip exactly)."""
        if self.version == 1:
            return {
                "version": 1,
                "features": self.features,
                "mean": [float(c.mean) for c in self.columns],
                "scale": [float(c.scale) for c in self.columns],
                "task": self.task,
                "target": self.target,
                "classes": self.classes,
                "n_train": self.n_train,
            }
        return {
            "version": RECORD_VERSION,
            "task": self.task,
            "target": self.target,
            "classes": self.classes,
            "n_train": self.n_train,
            "columns": [column.to_json() for column in self.columns],
            "features": self.features,
        }

    @classmethod
    def from_metadata(cls, metadata: dict, net=None) -> Preprocessing | None:
        """The record in a model file's metadata (None if it has none), checked
        against ``net``: a malformed record raises DataError naming the field."""
        record = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        if record is None:
            return None
        return read_record(cls, record, net)

    @property
    def plain(self) -> bool:
        """Numeric columns only, none with an indicator: the network's inputs are
        the raw columns standardised, nothing else."""
        return all(c.kind == "numeric" and not c.indicator for c in self.columns)

    def describe(self) -> list[str]:
        """Lines saying what each column becomes (for glassnet info)."""
        lines = []
        for c in self.columns:
            if c.kind == "numeric":
                fill = (
                    "missing -> refused (version 1 record)"
                    if self.version == 1
                    else f"missing -> {c.fill:.6g} ({FILL_STRATEGIES[c.strategy]})"
                    + (" + indicator input" if c.indicator else "")
                )
                lines.append(
                    f"{c.name}: numeric, z = (x - {c.mean:.6g}) / {c.scale:.6g}; {fill}"
                )
                continue
            shown = ", ".join(_shown(v) for v in c.categories[:8])
            more = ", ..." if len(c.categories) > 8 else ""
            how = (
                f"embedding index -> {c.dim} learned numbers"
                if c.encoding == "embedding"
                else "one-hot"
            )
            lines.append(
                f"{c.name}: categorical, {len(c.categories)} categories ({shown}{more}), "
                f"{how}; missing -> "
                + ("its own category" if c.missing else "unknown (all zeros)")
            )
        return lines


def _as_columns(data, names) -> dict:
    """A dict name -> 1-D column from a dict, a Table, or a 2-D array."""
    data = getattr(data, "columns", data)
    if isinstance(data, dict):
        return data
    X = np.asarray(data)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise DataError(
            f"expected a dict of columns or a 2-D array with {len(names)} columns "
            f"({', '.join(names[:6])}), got an array of shape {X.shape}"
        )
    return {name: X[:, j] for j, name in enumerate(names)}


def numbers_of(
    values: np.ndarray, name: str, where: str = "DATA", training: bool = True
) -> np.ndarray:
    """A numeric column's cells as float64 (NaN where empty); text in it raises a
    DataError naming the first cell that is not a number."""
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        x = values.astype(np.float64)
    else:
        cells = cells_of(values)
        text = (cells.codes >= 0) & ~cells.number
        if text.any():
            i = int(np.argmax(text))
            raise _numbers_as_text(where, name, i + 1, values[i], training)
        x = cells.x  # float(cell), NaN where empty
    if np.isinf(x).any():
        i = int(np.argmax(np.isinf(x)))
        raise DataError(
            f"{where}: column {name!r} holds {x[i]} in row {i + 1} (counting data "
            "rows from 1); features must be finite numbers"
        )
    return x


def check_numbers_as_text(columns: dict, names, categorical=(), where="DATA"):
    """A DataError for a text column that mostly holds numbers (as "?" for a missing
    value makes pandas read it): ``fit`` would refuse it too, but only this sees the
    file's row numbers."""
    for name in names:
        values = columns[name]
        if name in categorical or values.dtype.kind != "O":
            continue
        cells = cells_of(values)
        # a group's cells share their type: its first cell speaks for all
        if any(isinstance(values[i], (int, float)) for i in cells.first):
            continue  # numbers as objects: a categorical column (fit decides)
        present = cells.codes >= 0
        text = present & ~cells.number
        n_text = int(text.sum())
        if n_text and 2 * n_text <= int(present.sum()):
            i = int(np.argmax(text))
            raise _numbers_as_text(where, name, i + 1, values[i])


def _numbers_as_text(where, name, row, value, training=True) -> DataError:
    what = "holds numbers" if training else "held numbers in training"
    return DataError(
        f"{where}: column {name!r} {what}, but row {row} (counting data rows "
        f"from 1) holds {value!r}, which is not a number; convert the column to "
        "numbers: mark such cells as missing when reading (pandas "
        f"read_csv(..., na_values=[{str(value)!r}])) or fix the cell"
    )


def _categorical(spec: CategoricalColumn, values, report) -> np.ndarray:
    """One-hot rows (n, k), or the index column (n, 1) for an embedding."""
    k = len(spec.categories)
    if values.dtype.kind not in "OUbiuf":  # the cells as Python values (datetimes)
        values = np.fromiter(values.tolist(), dtype=object, count=len(values))
    cells = cells_of(values)
    # each distinct value looked up once; k: the unknown slot, also that of a missing
    # cell (code -1, the last entry) when training had none
    at = np.array([spec.index.get(key, k) for key in cells.keys] + [k], np.int64)
    index = at[cells.codes]  # (n,)
    empty = cells.codes < 0
    missing = int(empty.sum())
    null = spec.index.get(None)
    if null is not None:
        index[empty] = null
    unknown = int((index == k).sum())
    if missing:
        report.missing[spec.name] = missing
    if unknown:
        report.unknown[spec.name] = unknown
    if spec.encoding == "embedding":
        return index[:, None].astype(np.float64)
    onehot = np.zeros((len(values), k + 1))
    onehot[np.arange(len(values)), index] = 1.0
    return onehot[:, :k]  # the unknown slot's column dropped: it contributes nothing


def _fit_column(stats, onehot_max: int) -> ColumnSpec:
    """The column's spec from its training statistics."""
    name = stats.name
    seen = stats.n_rows - stats.n_missing
    if seen == 0:
        raise DataError(
            f"column {name!r} is empty in every training row: nothing to learn from "
            "it; leave it out with --features"
        )
    text = stats.n_text
    # named, mostly text, booleans, or numbers as objects (a pandas categorical column)
    categorical = (
        stats.categorical or (text and 2 * text > seen) or stats.n_bool or stats.n_boxed
    )
    if not categorical and text:
        row, value = stats.first_text
        raise _numbers_as_text("the training rows", name, row, value)
    if not categorical:
        mean = stats.mean
        fill = stats.median()
        n_missing = stats.n_missing
        if n_missing:  # the fitted statistics are of the filled values
            n = stats.count + n_missing
            delta = fill - mean
            m2 = stats.m2 + delta * delta * stats.count * n_missing / n
            mean = mean + delta * n_missing / n
            variance = m2 / n
        else:
            variance = stats.variance
        std = math.sqrt(variance)
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise DataError(
                f"column {name!r}: its values are too large to compute with (their "
                "squares overflow float64); scale the column down first"
            )
        return NumericColumn(name, fill, bool(n_missing), mean, std if std > 0 else 1.0)
    categories = list(stats.category_counts())
    if stats.n_missing:
        categories.append(None)
    k = len(categories)
    if k <= onehot_max:
        return CategoricalColumn(name, categories, "onehot", bool(stats.n_missing))
    return CategoricalColumn(
        name, categories, "embedding", bool(stats.n_missing), embedding_dim(k)
    )


# -- reading a record back, checked field by field ---------------------------------------
def read_record(cls, record, net=None) -> Preprocessing:
    """The ``Preprocessing`` a JSON record describes, or a DataError naming the field."""

    def bad(what: str):
        raise DataError(f"the model file's preprocessing record is invalid: {what}")

    if not isinstance(record, dict) or record.get("version") not in (1, 2):
        bad("expected an object with version 1 or 2")
    task = record.get("task")
    if task not in ("classification", "regression"):
        bad(f"'task' must be 'classification' or 'regression', got {task!r}")
    classes = record.get("classes")
    if task == "classification" and (not isinstance(classes, list) or not classes):
        bad("a classifier's record needs its list of 'classes'")
    if isinstance(classes, list):
        _check_classes(classes, bad)
    target = record.get("target")
    if target is not None and not isinstance(target, str):
        bad("'target' must be a column name")
    if target is not None:
        _check_names([target], "'target'", bad)
    n_train = record.get("n_train", 0)
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 0:
        bad("'n_train' must be a non-negative integer")
    if record["version"] == 1:
        columns = _v1_columns(record, bad)
    else:
        columns = _v2_columns(record, bad)
    out = cls(
        columns,
        task,
        target,
        None if task == "regression" else list(classes),
        n_train,
        record["version"],
    )
    if record["version"] == 2 and record.get("features") != out.features:
        bad(
            f"'features' must be the inputs its columns give, {out.features[:6]}"
            f"{' ...' if out.n_inputs > 6 else ''}, got {record.get('features')!r:.200}"
        )
    if net is not None:
        _check_against(out, net, bad)
    return out


def _finite(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _v1_columns(record: dict, bad) -> list:
    """A version-1 record's features as numeric columns without missing cells."""
    features, mean, scale = (
        record.get("features"),
        record.get("mean"),
        record.get("scale"),
    )
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        bad("'features' must be a list of column names")
    _check_names(features, "'features'", bad)
    d = len(features)
    for key, values in (("mean", mean), ("scale", scale)):
        if (
            not isinstance(values, list)
            or len(values) != d
            or not all(_finite(v) for v in values)
        ):
            bad(f"{key!r} must be {d} finite numbers, one per feature")
    if any(v <= 0 for v in scale):
        bad("'scale' must be positive")
    return [
        NumericColumn(f, float(m), False, float(m), float(s))
        for f, m, s in zip(features, mean, scale, strict=True)
    ]


def _v2_columns(record: dict, bad) -> list:
    columns = record.get("columns")
    if not isinstance(columns, list):
        bad("'columns' must be a list of column objects")
    names = []
    out = []
    for i, column in enumerate(columns):
        if not isinstance(column, dict):
            bad(f"'columns' entry {i} must be an object")
        name = column.get("name")
        if not isinstance(name, str):
            bad(f"'columns' entry {i}: 'name' must be a string")
        names.append(name)
        where = f"column {name!r}"
        kind = column.get("kind")
        if kind == "numeric":
            for key in ("fill", "mean", "scale"):
                if not _finite(column.get(key)):
                    bad(f"{where}: {key!r} must be a finite number")
            if column["scale"] <= 0:
                bad(f"{where}: 'scale' must be positive")
            if not isinstance(column.get("indicator"), bool):
                bad(f"{where}: 'indicator' must be true or false")
            strategy = column.get("strategy", "median")
            if not isinstance(strategy, str) or strategy not in FILL_STRATEGIES:
                bad(f"{where}: 'strategy' must be one of {sorted(FILL_STRATEGIES)}, "
                    f"got {strategy!r:.60}")  # fmt: skip
            out.append(
                NumericColumn(name, float(column["fill"]), column["indicator"],
                              float(column["mean"]), float(column["scale"]), strategy)
            )  # fmt: skip
        elif kind == "categorical":
            out.append(_categorical_column(column, where, bad))
        else:
            bad(f"{where}: 'kind' must be 'numeric' or 'categorical', got {kind!r}")
    _check_names(names, "'columns'", bad)
    return out


def _categorical_column(column: dict, where: str, bad) -> CategoricalColumn:
    categories = column.get("categories")
    if not isinstance(categories, list) or not categories:
        bad(f"{where}: 'categories' must be a non-empty list")
    missing = column.get("missing")
    if not isinstance(missing, bool):
        bad(f"{where}: 'missing' must be true or false")
    keys = set()
    for j, value in enumerate(categories):
        last = j == len(categories) - 1
        if value is None:
            if not (missing and last):
                bad(f"{where}: null is a category only last, when 'missing' is true")
            continue
        if not isinstance(value, (str, int, float)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            bad(f"{where}: 'categories' entry {j} must be a string, number or boolean")
        if isinstance(value, str) and _control(value):
            bad(f"{where}: 'categories' entry {j} {value!r} holds control characters")
        key = _tag(value)
        if key in keys:
            bad(f"{where}: 'categories' lists {value!r} twice")
        keys.add(key)
    if missing and categories[-1] is not None:
        bad(f"{where}: 'missing' is true but the last category is not null")
    known = [_tag(v) for v in categories if v is not None]
    if known != sorted(known):
        bad(f"{where}: 'categories' must be sorted")
    encoding = column.get("encoding")
    if encoding == "onehot":
        return CategoricalColumn(column["name"], categories, "onehot", missing)
    if encoding != "embedding":
        bad(f"{where}: 'encoding' must be 'onehot' or 'embedding', got {encoding!r}")
    dim = column.get("dim")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        bad(f"{where}: 'dim' must be a positive integer")
    return CategoricalColumn(column["name"], categories, "embedding", missing, dim)


def _check_against(record: Preprocessing, net, bad) -> None:
    """The record's inputs and classes against the network's."""
    layer = net.layers[0] if getattr(net, "layers", None) else None
    embedded = record.embedded
    if embedded:
        index = [at for at, _ in embedded]
        if (
            type(layer).__name__ != "Embedding"
            or list(getattr(layer, "index_columns", [])) != index
        ):
            bad(
                f"its columns {[c.name for _, c in embedded]} are embedded (inputs "
                f"{index}) but the network's first layer is not an Embedding of "
                "those inputs"
            )
        sizes = [len(c.categories) for _, c in embedded]
        if list(getattr(layer, "n_categories", [])) != sizes:
            bad(f"its embedded columns have {sizes} categories, the network's "
                f"Embedding {list(layer.n_categories)}")  # fmt: skip
    d = record.n_inputs
    if d != net.in_features:
        bad(f"it lists {d} features but the network takes {net.in_features}")
    if record.task == "classification":
        k = net.out_features
        if len(record.classes) != (2 if k == 1 else k):
            bad(
                f"it lists {len(record.classes)} classes but the network has {k} "
                f"output{'s' * (k > 1)}"
            )


def _control(text: str) -> bool:
    """True when ``text`` holds a control character (an ANSI escape begins with one):
    printed, it would rewrite the terminal instead of showing a name."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def _check_names(names: list[str], what: str, bad) -> None:
    for i, name in enumerate(names):
        if _control(name):
            bad(f"{what} entry {i} {name!r} holds control characters")
        if name in names[:i]:
            bad(f"{what} lists {name!r} twice")


def _check_classes(classes: list, bad) -> None:
    """Labels must be distinct numbers or strings (JSON lists and objects are not
    labels: they cannot be told apart by hashing)."""
    seen = set()
    for i, label in enumerate(classes):
        if label is not None and not isinstance(label, (str, int, float)):
            bad(f"'classes' entry {i} is a {type(label).__name__}, not a label")
        if isinstance(label, str) and _control(label):
            bad(f"'classes' entry {i} {label!r} holds control characters")
        key = (type(label) is str, label)
        if key in seen:
            bad(f"'classes' lists {label!r} twice")
        seen.add(key)
