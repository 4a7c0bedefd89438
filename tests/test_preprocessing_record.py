"""The version-2 preprocessing record: fitting (in one pass and over chunks), the
numbers transform computes (checked by hand), the JSON round trip, validation, and
version-1 records still loading."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

import glassnet as gn
from glassnet.data.column_stats import ColumnStats
from glassnet.data.errors import DataError
from glassnet.data.preprocessing import (
    CategoricalColumn,
    NumericColumn,
    Preprocessing,
    embedding_dim,
)

NAN = float("nan")


def _columns():
    return {
        "x": np.array([1.0, NAN, 4.0, 10.0, NAN, 2.0]),
        "n": np.array([5, 6, 7, 8, 9, 10]),
        "city": np.array(["Paris", "Oslo", None, "Paris", "Oslo", "Rome"], object),
        "flag": np.array([True, False, True, True, False, False]),
    }


def test_numeric_column_fill_indicator_and_standardisation_by_hand():
    record = Preprocessing.fit(_columns(), ["x", "n"], "regression", "t")
    x, n = record.columns
    seen = [1.0, 4.0, 10.0, 2.0]
    median = statistics.median(seen)  # 3.0
    filled = seen + [median, median]
    mean = sum(filled) / 6
    std = (sum((v - mean) ** 2 for v in filled) / 6) ** 0.5  # population std
    assert x == NumericColumn(
        "x", median, True, pytest.approx(mean), pytest.approx(std)
    )
    assert x.fill == 3.0 and x.mean == pytest.approx(mean, rel=1e-15)
    assert n.indicator is False and n.mean == 7.5
    assert record.features == ["x", "x (missing)", "n"]
    X, report = record.transform(
        {"x": np.array([NAN, 7.0]), "n": np.array([5, 10]), "extra": np.zeros(2)}
    )
    expected = [
        [(median - mean) / std, 1.0, (5 - 7.5) / n.scale],
        [(7.0 - mean) / std, 0.0, (10 - 7.5) / n.scale],
    ]
    np.testing.assert_allclose(X, expected, rtol=1e-14)
    assert report.missing == {"x": 1} and report.unknown == {}


def test_onehot_with_missing_category_and_unknown_slot_counted():
    record = Preprocessing.fit(_columns(), ["city", "flag"], "regression")
    city, flag = record.columns
    assert city == CategoricalColumn("city", ("Oslo", "Paris", "Rome", None), "onehot",
                                     True)  # fmt: skip
    assert flag.categories == (False, True) and flag.missing is False
    assert record.features == [
        "city=Oslo", "city=Paris", "city=Rome", "city=(missing)",
        "flag=False", "flag=True",
    ]  # fmt: skip
    X, report = record.transform(
        {
            "city": np.array(["Rome", None, "Lima", "Lima", "Oslo"], object),
            "flag": np.array([True, False, True, None, False], object),
        }
    )
    assert X.tolist() == [
        [0, 0, 1, 0, 0, 1],
        [0, 0, 0, 1, 1, 0],  # missing: the learned "missing" category
        [0, 0, 0, 0, 0, 1],  # Lima: unknown, all zeros
        [0, 0, 0, 0, 0, 0],  # flag missing, none in training: unknown slot
        [1, 0, 0, 0, 1, 0],
    ]
    assert report.unknown == {"city": 2, "flag": 1}
    assert report.missing == {"city": 1, "flag": 1}
    unknown, missing = report.warnings()
    assert unknown.startswith(
        "column 'city': 2 rows, column 'flag': 1 row of 5 hold categories not seen"
    )
    assert "filled as in training: column 'city' 1 row, column 'flag' 1 row (of 5;" in (
        missing
    )


def test_many_categories_are_embedded_as_an_index():
    words = np.array([f"w{i:02d}" for i in range(20)] * 2, dtype=object)
    record = Preprocessing.fit({"w": words}, ["w"], "regression", onehot_max=16)
    (w,) = record.columns
    assert (w.encoding, w.dim, len(w.categories)) == ("embedding", 10, 20)
    assert embedding_dim(20) == 10 and embedding_dim(100) == 16
    X, report = record.transform({"w": np.array(["w03", "zzz", "w19"], object)})
    assert X.tolist() == [[3.0], [20.0], [19.0]]  # 20 = len(categories): unknown
    assert report.unknown == {"w": 1}
    assert record.embedded == [(0, w)]


def test_named_integer_column_is_categorical():
    record = Preprocessing.fit(_columns(), ["n"], "regression", categorical=["n"])
    assert record.columns[0].categories == (5, 6, 7, 8, 9, 10)
    X, _ = record.transform({"n": np.array([7.0, 11.0])})  # 7.0 is category 7
    assert X[0].tolist() == [0, 0, 1, 0, 0, 0] and not X[1].any()


def test_numbers_held_as_text_name_the_column_and_the_cell():
    column = np.array(["1.5", "2", "?", "4", None], dtype=object)
    with pytest.raises(DataError, match=r"column 'age' holds numbers, but row 3") as e:
        Preprocessing.fit({"age": column}, ["age"], "regression")
    assert "na_values=['?']" in str(e.value) and "one-hot" not in str(e.value)
    record = Preprocessing.fit({"age": np.array([1.0, 2.0])}, ["age"], "regression")
    with pytest.raises(DataError, match=r"row 2 .* holds 'n/a'"):
        record.transform({"age": np.array(["3", "n/a"], object)})


def test_a_column_empty_in_every_training_row_is_refused():
    with pytest.raises(DataError, match="'e' is empty in every training row"):
        Preprocessing.fit({"e": np.array([NAN, NAN])}, ["e"], "regression")


def test_fit_equals_from_stats_over_three_chunks():
    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(2.0, 3.0, n)
    x[rng.random(n) < 0.1] = NAN
    c = rng.choice(np.array(["a", "b", "c", None], object), n)
    k = rng.integers(0, 40, n)
    columns = {"x": x, "c": c, "k": k}
    whole = Preprocessing.fit(columns, ["x", "c", "k"], "regression", categorical=["k"])
    parts = [ColumnStats(["k"]) for _ in range(3)]
    for part, rows in zip(parts, np.array_split(np.arange(n), 3), strict=True):
        part.update({name: v[rows] for name, v in columns.items()})
    merged = parts[0].merge(parts[1]).merge(parts[2])
    chunked = Preprocessing.from_stats(merged, ["x", "c", "k"], "regression")
    assert chunked.n_train == whole.n_train == n
    a, b = whole.columns[0], chunked.columns[0]
    assert (a.fill, a.indicator) == (b.fill, b.indicator)
    assert a.mean == pytest.approx(b.mean, rel=1e-13)
    assert a.scale == pytest.approx(b.scale, rel=1e-13)
    assert whole.columns[1:] == chunked.columns[1:]
    assert whole.columns[2].encoding == "embedding"


def test_record_round_trips_exactly_through_json_and_a_model_file(tmp_path):
    record = Preprocessing.fit(
        _columns(), ["x", "city", "flag", "n"], "classification", "y", ["no", "yes"]
    )
    back = Preprocessing.from_metadata(
        json.loads(json.dumps({"preprocessing": record.to_metadata()}))
    )
    assert back == record and back.to_metadata() == record.to_metadata()
    net = gn.Sequential(gn.Dense(record.n_inputs, 1, "sigmoid"), seed=0)
    gn.save(net, tmp_path / "m.safetensors", {"preprocessing": record.to_metadata()})
    _, metadata = gn.load(tmp_path / "m.safetensors", return_metadata=True)
    assert Preprocessing.from_metadata(metadata, net) == record


def _good():
    return Preprocessing.fit(_columns(), ["x", "city"], "regression").to_metadata()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["columns"][0].update(scale=0.0), "column 'x': 'scale' must be positive"),
        (lambda r: r["columns"][0].update(fill="3"), "column 'x': 'fill' must be a finite"),
        (lambda r: r["columns"][0].update(indicator=1), "'indicator' must be true or false"),
        (lambda r: r["columns"][1].update(encoding="hash"), "'encoding' must be 'onehot'"),
        (lambda r: r["columns"][1].update(categories=["b", "a", None]), "must be sorted"),
        (lambda r: r["columns"][1].update(categories=["a", "a", None]), "lists 'a' twice"),
        (lambda r: r["columns"][1].update(kind="text"), "'kind' must be 'numeric'"),
        (lambda r: r["columns"][1].update(name="x"), "'columns' lists 'x' twice"),
        (lambda r: r["columns"][1].update(name="c\x1b[2J"), "holds control characters"),
        (lambda r: r.update(features=["x"]), "'features' must be the inputs"),
        (lambda r: r.update(version=3), "version 1 or 2"),
    ],
)  # fmt: skip
def test_a_malformed_record_names_the_field(change, message):
    record = _good()
    change(record)
    with pytest.raises(DataError, match="preprocessing record is invalid") as error:
        Preprocessing.from_metadata({"preprocessing": record})
    assert message in str(error.value)


def test_record_is_checked_against_the_network():
    record = _good()  # x, x (missing), 4 city inputs
    with pytest.raises(DataError, match="lists 6 features but the network takes 5"):
        Preprocessing.from_metadata(
            {"preprocessing": record}, gn.Sequential(gn.Dense(5, 1), seed=0)
        )


def test_version_1_record_loads_and_still_refuses_missing_cells():
    v1 = {"version": 1, "features": ["a", "b"], "mean": [1.0, 2.0],
          "scale": [2.0, 4.0], "task": "regression", "target": "t", "n_train": 3}  # fmt: skip
    record = Preprocessing.from_metadata({"preprocessing": v1})
    assert record.version == 1 and record.features == ["a", "b"]
    X, _ = record.transform({"a": np.array([3.0]), "b": np.array([10.0])})
    assert X.tolist() == [[1.0, 2.0]]
    with pytest.raises(DataError, match="empty or NaN value in column 'b'"):
        record.transform({"a": np.array([3.0]), "b": np.array([NAN])})
    assert record.to_metadata() == {**v1, "classes": None}


def test_numbers_as_objects_are_a_pandas_categorical_column():
    """pandas hands a categorical column of integers over as objects: categories,
    where a numeric column would be float64 or int64."""
    column = np.array([3, 1, None, 3], dtype=object)
    record = Preprocessing.fit({"g": column}, ["g"], "regression")
    assert record.columns[0] == CategoricalColumn("g", (1, 3, None), "onehot", True)
    X, _ = record.transform({"g": np.array([3, 2], dtype=np.int64)})
    assert X.tolist() == [[0, 1, 0], [0, 0, 0]]


def test_median_beyond_the_reservoir_is_a_seeded_uniform_sample(monkeypatch):
    from glassnet.data import column_stats

    monkeypatch.setattr(column_stats, "RESERVOIR", 500)
    x = np.random.default_rng(6).uniform(0.0, 1.0, 3000)

    def median_of_chunks(seed):
        stats = ColumnStats(seed=seed)
        for part in np.array_split(x, 3):
            stats.update({"x": part})
        column = stats.columns["x"]
        assert column.count == 3000 and column.sample.size == 500
        assert np.isin(column.sample, x).all()  # a sample of the values themselves
        return column.median()

    assert median_of_chunks(1) == median_of_chunks(1)  # seeded: reproducible
    # a uniform sample of 500: its median is within 0.1 of 0.5 with near certainty
    assert abs(median_of_chunks(1) - 0.5) < 0.1
    assert abs(median_of_chunks(2) - 0.5) < 0.1
