"""glassnet train / predict / evaluate / info on tables with text, boolean and
integer-category columns and empty cells: the Palmer penguins and a generated table,
learned with accuracy margins; categories and empty cells met only at predict time;
columns missing at predict time or empty in training."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import glassnet as gn
from glassnet import tabular
from glassnet.cli import main
from glassnet.data import datasets


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def accuracy(out: str, truth: list[str]) -> float:
    predicted = [row[0] for row in read_csv(out)[1:]]
    assert len(predicted) == len(truth)
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


# -- a generated table: text, boolean and numeric columns, 5% empty cells ---------------------
CITIES = ["Lima", "Oslo", "Pune", "Rome"]


def generated(n: int, seed: int):
    """Rows whose label is a rule of a text, a boolean and a numeric column (so a
    model must use all three), with 5% of the feature cells empty."""
    rng = np.random.default_rng(seed)
    city = rng.integers(0, 4, n)
    flag = rng.random(n) < 0.5
    x = rng.normal(0.0, 2.0, n)
    score = np.array([-2.0, 2.0, -1.0, 1.0])[city] + 1.5 * np.where(flag, 1, -1) + x
    label = np.where(score > 0, "up", "down")
    rows = []
    for i in range(n):
        row = [repr(float(x[i])), CITIES[city[i]], str(bool(flag[i]))]
        for j in range(3):
            if rng.random() < 0.05:
                row[j] = ""
        rows.append([*row, label[i]])
    return rows


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    header = ["x", "city", "flag", "label"]
    write_rows(folder / "train.csv", header, generated(600, 1))
    write_rows(folder / "test.csv", header, generated(300, 2))
    model = folder / "m.safetensors"
    argv = ["train", folder / "train.csv", "--target", "label", "--hidden", "16",
            "--epochs", "40", "--seed", "0", "--quiet", "--out", model]  # fmt: skip
    assert main([str(a) for a in argv]) == 0
    return folder, model


def test_generated_table_trains_and_predicts_with_an_accuracy_margin(
    table_model, capsys
):
    folder, model = table_model
    test_rows = generated(300, 2)
    code, out, err = run(["predict", model, folder / "test.csv"], capsys)
    assert code == 0
    # 5% empty cells make some rows undecidable; the rule is otherwise exact
    assert accuracy(out, [r[-1] for r in test_rows]) >= 0.88
    assert "empty cells filled as in training" in err and "not seen" not in err
    code, out, _ = run(["evaluate", model, folder / "test.csv"], capsys)
    assert code == 0 and "accuracy" in out


def test_generated_table_record_is_fitted_on_the_training_rows(table_model):
    folder, model = table_model
    net, record, _ = tabular.load_model(model)
    x, city, flag = record.columns
    assert record.n_train == 540  # 600 rows less the 10% validation split
    assert (city.categories, city.encoding, city.missing) == (
        ("Lima", "Oslo", "Pune", "Rome", None), "onehot", True,
    )  # fmt: skip
    assert flag.categories == (False, True, None) and flag.missing
    assert x.indicator and net.in_features == record.n_inputs == 2 + 5 + 3
    assert record.features[-3:] == ["flag=False", "flag=True", "flag=(missing)"]
    # the fill is the median of the training rows' x (not of the validation rows)
    # (train's --val-split 0.1 drawn again: stratified, from the stream [seed, 0, 2])
    rows = generated(600, 1)
    y = np.array([r[-1] == "up" for r in rows], dtype=int)  # labels down=0, up=1
    train, _ = datasets.split_indices(600, 0.1, y, np.random.default_rng([0, 0, 2]))
    seen = np.array([float(rows[i][0]) for i in train if rows[i][0]])
    everyone = np.array([float(r[0]) for r in rows if r[0]])
    assert np.median(seen) != np.median(everyone)  # so the check tells them apart
    assert x.fill == np.median(seen)


def test_a_category_seen_only_at_predict_time_is_the_unknown_slot(
    table_model, tmp_path, capsys
):
    _, model = table_model
    rows = [["0.5", "Kyiv", "True", "up"], ["0.5", "Lima", "True", "up"],
            ["-1", "Kyiv", "False", "down"]]  # fmt: skip
    write_rows(tmp_path / "new.csv", ["x", "city", "flag", "label"], rows)
    code, out, err = run(["predict", model, tmp_path / "new.csv", "--proba"], capsys)
    assert code == 0
    assert err.count("\n") == 1
    assert "column 'city': 2 rows of 3 hold categories not seen in training" in err
    net, record, _ = tabular.load_model(model)
    z = (0.5 - record.columns[0].mean) / record.columns[0].scale
    unknown = np.array([[z, 0.0, 0, 0, 0, 0, 0, 0, 1, 0]])  # all city inputs 0
    expected = net.predict_proba(unknown)[0]
    got = [float(v) for v in read_csv(out)[1][1:]]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_empty_cell_at_predict_in_a_column_complete_in_training(tmp_path, capsys):
    rng = np.random.default_rng(3)
    a = rng.normal(5.0, 2.0, 80)
    b = rng.normal(size=80)
    rows = [[repr(float(u)), repr(float(v)), "hi" if u > 5 else "lo"]
            for u, v in zip(a, b, strict=True)]  # fmt: skip
    write_rows(tmp_path / "d.csv", ["a", "b", "y"], rows)
    model = tmp_path / "m.safetensors"
    argv = ["train", tmp_path / "d.csv", "--target", "y", "--hidden", "4",
            "--epochs", "2", "--quiet", "--out", model]  # fmt: skip
    assert run(argv, capsys)[0] == 0
    net, record, _ = tabular.load_model(model)
    assert [c.indicator for c in record.columns] == [False, False]
    write_rows(tmp_path / "new.csv", ["a", "b"], [["", "0.3"], [repr(record.columns[0].fill), "0.3"]])  # fmt: skip
    code, out, err = run(["predict", model, tmp_path / "new.csv", "--proba"], capsys)
    assert code == 0 and "filled as in training: column 'a' 1 row (of 2;" in err
    probs = [row[1:] for row in read_csv(out)[1:]]
    assert probs[0] == probs[1]  # the empty cell reads as the training median
    # the training median: train's default --val-split 0.1 and --seed 0 drawn again
    labels = (a <= 5).astype(int)  # hi=0, lo=1
    train, _ = datasets.split_indices(80, 0.1, labels, np.random.default_rng([0, 0, 2]))
    assert record.columns[0].fill == np.median(a[train]) != np.median(a)


def test_a_column_absent_at_predict_time_is_named(table_model, tmp_path, capsys):
    _, model = table_model
    write_rows(tmp_path / "two.csv", ["x", "flag"], [["1", "True"]])
    code, _, err = run(["predict", model, tmp_path / "two.csv"], capsys)
    assert code == 1 and err.count("\n") == 1
    assert "lacks 1 of the model's 3 feature columns: 'city'" in err


def test_a_column_empty_in_every_training_row_is_refused(tmp_path, capsys):
    rows = [[str(i), "", "a" if i % 2 else "b"] for i in range(20)]
    write_rows(tmp_path / "e.csv", ["a", "empty", "y"], rows)
    argv = ["train", tmp_path / "e.csv", "--target", "y", "--epochs", "1",
            "--quiet", "--out", tmp_path / "m.safetensors"]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code == 1 and err.count("\n") == 1
    assert "column 'empty' is empty in every training row" in err
    assert "--features" in err and not (tmp_path / "m.safetensors").exists()


def test_a_number_column_with_a_question_mark_says_convert_it(tmp_path, capsys):
    rows = [[str(i), "?" if i == 6 else f"{i / 3:.3f}", "a" if i % 2 else "b"]
            for i in range(20)]  # fmt: skip
    write_rows(tmp_path / "q.csv", ["a", "age", "y"], rows)
    argv = ["train", tmp_path / "q.csv", "--target", "y", "--quiet",
            "--out", tmp_path / "m.safetensors"]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code == 1 and err.count("\n") == 1
    assert "column 'age' holds numbers, but row 7 (counting data rows from 1)" in err
    assert "na_values=['?']" in err and "one-hot" not in err


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("code,code", "--categorical names 'code' twice"),
        ("size", "--categorical names 'size', which holds numbers that are not whole"),
    ],
)
def test_categorical_refuses_a_repeat_and_decimal_numbers(
    tmp_path, capsys, flag, message
):
    rows = [[str(i % 4), "" if i == 3 else str(i % 3), f"{i / 7:.3f}", "ab"[i % 2]]
            for i in range(20)]  # fmt: skip
    write_rows(tmp_path / "c.csv", ["code", "grade", "size", "y"], rows)
    argv = ["train", tmp_path / "c.csv", "--target", "y", "--epochs", "1", "--quiet",
            "--categorical", flag, "--out", tmp_path / "m.safetensors"]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code != 0 and err.count("\n") == 1 and message in err
    # an integer column with an empty cell is read as floats, and still takes the flag
    argv[argv.index(flag)] = "grade"
    assert run(argv, capsys)[0] == 0


def test_named_integer_column_is_one_hot_and_many_categories_embedded(tmp_path, capsys):
    rng = np.random.default_rng(4)
    n = 400
    shop = rng.integers(0, 40, n)  # 40 text categories: embedded
    grade = rng.integers(1, 4, n)  # integers named --categorical
    label = np.where((shop % 2 == 0) ^ (grade == 2), "yes", "no")
    rows = [
        [f"s{s}", str(g), lab] for s, g, lab in zip(shop, grade, label, strict=True)
    ]
    write_rows(tmp_path / "s.csv", ["shop", "grade", "y"], rows)
    model = tmp_path / "m.safetensors"
    argv = ["train", tmp_path / "s.csv", "--target", "y", "--categorical", "grade",
            "--hidden", "16", "--epochs", "60", "--lr", "0.01", "--quiet",
            "--out", model]  # fmt: skip
    assert run(argv, capsys)[0] == 0
    net, record, _ = tabular.load_model(model)
    shop_col, grade_col = record.columns
    assert (shop_col.encoding, shop_col.dim, len(shop_col.categories)) == (
        "embedding", 16, 40,
    )  # fmt: skip
    assert grade_col.categories == (1, 2, 3) and grade_col.encoding == "onehot"
    assert isinstance(net.layers[0], gn.Embedding)
    assert net.layers[0].index_columns == [0] and net.layers[0].n_categories == [40]
    code, out, _ = run(["predict", model, tmp_path / "s.csv"], capsys)
    assert code == 0 and accuracy(out, list(label)) >= 0.9  # training rows: a check
    code, out, _ = run(["info", model], capsys)
    assert "shop: categorical, 40 categories" in out and "embedding index" in out
    argv[argv.index("grade")] = "grad"
    code, _, err = run(argv, capsys)
    assert code == 1 and "--categorical names 'grad', which is not a feature" in err


# -- the Palmer penguins --------------------------------------------------------------------
@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    pytest.importorskip("palmerpenguins")
    from palmerpenguins import load_penguins

    frame = load_penguins()
    folder = tmp_path_factory.mktemp("penguins")
    rng = np.random.default_rng(0)
    test = rng.random(len(frame)) < 0.3
    frame[~test].to_csv(folder / "train.csv", index=False)
    frame[test].to_csv(folder / "test.csv", index=False)
    return folder, list(frame[test]["species"])


def test_penguins_train_predict_evaluate_info(penguins, capsys):
    folder, truth = penguins
    model = folder / "p.safetensors"
    argv = ["train", folder / "train.csv", "--target", "species", "--hidden", "16",
            "--epochs", "40", "--quiet", "--out", model]  # fmt: skip
    assert run(argv, capsys)[0] == 0
    code, out, _ = run(["predict", model, folder / "test.csv"], capsys)
    assert code == 0 and accuracy(out, truth) >= 0.95
    code, out, _ = run(["evaluate", model, folder / "test.csv"], capsys)
    assert code == 0 and "accuracy" in out
    code, out, _ = run(["info", model], capsys)
    assert code == 0
    assert (
        "island: categorical, 3 categories (Biscoe, Dream, Torgersen), one-hot" in out
    )
    assert "sex: categorical, 3 categories (female, male, (missing))" in out
    assert "bill_length_mm: numeric, z = (x - " in out and "(median)" in out


def test_builtin_penguins_dataset(tmp_path, capsys):
    pytest.importorskip("palmerpenguins")
    model = tmp_path / "p.safetensors"
    argv = ["train", "--dataset", "penguins", "--epochs", "1", "--hidden", "4",
            "--out", model]  # fmt: skip
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "target 'species' -> classification, 3 classes: Adelie, Chinstrap" in out
    assert "one-hot: island, sex" in out
    _, record, _ = tabular.load_model(model)
    assert record.target == "species" and record.n_inputs == 15


# -- explain: the preprocessing steps as equations, before the network's ---------------------
def test_explain_shows_fill_and_one_hot_then_standardisation(table_model, capsys):
    _, model = table_model
    net, record, _ = tabular.load_model(model)
    cells = {"x": np.array([None], object), "city": np.array(["Pune"], object),
             "flag": np.array(["True"], object)}  # fmt: skip
    trace = gn.explain(net, cells, [1], preprocessing=record)  # class 1: "up"
    x = record.columns[0]
    # by hand: x~ = fill, m = 1; Pune is category 3 of 5; flag True is 2 of 3
    by_hand = np.array([[(x.fill - x.mean) / x.scale, 1, 0, 0, 1, 0, 0, 0, 1, 0]])
    np.testing.assert_array_equal(trace["x_std"], by_hand.astype(net.dtype))
    np.testing.assert_allclose(
        trace["2.a"], net.predict_proba(by_hand)[:, 1:], rtol=1e-6
    )
    argv = ["explain", "--model", model, "--input", ",Pune,True", "--target", "up"]
    assert main([str(a) for a in argv]) == 0
    out = " ".join(capsys.readouterr().out.split())  # lines wrapped at 88 columns
    assert out.index("Preprocessing (stored with the model)") < out.index(
        "Standardisation (stored with the model)"
    )
    assert f"the cell is empty, so x1 = {x.fill:.6g}, the training median" in out
    assert "'Pune' is category 3 of 5, so x2 = e3" in out
    assert trace["pre.1.m"].tolist() == [[1.0]]  # the indicator m1 of the empty cell
    assert trace["pre.2.x"].tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0]]  # e3
    assert main(["explain", "--model", str(model), "--input", "1,Pune"]) == 1
    assert "the model reads 3 columns: x, city, flag" in capsys.readouterr().err


def test_attack_on_filled_and_one_hot_inputs_keeps_the_clean_accuracy(
    table_model, capsys
):
    """The attack folds the standardisation into the first layer and works on the
    filled, one-hot encoded columns: its clean accuracy is evaluate's."""
    folder, model = table_model
    code, out, _ = run(["evaluate", model, folder / "test.csv"], capsys)
    assert code == 0
    shown = next(line for line in out.splitlines() if "accuracy " in line).split()[1]
    code, out, _ = run(["attack", model, folder / "test.csv", "--eps", "0.1"], capsys)
    assert code == 0 and f"clean accuracy: {shown}" in out
