"""glassnet.tabular: reading data files, selecting features and target, the task rule,
label encoding, the preprocessing record and folding it into a network."""

from __future__ import annotations

import gzip
import io
import sys

import numpy as np
import pytest
from glassnet.tabular import DataError, Preprocessing

import glassnet as gn
from glassnet import tabular
from glassnet.data import tables

ROWS = [
    ("1.5", "10", "red", "cat"),
    ("2.5", "20", "blue", "dog"),
    ("3.0", "35", "red", "cat"),
    ("4.25", "40", "green", "emu"),
]


def write_csv(path, header, rows, sep=","):
    text = sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows)
    path.write_text(text)
    return path


def small_csv(tmp_path, name="d.csv"):
    return write_csv(tmp_path / name, ["a", "b", "color", "animal"], ROWS)


# -- reading ---------------------------------------------------------------------------------
def test_csv_columns_keep_their_types(tmp_path):
    table = tabular.read_table(small_csv(tmp_path))
    assert table.names == ["a", "b", "color", "animal"] and table.n_rows == 4
    assert table.columns["a"].dtype == np.float64
    assert table.columns["a"].tolist() == [1.5, 2.5, 3.0, 4.25]
    assert table.columns["b"].dtype == np.int64
    assert table.columns["animal"].tolist() == ["cat", "dog", "cat", "emu"]


def test_every_format_gives_the_same_columns(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    a = np.array([1.5, 2.5, 3.0, 4.25])
    b = np.array([10, 20, 35, 40])
    y = np.array(["cat", "dog", "cat", "emu"])
    pd.DataFrame({"a": a, "b": b, "y": y}).to_parquet(tmp_path / "d.parquet")
    write_csv(tmp_path / "d.tsv", ["a", "b", "y"], [r[:2] + r[3:] for r in ROWS], "\t")
    with gzip.open(tmp_path / "d.csv.gz", "wt") as f:
        f.write("a,b,y\n" + "".join(f"{r[0]},{r[1]},{r[3]}\n" for r in ROWS))
    np.savez(tmp_path / "d.npz", a=a, b=b, y=y)
    structured = np.zeros(4, dtype=[("a", "f8"), ("b", "i8"), ("y", "U3")])
    structured["a"], structured["b"], structured["y"] = a, b, y
    np.save(tmp_path / "s.npy", structured)
    for name in ("d.parquet", "d.tsv", "d.csv.gz", "d.npz", "s.npy"):
        table = tabular.read_table(tmp_path / name)
        assert table.names == ["a", "b", "y"], name
        assert table.columns["a"].tolist() == a.tolist(), name
        assert table.columns["b"].tolist() == b.tolist(), name
        assert table.columns["y"].tolist() == y.tolist(), name


def test_array_files_name_their_columns(tmp_path):
    np.save(tmp_path / "m.npy", np.arange(6.0).reshape(3, 2))
    assert tabular.read_table(tmp_path / "m.npy").names == ["0", "1"]
    np.savez(tmp_path / "m.npz", X=np.ones((3, 2)), label=np.array([0, 1, 0]))
    table = tabular.read_table(tmp_path / "m.npz")
    assert table.names == ["X0", "X1", "label"]
    assert table.columns["label"].tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "no such data file: "),
        ("d.txt", b"a,b\n1,2\n", "unknown data format '.txt'; expected one of .csv"),
        ("d.csv", b"", "is empty (0 bytes)"),
        ("d.csv", b"\n\n", "has no header row"),
        ("d.npy", b"not numpy", "is not a valid npy file (it does not start with"),
        ("d.npz", b"\x93NUMPYjunk", "is not a valid npz file"),
        ("d.parquet", b"PAR1 not parquet", "is not a readable Parquet file"),
    ],
)
def test_unreadable_files_get_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=r".*") as error:
        tabular.read_table(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_folder_is_not_a_data_file(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(DataError, match="is a folder, not a data file"):
        tabular.read_table(tmp_path / "x.csv")


def test_pickled_object_arrays_are_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="holds Python objects .* never loads"):
        tabular.read_table(tmp_path / "o.npy")
    np.savez(tmp_path / "o.npz", x=np.array([[1], "a"], dtype=object))
    with pytest.raises(DataError, match="holds Python objects"):
        tabular.read_table(tmp_path / "o.npz")


def test_without_pandas_csv_names_the_data_extra_and_npz_still_works(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError) as error:
        tabular.read_table(small_csv(tmp_path))
    message = str(error.value)
    assert "pip install 'glassnet[data]'" in message and ".npy and .npz" in message
    np.savez(tmp_path / "d.npz", X=np.ones((3, 2)), y=np.array([0, 1, 0]))
    assert tabular.read_table(tmp_path / "d.npz").n_rows == 3


def test_large_files_are_read_in_chunks_with_progress(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60_000, 3)).round(6)  # ~1.5 MB: pandas reads ~256 KB at once
    write_csv(
        tmp_path / "big.csv",
        ["a", "b", "c"],
        [tuple(repr(float(v)) for v in row) for row in X],
    )
    whole = tabular.read_table(tmp_path / "big.csv", progress=True)  # below threshold
    monkeypatch.setattr(tables, "LARGE_FILE_BYTES", 100)
    monkeypatch.setattr(tables, "CSV_CHUNK_ROWS", 5000)
    stream = io.StringIO()
    chunked = tabular.read_table(tmp_path / "big.csv", progress=True, stream=stream)
    assert stream.getvalue().splitlines()[-1].endswith("big.csv: 100%")
    assert len(stream.getvalue().splitlines()) >= 3  # a line at each quarter reached
    for name in "abc":
        assert chunked.columns[name].tolist() == whole.columns[name].tolist()
    np.testing.assert_array_equal(whole.columns["b"], X[:, 1])
    quiet = io.StringIO()
    tabular.read_table(tmp_path / "big.csv", progress=False, stream=quiet)
    assert quiet.getvalue() == ""


def test_large_parquet_files_are_read_by_row_group_with_progress(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": np.arange(100.0), "y": ["p", "q"] * 50})
    frame.to_parquet(tmp_path / "big.parquet", row_group_size=10)
    monkeypatch.setattr(tables, "LARGE_FILE_BYTES", 10)
    stream = io.StringIO()
    table = tabular.read_table(tmp_path / "big.parquet", progress=True, stream=stream)
    assert "big.parquet: 100%" in stream.getvalue()
    assert table.columns["a"].tolist() == list(range(100))
    assert table.columns["y"].tolist() == ["p", "q"] * 50


# -- selecting ---------------------------------------------------------------------------------
def test_select_defaults_to_every_other_column(tmp_path):
    path = write_csv(tmp_path / "n.csv", ["a", "b", "y"], [r[:2] + r[3:] for r in ROWS])
    X, y, names = tabular.select(tabular.read_table(path), "y")
    assert names == ["a", "b"]
    np.testing.assert_array_equal(X, [[1.5, 10], [2.5, 20], [3.0, 35], [4.25, 40]])
    assert y.tolist() == ["cat", "dog", "cat", "emu"]
    X, _, names = tabular.select(tabular.read_table(path), "y", ["b"])
    assert names == ["b"] and X.tolist() == [[10.0], [20.0], [35.0], [40.0]]


def test_misspelled_target_suggests_the_closest_columns(tmp_path):
    table = tabular.read_table(small_csv(tmp_path))
    with pytest.raises(DataError) as error:
        tabular.select(table, "animl")
    message = str(error.value)
    assert "no target column 'animl'; did you mean 'animal'?" in message
    assert "(columns: 'a', 'b', 'color', 'animal')" in message
    with pytest.raises(DataError, match="did you mean 'animal'"):
        tabular.select(table, "ANIMAL")  # case differs
    with pytest.raises(DataError, match="no feature column 'colour'; did you mean"):
        tabular.select(table, "animal", ["a", "colour"])


def test_text_feature_columns_are_named_with_how_to_encode(tmp_path):
    table = tabular.read_table(small_csv(tmp_path))
    with pytest.raises(DataError) as error:
        tabular.select(table, "animal")
    message = str(error.value)
    assert "feature column 'color' is not numeric ('color' holds 'red' in row 1)" in (
        message
    )
    assert "pandas.get_dummies(df, columns=['color'])" in message
    assert "--features" in message


def test_a_stray_text_cell_in_a_number_column_is_located(tmp_path):
    rows = [("1", "x"), ("2", "y"), ("3.5kg", "x"), ("4", "y")]
    table = tabular.read_table(write_csv(tmp_path / "s.csv", ["w", "t"], rows))
    with pytest.raises(DataError, match=r"'w' holds '3.5kg' in row 3"):
        tabular.select(table, "t")


def test_empty_and_nan_cells_name_the_first_row_and_column(tmp_path):
    rows = [("1", "2", "a"), ("3", "", "b"), ("", "5", "a"), ("7", "nan", "b")]
    table = tabular.read_table(write_csv(tmp_path / "e.csv", ["p", "q", "y"], rows))
    with pytest.raises(DataError) as error:
        tabular.select(table, "y")
    message = str(error.value)
    assert (
        "row 2 (counting data rows from 1) has an empty or NaN value in column 'q'"
        in (message)
    )
    assert "(2 such cells in that column)" in message and "dropna" in message
    rows = [("1", "a"), ("2", ""), ("3", "b")]
    table = tabular.read_table(write_csv(tmp_path / "t.csv", ["p", "y"], rows))
    with pytest.raises(DataError, match="row 2 .* in column 'y'"):
        tabular.select(table, "y")


def test_infinite_features_and_bad_feature_lists(tmp_path):
    rows = [("1", "a"), ("inf", "b"), ("3", "a")]
    table = tabular.read_table(write_csv(tmp_path / "i.csv", ["p", "y"], rows))
    with pytest.raises(DataError, match=r"column 'p' holds inf in row 2"):
        tabular.select(table, "y")
    with pytest.raises(DataError, match="target column 'y' is also listed"):
        tabular.select(table, "y", ["p", "y"])
    with pytest.raises(DataError, match="lists 'p' twice"):
        tabular.select(table, "y", ["p", "p"])


def test_check_rows_states_the_minimum(tmp_path):
    table = tabular.read_table(small_csv(tmp_path))
    with pytest.raises(DataError, match="has 4 data rows; training needs at least 10"):
        tabular.check_rows(table, 10, "training")
    tabular.check_rows(table, 4, "training")


# -- task and labels ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, task",
    [
        (np.array(["a", "b"], dtype=object), "classification"),
        (np.array([True, False]), "classification"),
        (np.arange(20) % 20, "classification"),  # 20 distinct whole numbers
        (np.arange(21), "regression"),  # 21
        (np.array([1.0, 2.0, 2.0]), "classification"),  # whole floats
        (np.array([1.0, 2.5]), "regression"),
    ],
)
def test_task_rule(values, task):
    assert tabular.infer_task(values) == task


def test_labels_encode_in_sorted_order_and_unseen_labels_are_named():
    y = np.array(["dog", "cat", "emu", "cat"], dtype=object)
    classes = tabular.fit_classes(y)
    assert classes == ["cat", "dog", "emu"]
    assert tabular.encode_labels(y, classes).tolist() == [1, 0, 2, 0]
    with pytest.raises(DataError) as error:
        tabular.encode_labels(np.array(["cat", "yak", "gnu"], dtype=object), classes)
    assert "labels 'gnu', 'yak' the model never saw in training" in str(error.value)
    assert "it knows 3 classes: 'cat', 'dog', 'emu'" in str(error.value)
    # a column read as numbers in one file and text in another still matches
    assert tabular.encode_labels(
        np.array(["2", "1"], dtype=object), [1, 2]
    ).tolist() == [
        1,
        0,
    ]
    assert tabular.encode_labels(np.array([2.0, 1.0]), [1, 2]).tolist() == [1, 0]


# -- the record ------------------------------------------------------------------------------------
def test_standardisation_uses_population_std_of_the_given_rows():
    rng = np.random.default_rng(1)
    X = rng.normal(3.0, 2.0, size=(50, 3))
    X[:, 2] = 7.0  # constant column: scale 1, as scikit-learn's StandardScaler
    record = Preprocessing.fit(X[:40], ["a", "b", "c"], "regression", "t")
    n = 40
    mean = [sum(X[:n, j]) / n for j in range(3)]
    std = [
        (sum((X[:n, j] - mean[j]) ** 2) / n) ** 0.5 for j in range(3)
    ]  # population std, by hand
    np.testing.assert_allclose(record.mean, mean, rtol=1e-13)
    np.testing.assert_allclose(record.scale[:2], std[:2], rtol=1e-12)
    assert record.scale[2] == 1.0 and record.n_train == 40
    Z, _ = record.transform(X[40:])
    np.testing.assert_allclose(Z[:, 0], (X[40:, 0] - mean[0]) / std[0], rtol=1e-12)
    assert (Z[:, 2] == 0).all()


def test_record_round_trips_through_a_model_file_exactly(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2)) * [1e-3, 1e4]
    record = Preprocessing.fit(X, ["u", "v"], "classification", "y", ["no", "yes"])
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
    gn.save(
        net,
        tmp_path / "m.safetensors",
        metadata={"preprocessing": record.to_metadata()},
    )
    net2, back, metadata = tabular.load_model(tmp_path / "m.safetensors")
    assert back.mean.tobytes() == record.mean.tobytes()
    assert back.scale.tobytes() == record.scale.tobytes()
    assert (back.features, back.classes, back.task, back.target) == (
        ["u", "v"], ["no", "yes"], "classification", "y",
    )  # fmt: skip
    assert tabular.load_model(tmp_path / "m.safetensors")[1].n_train == 30
    gn.save(net, tmp_path / "plain.safetensors")
    assert tabular.load_model(tmp_path / "plain.safetensors")[1] is None


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"features": ["u"], "mean": [0.0], "scale": [1.0]}, "lists 1 features but the network takes 2"),
        ({"scale": [1.0, 0.0]}, "'scale' must be positive"),
        ({"mean": [0.0, "x"]}, "'mean' must be 2 finite numbers"),
        ({"classes": ["a", "b", "c"]}, "lists 3 classes but the network has 1 output"),
        ({"task": "ranking"}, "'task' must be 'classification' or 'regression'"),
        ({"version": 99}, "expected an object with version 1"),
    ],
)  # fmt: skip
def test_a_malformed_record_is_refused(edit, message):
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
    good = {"version": 1, "features": ["u", "v"], "mean": [0.0, 0.0],
            "scale": [1.0, 1.0], "task": "classification", "target": "y",
            "classes": ["a", "b"], "n_train": 5}  # fmt: skip
    with pytest.raises(DataError, match="preprocessing record is invalid") as error:
        Preprocessing.from_metadata({"preprocessing": {**good, **edit}}, net)
    assert message in str(error.value)


def test_fingerprint_changes_with_any_value():
    X = np.arange(6.0).reshape(3, 2)
    y = np.array([0, 1, 0])
    base = tabular.fingerprint(X, y, ["a", "b"])
    assert base == tabular.fingerprint(X.copy(), y.copy(), ["a", "b"])
    X2 = X.copy()
    X2[2, 1] = np.nextafter(X2[2, 1], 10)
    assert tabular.fingerprint(X2, y, ["a", "b"]) != base
    assert tabular.fingerprint(X, np.array([0, 1, 1]), ["a", "b"]) != base
    assert tabular.fingerprint(X, y, ["b", "a"]) != base


def test_folding_the_standardisation_gives_a_network_on_raw_features():
    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 3.0, size=(40, 3)) * [1.0, 100.0, 0.01]
    record = Preprocessing.fit(X, ["a", "b", "c"], "classification", "y", [0, 1, 2])
    net = gn.Sequential(
        gn.Dense(3, 5, "tanh"), gn.Dropout(0.1), gn.Dense(5, 3, "softmax"),
        dtype="float64", seed=0,
    )  # fmt: skip
    before = net.flat_params.copy()
    folded = tabular.fold_standardization(net, record)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)  # the standardisation, by hand
    np.testing.assert_allclose(folded.forward(X), net.forward(Z), rtol=0, atol=1e-12)
    assert net.flat_params.tobytes() == before.tobytes()  # the original is untouched
    np.testing.assert_allclose(net.forward(Z).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="first Dense without a bias"):
        tabular.fold_standardization(
            gn.Sequential(gn.Dense(3, 1, use_bias=False), seed=0), record
        )
