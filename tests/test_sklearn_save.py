"""glassnet.sklearn.save: a fitted Pipeline as one model file that glassnet predict
reads by column name, giving the pipeline's own labels and probabilities."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from glassnet.sklearn import MLPClassifier, MLPRegressor, save  # noqa: E402
from glassnet.tabular import load_model  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    FunctionTransformer,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)

from glassnet.cli import main  # noqa: E402
from glassnet.errors import InputError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _predict_cli(capsys, model, data, *extra):
    """glassnet predict's CSV as rows of text (header first)."""
    capsys.readouterr()
    code = main(["predict", str(model), str(data), *map(str, extra)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return list(csv.reader(io.StringIO(out))), err


def _classifier(**kw):
    kw = {"hidden_layer_sizes": (16,), "learning_rate": 0.01, "max_iter": 200,
          "random_state": 0, **kw}  # fmt: skip
    return MLPClassifier(**kw)


# -- iris: columns by name, labels back ------------------------------------------------------
def test_iris_columns_reversed_in_the_csv_predict_the_pipelines_labels(
    tmp_path, capsys
):
    X, y = load_iris(return_X_y=True, as_frame=True)
    species = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    pipe = make_pipeline(StandardScaler(), _classifier()).fit(X, species)
    assert pipe.score(X, species) > 0.9  # a model worth checking
    model = save(pipe, tmp_path / "iris.safetensors", target="species")
    net, record, _ = load_model(model)
    for saved, fitted in zip(net.layers, pipe[-1].net_.layers, strict=True):
        assert np.array_equal(saved.W, fitted.W) and np.array_equal(saved.b, fitted.b)
    assert record.classes == ["setosa", "versicolor", "virginica"]
    data = tmp_path / "reversed.csv"
    X[X.columns[::-1]].to_csv(data, index=False)
    rows, _ = _predict_cli(capsys, model, data, "--proba")
    header, body = rows[0], rows[1:]
    assert header == ["prediction"] + [f"proba_{c}" for c in pipe.classes_]
    assert [r[0] for r in body] == list(pipe.predict(X))
    P = np.array([[float(v) for v in r[1:]] for r in body])
    np.testing.assert_allclose(P, pipe.predict_proba(X), rtol=0, atol=1e-12)
    # the bare network, fed the reversed columns by position, is what save fixes
    scaler, clf = pipe[0], pipe[-1]
    by_position = (X.to_numpy()[:, ::-1] - scaler.mean_) / scaler.scale_
    wrong = clf.net_.predict_proba(by_position)
    assert (wrong.argmax(1) != pipe.predict_proba(X).argmax(1)).mean() > 0.3
    # glassnet evaluate finds the target column the file names
    X.assign(species=species).to_csv(data, index=False)
    capsys.readouterr()
    assert main(["evaluate", str(model), str(data)]) == 0
    out = capsys.readouterr().out
    accuracy = next(line for line in out.splitlines() if "accuracy" in line)
    assert f"{pipe.score(X, species):.4f}" in accuracy


# -- a penguins-like table: text, missing cells, unknown categories ------------------------
def _penguins(n: int, seed: int):
    rng = np.random.default_rng(seed)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n).astype(object)
    sex = rng.choice(["female", "male"], n).astype(object)
    bill = rng.normal(44.0, 5.0, n)
    mass = rng.normal(4200.0, 800.0, n)
    year = rng.integers(1, 4, n)  # a small count, passed through as it is
    score = (bill - 44.0) / 5.0 + (island == "Dream") - 0.8 * (island == "Biscoe")
    species = np.where(score > 0.5, "Chinstrap", np.where(score < -0.5, "Adelie",
                                                           "Gentoo"))  # fmt: skip
    for column in (island, sex):
        column[rng.random(n) < 0.1] = np.nan
    for column in (bill, mass):
        column[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame(
        {"island": island, "bill": bill, "sex": sex, "mass": mass, "year": year}
    )
    return frame, species


def _penguin_pipeline(after=None, unknown="ignore"):
    categorical = Pipeline(
        [("fill", SimpleImputer(strategy="most_frequent")),
         ("onehot", OneHotEncoder(handle_unknown=unknown))]
    )  # fmt: skip
    numeric = Pipeline(
        [("fill", SimpleImputer(strategy="median", add_indicator=True)),
         ("scale", StandardScaler())]
    )  # fmt: skip
    columns = ColumnTransformer(
        [("cat", categorical, ["island"]),
         ("sex", OneHotEncoder(handle_unknown=unknown), ["sex"]),  # NaN: a category
         ("num", numeric, ["bill", "mass"])],
        remainder="passthrough", sparse_threshold=0,
    )  # fmt: skip
    steps = [columns] + ([after] if after is not None else []) + [_classifier()]
    return make_pipeline(*steps)


@pytest.mark.parametrize("after", [None, StandardScaler()], ids=["ct", "ct+scaler"])
def test_penguins_table_through_a_column_transformer(tmp_path, capsys, after):
    X, y = _penguins(400, 1)
    pipe = _penguin_pipeline(after).fit(X, y)
    assert pipe.score(X, y) > 0.8
    model = save(pipe, tmp_path / "penguins.safetensors")
    test, _ = _penguins(120, 2)
    test.loc[:4, "island"] = "Atlantis"  # not seen in fitting: all zeros, warned
    test.loc[5:9, ["island", "sex", "bill", "mass"]] = np.nan
    shuffled = test[["year", "mass", "sex", "bill", "island"]].assign(note="x")
    data = tmp_path / "new.csv"
    shuffled.to_csv(data, index=False)
    rows, err = _predict_cli(capsys, model, data, "--proba")
    assert [r[0] for r in rows[1:]] == list(pipe.predict(test))
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(P, pipe.predict_proba(test), rtol=0, atol=1e-9)
    assert "column 'island': 5 rows of 120 hold categories not seen" in err

    net, record, _ = load_model(model)
    assert record.names == ["island", "sex", "bill", "mass", "year"]
    if after is None:  # inputs reordered: their weights copied bit for bit (not
        # the indicators', which the pipeline's scaler standardised: W / s there)
        W, W_fitted = net.layers[0].W, pipe[-1].net_.layers[0].W
        copied = [j for j, f in enumerate(record.features) if " (missing)" not in f]
        assert len(copied) == W.shape[1] - 2
        assert all(any(np.array_equal(W[:, j], v) for v in W_fitted.T) for j in copied)
    island, sex, bill, mass, year = record.columns
    # the imputer's most frequent island stands for a missing one; sex keeps NaN
    assert island.categories == ("Biscoe", "Dream", "Torgersen", None)
    assert sex.categories == ("female", "male", None)
    filled = pipe[0].named_transformers_["num"]["fill"]
    scaler = pipe[0].named_transformers_["num"]["scale"]
    assert (bill.fill, bill.strategy, bill.indicator) == (
        filled.statistics_[0],
        "median",
        True,
    )
    if after is None:  # one scaler: its numbers, as they are
        assert (bill.mean, bill.scale) == (scaler.mean_[0], scaler.scale_[0])
        assert (year.mean, year.scale, year.strategy) == (0.0, 1.0, "none")


def test_penguins_info_and_onnx_export(tmp_path, capsys):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from glassnet.tabular import read_table

    from glassnet.interop.onnx_preprocessing import feeds

    X, y = _penguins(300, 3)
    pipe = _penguin_pipeline().fit(X, y)
    model = save(pipe, tmp_path / "p.safetensors", metadata={"owner": "lab"})
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "bill: numeric" in out and "(median) + indicator input" in out
    assert "year: numeric, z = (x - 0) / 1; missing -> 0 (no imputer: the mean" in out
    assert '"owner": "lab"' in out and "ColumnTransformer" in out
    onnx_path = tmp_path / "p.onnx"
    assert main(["export", str(model), "--out", str(onnx_path), "--check"]) == 0
    test, _ = _penguins(50, 4)
    test.loc[:2, "sex"] = np.nan
    data = tmp_path / "t.csv"
    test.to_csv(data, index=False)
    session = onnxruntime.InferenceSession(
        str(onnx_path), providers=["CPUExecutionProvider"]
    )
    record = json.loads(
        session.get_modelmeta().custom_metadata_map["glassnet.preprocessing"]
    )
    (P,) = session.run(None, feeds(record, read_table(str(data)).columns))
    np.testing.assert_allclose(P, pipe.predict_proba(test), rtol=0, atol=1e-9)


def test_an_empty_cell_without_an_imputer_is_filled_with_the_scalers_mean(
    tmp_path, capsys
):
    X, y = load_iris(return_X_y=True, as_frame=True)
    pipe = make_pipeline(StandardScaler(), _classifier()).fit(X, y)
    model = save(pipe, tmp_path / "m.safetensors")
    test = X.iloc[::10].copy()
    test.iloc[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pipe.predict(test)  # scikit-learn refuses it; glassnet fills and warns
    data = tmp_path / "t.csv"
    test.to_csv(data, index=False)
    rows, err = _predict_cli(capsys, model, data, "--proba")
    assert "column 'sepal width (cm)' 1 row" in err
    filled = test.fillna({"sepal width (cm)": pipe[0].mean_[1]})
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(P, pipe.predict_proba(filled), rtol=0, atol=1e-12)


def test_unknown_category_with_handle_unknown_error_is_encoded_as_zeros(
    tmp_path, capsys
):
    X, y = _penguins(200, 5)
    pipe = _penguin_pipeline(unknown="error").fit(X, y)
    model = save(pipe, tmp_path / "m.safetensors")
    test, _ = _penguins(20, 6)
    test.loc[:1, "island"] = "Atlantis"
    with pytest.raises(ValueError, match="unknown categories"):
        pipe.predict(test)
    data = tmp_path / "t.csv"
    test.to_csv(data, index=False)
    rows, err = _predict_cli(capsys, model, data, "--proba")
    assert "column 'island': 2 rows of 20 hold categories not seen" in err
    fitted = pipe[0].named_transformers_
    fitted["cat"]["onehot"].handle_unknown = "ignore"
    fitted["sex"].handle_unknown = "ignore"
    assert [r[0] for r in rows[1:]] == list(pipe.predict(test))


# -- regression, numpy input, a bare estimator -----------------------------------------------
def test_diabetes_regression_with_mean_imputation(tmp_path, capsys):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X.copy()
    X.iloc[::7, 2] = np.nan  # bmi missing in every 7th row
    pipe = make_pipeline(
        SimpleImputer(strategy="mean"),
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(16,), learning_rate=0.01, max_iter=300,
                     random_state=0),
    ).fit(X, y)  # fmt: skip
    assert pipe.score(X, y) > 0.4
    model = save(pipe, tmp_path / "d.safetensors")
    data = tmp_path / "d.csv"
    X[list(reversed(X.columns))].to_csv(data, index=False)
    rows, err = _predict_cli(capsys, model, data)
    assert rows[0] == ["prediction"]
    predicted = np.array([float(r[0]) for r in rows[1:]])
    np.testing.assert_allclose(predicted, pipe.predict(X), rtol=1e-12, atol=1e-9)
    assert "column 'bmi' 64 rows" in err  # the filled cells, counted
    _, record, _ = load_model(model)
    bmi = record.columns[2]
    assert bmi.strategy == "mean"
    assert bmi.fill == pytest.approx(np.nanmean(X["bmi"]), rel=1e-12)


def test_pipeline_fitted_on_numpy_reads_columns_x0_to_xd(tmp_path, capsys):
    X, y = load_iris(return_X_y=True)
    label = np.where(y == 2, "yes", "no")  # two classes: one sigmoid output
    pipe = make_pipeline(StandardScaler(), _classifier()).fit(X, label)
    model = save(pipe, tmp_path / "m.safetensors")
    _, record, _ = load_model(model)
    assert record.names == ["x0", "x1", "x2", "x3"] and record.classes == ["no", "yes"]
    data = tmp_path / "X.npz"
    np.savez(data, x=X)
    rows, _ = _predict_cli(capsys, model, data, "--proba")
    assert [r[0] for r in rows[1:]] == list(pipe.predict(X))
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(P, pipe.predict_proba(X), rtol=0, atol=1e-12)


def test_a_bare_estimator_fitted_on_a_dataframe(tmp_path, capsys):
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = _classifier(dtype="float32").fit(X, y)
    model = save(clf, tmp_path / "m.safetensors")
    net, record, _ = load_model(model)
    assert net.dtype == np.float32 and record.names == list(X.columns)
    data = tmp_path / "t.csv"
    X[X.columns[[2, 0, 3, 1]]].to_csv(data, index=False)
    rows, _ = _predict_cli(capsys, model, data)
    assert [int(r[0]) for r in rows[1:]] == list(clf.predict(X))


# -- refusals --------------------------------------------------------------------------------
def _fitted(*steps, X=None, y=None):
    if X is None:
        X, y = load_iris(return_X_y=True, as_frame=True)
    return make_pipeline(*steps, _classifier(max_iter=5)).fit(X, y)


@pytest.mark.parametrize(
    "step, named",
    [
        (PCA(n_components=2), "'pca', is a PCA"),
        (PolynomialFeatures(), "'polynomialfeatures', is a PolynomialFeatures"),
        (FunctionTransformer(np.tanh), "'functiontransformer', is a Function"),
    ],
)
def test_unknown_steps_are_refused_naming_step_and_class(tmp_path, step, named):
    pipe = _fitted(StandardScaler(), step)
    with pytest.raises(InputError, match=named.replace(", is a", " is a")):
        save(pipe, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_unknown_options_are_refused_naming_the_option(tmp_path):
    X, y = _penguins(200, 7)
    X = X.fillna({"island": "Dream", "sex": "male", "bill": 44.0, "mass": 4000.0})
    cases = [
        (OneHotEncoder(drop="first"), "drop='first'"),
        (OneHotEncoder(min_frequency=60), "min_frequency=60"),
    ]
    for encoder, option in cases:
        ct = ColumnTransformer([("cat", encoder, ["island", "sex"])],
                               remainder="passthrough")  # fmt: skip
        pipe = _fitted(ct, X=X, y=y)
        with pytest.raises(InputError, match=option):
            save(pipe, tmp_path / "m.safetensors")
    pipe = _fitted(SimpleImputer(missing_values=-1.0), StandardScaler())
    with pytest.raises(InputError, match="missing_values=-1.0"):
        save(pipe, tmp_path / "m.safetensors")
    twice = ColumnTransformer(
        [("a", StandardScaler(), ["bill"]), ("b", "passthrough", ["bill", "year"])]
    )
    with pytest.raises(InputError, match="column 'bill' goes to both 'a' and 'b'"):
        save(_fitted(twice, X=X, y=y), tmp_path / "m.safetensors")


def test_other_estimators_and_unfitted_ones_are_refused(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_iris(return_X_y=True, as_frame=True)
    with pytest.raises(InputError, match="last step 'mlpclassifier' is a MLPClass"):
        save(make_pipeline(StandardScaler(), SkMLP(max_iter=5)).fit(X, y),
             tmp_path / "m.safetensors")  # fmt: skip
    with pytest.raises(InputError, match="not fitted yet"):
        save(_classifier(), tmp_path / "m.safetensors")
    with pytest.raises(InputError, match=r"in one; got a LogisticRegression$"):
        save(LogisticRegression().fit(X, y), tmp_path / "m.safetensors")
    reg = MLPRegressor(loss="poisson", max_iter=5, random_state=0)
    with pytest.raises(InputError, match="poisson"):
        save(reg.fit(X, np.arange(len(y)) % 3), tmp_path / "m.safetensors")
    with pytest.raises(InputError, match="not one of the 4 input columns"):
        save(_fitted(StandardScaler()), tmp_path / "m.safetensors",
             target="petal width (cm)")  # fmt: skip
    with pytest.raises(InputError, match="preprocessing"):
        save(_fitted(StandardScaler()), tmp_path / "m.safetensors",
             metadata={"preprocessing": {}})  # fmt: skip
