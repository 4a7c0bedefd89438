"""The feature matrix X and the target column of a table, checked.

``select(table, target, features)`` gives X (n, d) as float64 and the target column,
with one clear error for each way a file can be unusable (a missing or misspelled
column, text in a feature column, an empty cell, too few rows). ``fingerprint``
names the selected data, so that a resumed run can check it trains on the same.
"""

from __future__ import annotations

import difflib
import hashlib

import numpy as np

from .errors import DataError
from .tables import Table


def is_numeric(values: np.ndarray) -> bool:
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
    if table.n_rows == 0:  # a header alone: no column is text, there is no data
        return np.empty((0, len(names)), dtype=np.float64)
    text = [(n, v) for n, v in zip(names, values, strict=True) if not is_numeric(v)]
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
    _check_no_overflow(table, names, X)
    return X


def _check_no_overflow(table: Table, names: list[str], X: np.ndarray) -> None:
    """A DataError for a column whose sum of squares overflows float64 (values
    near 1e154 and beyond, e.g. 1e307): its mean and standard deviation would be
    inf or NaN, which the file does not contain. Names the largest value's row."""
    with np.errstate(over="ignore", invalid="ignore"):
        sums = np.sum(X * X, axis=0) + np.abs(np.sum(X, axis=0))
    bad = np.flatnonzero(~np.isfinite(sums))
    if bad.size:
        j = int(bad[0])
        i = int(np.argmax(np.abs(X[:, j])))
        top = float(np.finfo(np.float32).max)
        also = (
            f", and the value itself overflows float32 (largest {top:.3g})"
            if abs(X[i, j]) > top
            else ""
        )
        raise DataError(
            f"{table.path}: column {names[j]!r} holds {X[i, j]:.6g} in row {i + 1} "
            "(counting data rows from 1): too large to compute with, its squares "
            f"overflow float64{also}; scale the column down first"
        )


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
    y = None if target is None else target_column(table, target)
    features = feature_names(table, target, features)
    return features_matrix(table, features), y, features


def feature_names(table: Table, target: str | None, features=None) -> list[str]:
    """The feature columns: ``features`` checked (not the target, none twice), or
    every column but the target."""
    if features is None:
        features = [name for name in table.names if name != target]
    elif target is not None and target in features:
        raise DataError(
            f"the target column {target!r} is also listed in --features; a model "
            "must not see the answer among its inputs"
        )
    repeated = sorted({f for f in features if features.count(f) > 1})
    if repeated:
        raise DataError(f"--features lists {repeated[0]!r} twice")
    if not features:
        raise DataError(f"{table.path} has no feature columns besides {target!r}")
    return list(features)


def select_columns(table: Table, target: str, features: list[str] | None = None):
    """(columns, y, feature_names): like ``select``, but the raw feature columns by
    name (text and empty cells allowed: the preprocessing record encodes and fills
    them); numeric columns are checked for infinities and overflowing squares."""
    y = target_column(table, target)
    features = feature_names(table, target, features)
    columns = {name: column(table, name, "feature column") for name in features}
    numeric = [name for name in features if columns[name].dtype.kind in "iuf"]
    if numeric and table.n_rows:
        X = np.column_stack([columns[name].astype(np.float64) for name in numeric])
        infinite = np.isinf(X)
        if infinite.any():
            i, j = np.argwhere(infinite)[0]
            raise DataError(
                f"{table.path}: column {numeric[j]!r} holds {X[i, j]} in row {i + 1} "
                "(counting data rows from 1); features must be finite numbers"
            )
        _check_no_overflow(table, numeric, np.nan_to_num(X, nan=0.0))
    return columns, y, list(features)


def fingerprint(X: np.ndarray, y: np.ndarray | None, features: list[str]) -> str:
    """SHA-256 of the feature names, X (float64) and y: the same data gives the
    same text, so a resumed run can check it trains on what it started with."""
    digest = hashlib.sha256()
    digest.update("\x00".join(features).encode())
    digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    if y is not None:
        digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()
