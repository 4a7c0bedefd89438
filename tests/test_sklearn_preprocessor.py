"""glassnet's own table preprocessing as a scikit-learn transformer: the record
`glassnet train` fits, in a Pipeline before glassnet's estimator, saved as one model
file that `glassnet predict` reads by column name."""

import numpy as np
import pandas as pd
import pytest
from glassnet.sklearn import MLPClassifier, TablePreprocessor, save
from sklearn.utils.estimator_checks import parametrize_with_checks

from glassnet.cli import main
from glassnet.data.preprocessing import Preprocessing


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    size = rng.normal(size=n)
    y = np.where((colour == "red") | (size > 0.8), "yes", "no")
    colour[rng.random(n) < 0.05] = None
    size[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"size": size, "colour": colour, "label": y})


def test_the_transform_is_the_record_glassnet_train_fits():
    X = _table(200, 0).drop(columns="label")
    pre = TablePreprocessor().fit(X)
    columns = {"size": X["size"].to_numpy(),
               "colour": X["colour"].to_numpy(dtype=object)}  # fmt: skip
    record = Preprocessing.fit(columns, ["size", "colour"], "regression")
    assert pre.record_.to_metadata()["columns"] == record.to_metadata()["columns"]
    assert np.array_equal(pre.transform(X), record.transform(columns)[0])
    names = list(pre.get_feature_names_out())
    assert names == record.features and "colour=(missing)" in names
    # columns are found by name, not by position
    assert np.array_equal(pre.transform(X[["colour", "size"]]), pre.transform(X))


def test_an_unseen_category_warns_and_adds_nothing():
    pre = TablePreprocessor().fit(_table(100, 1).drop(columns="label"))
    with pytest.warns(UserWarning, match="column 'colour': 1 row"):
        Z = pre.transform(pd.DataFrame({"size": [0.0], "colour": ["purple"]}))
    onehot = [i for i, f in enumerate(pre.get_feature_names_out()) if "=" in f]
    assert not Z[0, onehot].any()


def test_errors_name_the_column():
    X = _table(50, 2).drop(columns="label")
    with pytest.raises(ValueError, match="categorical names 'age'"):
        TablePreprocessor(categorical=["age"]).fit(X)
    pre = TablePreprocessor().fit(X)
    with pytest.raises(ValueError, match="lacks the column 'colour'"):
        pre.transform(X[["size"]])


# a short fit on purpose: it may stop at max_iter
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_learns_and_saves_as_one_model_file(tmp_path, capsys):
    from sklearn.pipeline import make_pipeline

    train, test = _table(600, 3), _table(200, 4)
    pipe = make_pipeline(
        TablePreprocessor(),
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
    ).fit(train.drop(columns="label"), train["label"])
    assert pipe.score(test.drop(columns="label"), test["label"]) > 0.9
    path = save(pipe, tmp_path / "m.safetensors", target="label")
    data = tmp_path / "test.csv"
    test[["label", "colour", "size"]].to_csv(data, index=False)  # another order
    capsys.readouterr()
    assert main(["predict", str(path), str(data), "--quiet"]) == 0
    predicted = capsys.readouterr().out.split()[1:]
    assert predicted == list(pipe.predict(test.drop(columns="label")))


@parametrize_with_checks([TablePreprocessor()])
def test_scikit_learn_checks(estimator, check):
    """Every check of scikit-learn's, with the default constructor, no xfails."""
    check(estimator)
