"""The grouped (vectorised) reading of object columns gives exactly what reading
them cell by cell gives: the same record JSON, the same transform output bit for
bit, the same reports and the same errors.

The cell-by-cell reference is kept here, as it was written before the grouping:
slow, but plainly right. Random tables mix text, booleans, ints, floats, None, NaN,
pandas NA, numbers held as text, numpy scalars and unknown categories.
"""

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from glassnet.data import column_stats, preprocessing
from glassnet.data.column_stats import (
    ColumnStats,
    _cells_one_by_one,
    _tag,
    cells_of,
    is_missing,
    is_number,
)
from glassnet.data.errors import DataError
from glassnet.data.preprocessing import Preprocessing, _numbers_as_text


# -- the reference: one cell at a time ------------------------------------------------
def reference_add_cells(self, values, row0, rng):
    counts: dict = {}
    numbers = []
    for i, value in enumerate(values):
        if is_missing(value):
            self.n_missing += 1
            continue
        key = _tag(value)
        counts[key] = counts.get(key, 0) + 1
        if key[0] == 0:
            self.n_bool += 1
        elif key[0] == 1:
            self.n_boxed += 1
        if not is_number(value):
            self.n_text += 1
            if self.first_text is None:
                self.first_text = (row0 + i + 1, value)
        else:
            numbers.append(float(value))
    self.counts = counts
    x = np.array(numbers, dtype=np.float64)
    if np.isinf(x).any():
        raise DataError(
            f"column {self.name!r} holds {x[np.isinf(x)][0]}; "
            "features must be finite numbers"
        )
    self._add_number_stats(x, rng)


def reference_numbers_of(values, name, where="DATA", training=True):
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        x = values.astype(np.float64)
    else:
        x = np.full(len(values), np.nan)
        for i, value in enumerate(values):
            if is_missing(value):
                continue
            if not is_number(value):
                raise _numbers_as_text(where, name, i + 1, value, training)
            x[i] = float(value)
    if np.isinf(x).any():
        i = int(np.argmax(np.isinf(x)))
        raise DataError(
            f"{where}: column {name!r} holds {x[i]} in row {i + 1} (counting data "
            "rows from 1); features must be finite numbers"
        )
    return x


def reference_check_numbers_as_text(columns, names, categorical=(), where="DATA"):
    for name in names:
        values = columns[name]
        if name in categorical or values.dtype.kind != "O":
            continue
        if any(isinstance(v, (int, float)) and not is_missing(v) for v in values):
            continue
        seen = text = 0
        first = None
        for i, value in enumerate(values):
            if is_missing(value):
                continue
            seen += 1
            if not is_number(value):
                text += 1
                first = (i + 1, value) if first is None else first
        if text and 2 * text <= seen:
            raise _numbers_as_text(where, name, *first)


def reference_categorical(spec, values, report):
    k = len(spec.categories)
    index = np.full(len(values), k, dtype=np.int64)
    unknown = missing = 0
    null = spec.index.get(None)
    for i, value in enumerate(values.tolist()):
        if is_missing(value):
            missing += 1
            if null is not None:
                index[i] = null
                continue
            unknown += 1
            continue
        at = spec.index.get(_tag(value))
        if at is None:
            unknown += 1
        else:
            index[i] = at
    if missing:
        report.missing[spec.name] = missing
    if unknown:
        report.unknown[spec.name] = unknown
    if spec.encoding == "embedding":
        return index[:, None].astype(np.float64)
    onehot = np.zeros((len(values), k + 1))
    onehot[np.arange(len(values)), index] = 1.0
    return onehot[:, :k]


# -- random tables ------------------------------------------------------------------------
MISSING = [None, np.nan, pd.NA, float("nan")]
POOLS = {
    "text": ["a", "b", "c", "Paris", "É", "", "a b"],
    "numbers as text": ["1.5", "2", "-0.0", "3e2", " 4 ", "2.0", "0.1"],
    "a few texts": ["?", "n/a"],
    "numbers": [
        1,
        1.0,
        2,
        -0.0,
        0.0,
        2.5,
        np.int64(2),
        np.float64(2.5),
        np.float32(0.5),
        2**60 + 1,
        float(2**60),
        np.int32(-3),
    ],  # fmt: skip
    "booleans": [True, False, np.True_, np.False_],
    "colliding": [True, 1, 1.0, False, 0, 0.0, -0.0, "1", "True"],
    "decimals": [Decimal("1.0"), Decimal("1.00"), Decimal("2"), "x"],
    "infinite": ["inf", "1", "2"],
}
RECIPES = [  # (pools and their weights, fraction of missing cells)
    ({"text": 1.0}, 0.1),
    ({"text": 0.6, "numbers as text": 0.4}, 0.2),
    ({"numbers as text": 0.95, "a few texts": 0.05}, 0.1),
    ({"numbers as text": 1.0}, 0.3),
    ({"numbers": 1.0}, 0.2),
    ({"booleans": 1.0}, 0.1),
    ({"colliding": 1.0}, 0.2),
    ({"text": 0.5, "numbers": 0.3, "booleans": 0.2}, 0.1),
    ({"decimals": 1.0}, 0.1),
    ({"infinite": 1.0}, 0.0),
]


def random_column(rng, n, recipe):
    pools, p_missing = recipe
    names = list(pools)
    weights = np.array([pools[k] for k in names])
    cells = np.empty(n, dtype=object)
    which = rng.choice(len(names), n, p=weights / weights.sum())
    for i in range(n):
        if rng.random() < p_missing:
            cells[i] = MISSING[rng.integers(len(MISSING))]
        else:
            pool = POOLS[names[which[i]]]
            cells[i] = pool[rng.integers(len(pool))]
    return cells


def random_table(seed, n):
    """Object columns from every recipe, plus typed numpy columns."""
    rng = np.random.default_rng(seed)
    table = {f"c{j}": random_column(rng, n, r) for j, r in enumerate(RECIPES)}
    floats = rng.normal(size=n).round(rng.integers(0, 3))
    floats[rng.random(n) < 0.2] = np.nan
    table["floats"] = floats
    table["ints"] = rng.integers(-3, 4, n)
    table["unicode"] = rng.choice(np.array(["a", "b", "3", "4.5"]), n)
    table["bools"] = rng.random(n) < 0.4
    return table


def other_rows(seed):
    """Rows to transform: unknown categories, and numbers as Python objects in a
    numeric column (each cell's own float, the sign of -0.0 too)."""
    rows = random_table(seed + 100, 37)
    rows["c0"][:5] = ["zzz", 99, True, None, np.str_("a")]
    pool = [-0.0, 0.0, 1, 2.5, np.float32(0.1), np.int64(3), None, np.nan]
    rows["floats"] = np.array([pool[i % 8] for i in range(37)], dtype=object)
    return rows


# -- comparing the two ---------------------------------------------------------------
def outcome(run):
    """What ``run()`` returns, or the error it raises, in a comparable form."""
    try:
        return ("ok", run())
    except DataError as error:
        return ("error", str(error))


def fitted(table, names, categorical):
    record = Preprocessing.fit(table, names, "regression", "y", categorical=categorical)
    return record, json.dumps(record.to_metadata())


def transformed(record, table):
    X, report = record.transform(table)
    filled, _ = record.transform(table, standardize=False)  # x~: -0.0 kept
    return X.tobytes(), filled.tobytes(), X.shape, report.missing, report.unknown


def stats_of(table, categorical):
    stats = ColumnStats(categorical, seed=3)
    for part in range(3):  # three chunks, so the merge is compared too
        stats.update({k: v[part::3] for k, v in table.items()})
    return {
        name: {**column.__dict__, "sample": column.sample.tobytes()}
        for name, column in stats.columns.items()
    }


def everything(table, new_rows, categorical):
    """Statistics, records, transforms and errors, column by column and together."""
    out = {"stats": outcome(lambda: repr(stats_of(table, categorical)))}
    groups = [[name] for name in table] + [list(table)]
    for names in groups:
        fit = outcome(lambda names=names: fitted(table, names, categorical))
        out[f"fit {names}"] = fit if fit[0] == "error" else fit[1][1]
        out[f"check {names}"] = outcome(
            lambda names=names: preprocessing.check_numbers_as_text(
                table, names, categorical
            )
        )
        if fit[0] == "ok":
            for rows in (table, new_rows):
                key = f"transform {names} {id(rows) == id(table)}"
                out[key] = outcome(
                    lambda rows=rows, record=fit[1][0]: transformed(record, rows)
                )
    return out


def reference(monkeypatch, run):
    with monkeypatch.context() as patch:
        patch.setattr(column_stats.Column, "_add_cells", reference_add_cells)
        patch.setattr(preprocessing, "numbers_of", reference_numbers_of)
        patch.setattr(preprocessing, "_categorical", reference_categorical)
        patch.setattr(
            preprocessing, "check_numbers_as_text", reference_check_numbers_as_text
        )
        return run()


@pytest.mark.parametrize("seed", range(6))
def test_grouped_reading_equals_cell_by_cell(monkeypatch, seed):
    n = 60 + 40 * seed
    table = random_table(seed, n)
    new_rows = other_rows(seed)
    categorical = ["ints"] if seed % 2 else []

    expected = reference(monkeypatch, lambda: everything(table, new_rows, categorical))
    got = everything(table, new_rows, categorical)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key
    # the tables exercise what they are meant to: records fitted and errors raised
    kinds = [value[0] for value in expected.values() if isinstance(value, tuple)]
    assert "error" in kinds and "ok" in kinds
    assert sum(isinstance(v, str) for v in expected.values()) >= 8  # records fitted


@pytest.mark.parametrize("seed", range(3))
def test_the_cell_by_cell_path_groups_alike(monkeypatch, seed):
    """Without pandas (or for other types) cells are grouped one by one: the same
    records and transforms."""
    table = random_table(seed, 80)
    new_rows = random_table(seed + 50, 30)
    expected = everything(table, new_rows, [])
    monkeypatch.setattr(column_stats, "cells_of", _cells_one_by_one)
    monkeypatch.setattr(preprocessing, "cells_of", _cells_one_by_one)
    assert everything(table, new_rows, []) == expected


def test_cells_keep_each_cells_own_type_and_sign():
    """1, 1.0 and True are equal to Python (and to hashing) but are not one cell:
    True stays a boolean; -0.0 stays negative where it is a number."""
    values = np.array([1.0, True, 1, -0.0, 0.0, None, "1", np.nan], dtype=object)
    cells = cells_of(values)
    assert cells.codes[5] == cells.codes[7] == -1
    keys = [cells.keys[c] for c in cells.codes[:5]]
    assert keys == [(1, 1.0), (0, True), (1, 1), (1, -0.0), (1, 0.0)]
    assert [type(k[1]) for k in keys[:3]] == [float, bool, int]
    assert cells.number.tolist() == [True, False, True, True, True, False, True, False]
    assert np.signbit(cells.x[3]) and not np.signbit(cells.x[4])
    assert cells.x[6] == 1.0
    # a group per type: the first cell of each, in the order of its type's first
    assert values[cells.first].tolist() == [1.0, -0.0, True, 1, "1"]
    assert [type(v) for v in values[cells.first]] == [float, float, bool, int, str]


def test_a_smaller_reservoir_is_exact_up_to_its_size():
    x = np.random.default_rng(4).normal(size=1001)
    stats = ColumnStats(reservoir=1001).update({"x": x})
    assert stats.columns["x"].median() == np.median(x)
    small = ColumnStats(reservoir=100).update({"x": x})
    assert small.columns["x"].sample.size == 100
    assert np.isin(small.columns["x"].sample, x).all()
    with pytest.raises(ValueError, match="reservoir must be an integer >= 1"):
        ColumnStats(reservoir=0)


def test_the_reservoir_beyond_its_size_is_a_uniform_sample_of_every_chunk():
    """Streamed in 13 chunks into a reservoir of 40, each of the 200 values is kept
    with probability 40/200 = 0.2 wherever it comes: counted over 300 seeds, the
    mean of each eighth of the values is 0.2 (sd 0.0046) and the first and last
    chunks are not favoured."""
    n, k, runs = 200, 40, 300
    hits = np.zeros(n)
    for seed in range(runs):
        stats = ColumnStats(seed=seed, reservoir=k)
        for part in np.array_split(np.arange(n, dtype=np.float64), 13):
            stats.update({"x": part})
        sample = stats.columns["x"].sample
        assert sample.size == k and np.unique(sample).size == k
        hits[sample.astype(int)] += 1
    kept = hits / runs
    assert np.all(np.abs([part.mean() - 0.2 for part in np.split(kept, 8)]) < 0.02)
