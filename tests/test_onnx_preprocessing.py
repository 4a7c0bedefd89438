"""The preprocessing record as ONNX nodes: raw columns in, glassnet's predictions out.

Each graph runs in onnxruntime on raw columns (text, booleans, integer categories,
numbers, about 5% missing cells, categories not seen in training) and is compared
with glassnet's own ``record.transform`` and ``predict``; a hand-built record is also
checked against a matrix written out by hand from the record's equations.
"""

import json
import math
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.data.preprocessing import Preprocessing
from glassnet.interop import onnx_preprocessing
from glassnet.interop.onnx_export import to_onnx_model
from glassnet.io.errors import ModelFormatError
from glassnet.nn.embedding import Embedding

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def _run(model, inputs: dict) -> np.ndarray:
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (output,) = session.run(None, inputs)
    return output


def _identity(d: int, dtype="float64") -> gn.Sequential:
    """A network whose output is its input exactly: A = X I + 0."""
    net = gn.Sequential(gn.Dense(d, d), dtype=dtype, seed=0)
    net.layers[0].W = np.eye(d)
    net.layers[0].b = np.zeros(d)
    return net


# -- a record written by hand, against its equations ---------------------------------
_HAND = {
    "version": 2,
    "task": "regression",
    "target": "y",
    "classes": None,
    "n_train": 40,
    "columns": [
        {"name": "x", "kind": "numeric", "fill": 1.5, "indicator": True,
         "mean": 1.25, "scale": 0.75},
        {"name": "w", "kind": "numeric", "fill": -2.0, "indicator": False,
         "mean": 3.0, "scale": 2.0},
        {"name": "city", "kind": "categorical", "categories": ["Lima", "Oslo", None],
         "encoding": "onehot", "missing": True},
        {"name": "member", "kind": "categorical", "categories": [False, True],
         "encoding": "onehot", "missing": False},
        {"name": "grade", "kind": "categorical", "categories": [1, 3, 7],
         "encoding": "embedding", "missing": False, "dim": 2},
        {"name": "size", "kind": "categorical", "categories": [0.5, 2.0, None],
         "encoding": "onehot", "missing": True},
        {"name": "vip", "kind": "categorical", "categories": [False, True, None],
         "encoding": "onehot", "missing": True},
    ],
}  # fmt: skip

_HAND_COLUMNS = {
    "x": np.array([1.0, np.nan, 4.0]),
    "w": np.array([np.nan, 5.0, 3.0]),
    "city": np.array(["Oslo", None, "Paris"], dtype=object),
    "member": np.array([True, False, True]),
    "grade": np.array([3, 9, 7], dtype=np.int64),
    "size": np.array([2.0, np.nan, 1.0]),
    "vip": np.array([None, True, False], dtype=object),
}

# The rows above by the record's equations: z = (x~ - mean) / scale, the indicator,
# one-hot (zeros for Paris, unseen), the index (3 for grade 9, unseen: the unknown
# slot), size 1.0 unseen, vip's missing cell its own category.
_HAND_X = [
    [(1.0 - 1.25) / 0.75, 0, (-2.0 - 3) / 2, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1],
    [(1.5 - 1.25) / 0.75, 1, (5.0 - 3) / 2, 0, 0, 1, 1, 0, 3, 0, 0, 1, 0, 1, 0],
    [(4.0 - 1.25) / 0.75, 0, (3.0 - 3) / 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0],
]


def _with_features(record: dict) -> dict:
    """The record with its derived network inputs, named as the format says."""
    features = []
    for column in record["columns"]:
        name = column["name"]
        if column["kind"] == "numeric":
            features += [name] + [f"{name} (missing)"] * column["indicator"]
        elif column["encoding"] == "embedding":
            features.append(name)
        else:
            features += [
                f"{name}={'(missing)' if c is None else c}"
                for c in column["categories"]
            ]
    return {**record, "features": features}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hand_record_gives_the_equations_and_glassnet_transform(dtype):
    metadata = _with_features(_HAND)
    record = Preprocessing.from_metadata({"preprocessing": metadata})  # validated
    X, report = record.transform(_HAND_COLUMNS)
    np.testing.assert_array_equal(X, np.array(_HAND_X))  # glassnet's, by hand
    net = _identity(len(metadata["features"]), dtype)
    model = to_onnx_model(net, preprocessing=metadata)
    inputs = onnx_preprocessing.feeds(metadata, _HAND_COLUMNS)
    assert {k: v.dtype.kind for k, v in inputs.items()} == {
        "x": "f", "w": "f", "city": "O", "member": "b", "grade": "i", "size": "f",
        "vip": "f",
    }  # fmt: skip
    # a product with I: the graph's matrix bit for bit, rounded once to the dtype
    got = _run(model, inputs)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, X.astype(dtype))
    assert report.unknown == {"city": 1, "grade": 1, "size": 1}


def test_graph_inputs_are_the_raw_columns_with_their_types():
    metadata = _with_features(_HAND)
    model = to_onnx_model(_identity(15), preprocessing=metadata)
    types = onnx.TensorProto
    got = {
        i.name: (
            i.type.tensor_type.elem_type,
            [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim],
        )
        for i in model.graph.input
    }
    assert got == {
        "x": (types.DOUBLE, ["batch", 1]),
        "w": (types.DOUBLE, ["batch", 1]),
        "city": (types.STRING, ["batch", 1]),
        "member": (types.BOOL, ["batch", 1]),
        "grade": (types.INT64, ["batch", 1]),
        "size": (types.DOUBLE, ["batch", 1]),
        "vip": (types.DOUBLE, ["batch", 1]),  # booleans with a missing category
    }
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets == {"": 17, "ai.onnx.ml": 2}
    assert "'city': string" in model.doc_string


@pytest.mark.parametrize("opset", [13, 21])
def test_other_opsets_run(opset):
    metadata = _with_features(_HAND)
    model = to_onnx_model(_identity(15), opset, preprocessing=metadata)
    got = _run(model, onnx_preprocessing.feeds(metadata, _HAND_COLUMNS))
    np.testing.assert_array_equal(got, np.array(_HAND_X))


# -- fitted records and trained models, one per task ---------------------------------
_CITIES = ["Berlin", "Lima", "Oslo", "Quito", "Rome"]


def _table(n: int, seed: int, unseen: bool = False) -> dict:
    """Text (5 cities; 24 districts: embedded), boolean, integer-category and numeric
    columns, about 5% of the cells missing where the column can hold a gap."""
    rng = np.random.default_rng(seed)
    hole = lambda: rng.random(n) < 0.05  # noqa: E731
    city = np.array(rng.choice(_CITIES, n), dtype=object)
    district = np.array([f"d{i}" for i in rng.integers(24, size=n)], dtype=object)
    grade = rng.choice([1, 2, 5], n).astype(np.int64)
    if unseen:  # categories not seen in training
        city[rng.random(n) < 0.1] = "Atlantis"
        district[rng.random(n) < 0.1] = "d99"
        grade[rng.random(n) < 0.1] = 4
    city[hole()] = None
    district[hole()] = None
    age = rng.normal(40, 12, n)
    age[hole()] = np.nan
    income = rng.lognormal(3, 0.5, n)
    income[hole()] = np.nan
    return {
        "age": age,
        "city": city,
        "member": rng.random(n) < 0.4,
        "grade": grade,
        "district": district,
        "income": income,
    }


_NAMES = ["age", "city", "member", "grade", "district", "income"]


def _targets(columns: dict) -> dict:
    """Targets that depend on the columns (missing cells read as their fill)."""
    age = np.nan_to_num(columns["age"], nan=40.0)
    score = (
        (age - 40) / 12
        + np.array([c in ("Oslo", "Rome") for c in columns["city"]]) * 1.5
        + columns["member"] * 1.0
        - (columns["grade"] == 5) * 1.0
    )
    return {
        "binary": (score > 0.4).astype(np.int64),
        "multiclass": np.digitize(score, [-0.5, 0.8]),
        "regression": score,
    }


def _model(record, task: str, k: int, seed: int) -> gn.Sequential:
    ((at, column),) = record.embedded  # the district column
    d = record.n_inputs - 1 + column.dim
    out = {"binary": (1, "sigmoid"), "multiclass": (k, "softmax")}.get(
        task, (1, "identity")
    )
    return gn.Sequential(
        Embedding([at], [len(column.categories)], [column.dim]),
        gn.Dense(d, 12, "relu"),
        gn.Dense(12, out[0], out[1]),
        seed=seed,
    )


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_trained_model_on_raw_columns_matches_glassnet(task):
    seed = zlib.crc32(task.encode())
    train = _table(300, seed)
    y = _targets(train)[task]
    kind = "regression" if task == "regression" else "classification"
    classes = None if kind == "regression" else sorted(set(y.tolist()))
    record = Preprocessing.fit(train, _NAMES, kind, "y", classes, categorical=["grade"])
    kinds = [c.kind + ("/" + c.encoding if c.kind == "categorical" else "")
             for c in record.columns]  # fmt: skip
    assert kinds == ["numeric", "categorical/onehot", "categorical/onehot",
                     "categorical/onehot", "categorical/embedding", "numeric"]  # fmt: skip
    X, _ = record.transform(train)
    net = _model(record, task, len(classes or ()), seed)
    if kind == "classification":
        net.fit(X, y, epochs=30, batch_size=32, optimizer=gn.Adam(lr=0.01), verbose=0)
        assert (net.predict_classes(X) == y).mean() > 0.75  # it has learned
    else:
        net.fit(
            X,
            y[:, None],
            epochs=30,
            batch_size=32,
            optimizer=gn.Adam(lr=0.01),
            verbose=0,
        )

    metadata = json.loads(json.dumps(record.to_metadata()))  # as the model file has it
    model = to_onnx_model(net, preprocessing=metadata)
    new = _table(200, seed + 1, unseen=True)
    X_new, report = record.transform(new)
    assert set(report.unknown) == {"city", "district", "grade"}  # unseen met
    assert set(report.missing) >= {"age", "income", "city", "district"}
    expected = net.predict(X_new)
    got = _run(model, onnx_preprocessing.feeds(metadata, new))
    assert got.dtype == np.float32
    # float32 products summed in another order (BLAS, onnxruntime): relative 1e-5,
    # and absolute 1e-6 (8 float32 steps at 1) where an output is near 0
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    if kind == "classification":
        labels = (got[:, 0] >= 0.5) if task == "binary" else got.argmax(axis=1)
        np.testing.assert_array_equal(labels, net.predict_classes(X_new))


# -- the version-1 path stays -----------------------------------------------------------
def test_version_1_record_is_the_standardisation():
    net = gn.Sequential(gn.Dense(2, 3, "relu"), gn.Dense(3, 1), seed=0)
    v1 = {"version": 1, "features": ["a", "b"], "mean": [1.0, 2.0],
          "scale": [0.5, 4.0], "task": "regression", "target": "y",
          "classes": None, "n_train": 4}  # fmt: skip
    record = Preprocessing.from_metadata({"preprocessing": v1})
    model = to_onnx_model(net, preprocessing=record)
    assert [i.name for i in model.graph.input] == ["input"]
    same = to_onnx_model(net, standardize=([1.0, 2.0], [0.5, 4.0]))
    assert model.graph == same.graph
    x = np.array([[3.0, -1.0], [0.0, 8.0]], dtype=np.float32)
    expected = net.predict(record.transform(x)[0])
    np.testing.assert_allclose(_run(model, {"input": x}), expected, rtol=1e-5)


# -- refusals ----------------------------------------------------------------------------
def _one_column(column: dict) -> dict:
    return _with_features({**_HAND, "columns": [column]})


def test_mixed_text_and_number_categories_are_refused():
    record = _one_column({"name": "code", "kind": "categorical",
                          "categories": [3, "a"], "encoding": "onehot",
                          "missing": False})  # fmt: skip
    with pytest.raises(ValueError, match="'code' mixes text and number"):
        to_onnx_model(_identity(2), preprocessing=record)


def test_empty_text_category_is_refused():
    record = _one_column({"name": "code", "kind": "categorical",
                          "categories": ["", "a"], "encoding": "onehot",
                          "missing": False})  # fmt: skip
    with pytest.raises(ValueError, match="empty string as a category"):
        to_onnx_model(_identity(2), preprocessing=record)


def test_column_named_like_a_graph_tensor_is_refused():
    # with an indicator, so that the graph takes raw columns, each named by its column
    record = _one_column({"name": "output", "kind": "numeric", "fill": 0.0,
                          "indicator": True, "mean": 0.0, "scale": 1.0})  # fmt: skip
    with pytest.raises(ValueError, match="column name 'output'"):
        to_onnx_model(_identity(2), preprocessing=record)


def test_numbers_only_keep_one_input_matrix_and_fill_missing_cells():
    """A record of numeric columns without indicators exports as a plain network's
    graph (one input matrix, so from_onnx and verify take it), with the median fill."""
    onnxruntime = pytest.importorskip("onnxruntime")
    record = {"version": 2, "task": "regression", "target": "y", "classes": None,
              "n_train": 10, "features": ["a", "b"],
              "columns": [
                  {"name": "a", "kind": "numeric", "fill": 2.5, "indicator": False,
                   "mean": 1.0, "scale": 2.0},
                  {"name": "b", "kind": "numeric", "fill": -1.0, "indicator": False,
                   "mean": 0.0, "scale": 4.0}]}  # fmt: skip
    model = to_onnx_model(_identity(2), preprocessing=record)
    assert [i.name for i in model.graph.input] == ["input"]
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    X = np.array([[np.nan, 8.0], [3.0, np.nan]])
    (out,) = session.run(None, {"input": X})
    expected = [[(2.5 - 1.0) / 2.0, 8.0 / 4.0], [(3.0 - 1.0) / 2.0, -1.0 / 4.0]]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_record_and_network_widths_must_agree():
    with pytest.raises(ValueError, match="gives 15 network inputs but the network"):
        to_onnx_model(_identity(14), preprocessing=_with_features(_HAND))


def test_missing_cell_in_a_boolean_input_is_refused():
    metadata = _with_features(_HAND)
    columns = {**_HAND_COLUMNS, "member": np.array([True, None, False], dtype=object)}
    with pytest.raises(ValueError, match="'member' has a missing cell in row 2"):
        onnx_preprocessing.feeds(metadata, columns)


def test_text_in_a_numeric_input_is_refused():
    columns = {**_HAND_COLUMNS, "w": np.array([1.0, "n/a", 2.0], dtype=object)}
    with pytest.raises(ValueError, match="'w' row 2 holds 'n/a', not a number"):
        onnx_preprocessing.feeds(_with_features(_HAND), columns)


def test_from_onnx_refuses_a_graph_on_raw_columns():
    model = to_onnx_model(_identity(15), preprocessing=_with_features(_HAND))
    with pytest.raises(
        ModelFormatError, match=r"raw table columns .*'city' \(STRING\)"
    ):
        gn.from_onnx(model)
    with pytest.raises(ModelFormatError, match="LabelEncoder"):
        gn.from_onnx(model)


def test_example_columns_read_by_glassnet_and_the_graph_alike():
    metadata = _with_features(_HAND)
    record = Preprocessing.from_metadata({"preprocessing": metadata})
    columns = onnx_preprocessing.example_columns(metadata, 400, seed=1)
    X, report = record.transform(columns)
    assert report.unknown and report.missing  # the checks see both
    got = _run(to_onnx_model(_identity(15), preprocessing=metadata),
               onnx_preprocessing.feeds(metadata, columns))  # fmt: skip
    np.testing.assert_array_equal(got, X)
    assert not math.isnan(got.sum())


# -- the command line, end to end ------------------------------------------------------
def test_cli_train_export_and_onnxruntime_agree_with_predict(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    from glassnet.cli import main
    from glassnet.data.tables import read_table

    def frame(n, seed, unseen=False):
        columns = _table(n, seed, unseen)
        columns["y"] = np.where(_targets(columns)["binary"] == 1, "yes", "no")
        return pd.DataFrame(columns)

    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    frame(300, 11).to_csv(train, index=False)  # empty cells where missing
    frame(120, 12, unseen=True).to_csv(new, index=False)
    model, onnx_file = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    assert main(["train", str(train), "--target", "y", "--epochs", "20",
                 "--categorical", "grade", "--out", str(model), "--quiet"]) == 0  # fmt: skip
    assert main(["export", str(model), "--out", str(onnx_file), "--check"]) == 0
    out = capsys.readouterr().out
    assert "raw columns" in out and "onnxruntime check" in out
    assert main(["predict", str(model), str(new), "--proba",
                 "--out", str(tmp_path / "p.csv")]) == 0  # fmt: skip
    predicted = pd.read_csv(tmp_path / "p.csv")

    loaded = onnx.load(str(onnx_file))
    kinds = {i.name: i.type.tensor_type.elem_type for i in loaded.graph.input}
    T = onnx.TensorProto
    assert kinds == {"age": T.DOUBLE, "city": T.STRING, "member": T.BOOL,
                     "grade": T.INT64, "district": T.STRING, "income": T.DOUBLE}  # fmt: skip
    assert "Gather" in {n.op_type for n in loaded.graph.node}  # district: embedded
    metadata = json.loads(
        {p.key: p.value for p in loaded.metadata_props}["glassnet.preprocessing"]
    )
    columns = {k: v for k, v in read_table(new).columns.items() if k != "y"}
    P = _run(loaded, onnx_preprocessing.feeds(metadata, columns))
    assert P.shape == (120, 1)
    labels = np.where(P[:, 0] >= 0.5, "yes", "no")
    np.testing.assert_array_equal(labels, predicted["prediction"].to_numpy())
    np.testing.assert_allclose(P[:, 0], predicted["proba_yes"], rtol=1e-5, atol=1e-6)
