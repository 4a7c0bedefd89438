"""The tabular command line as a user meets it: held-out test rows scored by train and
again by evaluate (exactly the same rows), explain's --input as a CSV row of raw cells
(quoted commas, booleans in any case the CSV reader takes, a clear message for a bad
number), the preprocessing as equation steps, and the filled-cells note."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from glassnet import tabular
from glassnet.cli import main
from glassnet.cli.heldout import rows_of, subset
from glassnet.cli.train_data import builtin_table, read_data


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- --test-split and evaluate --rows --------------------------------------------------
@pytest.fixture(scope="module")
def penguins_model(tmp_path_factory):
    pytest.importorskip("palmerpenguins")
    folder = tmp_path_factory.mktemp("pg")
    model = folder / "pg.safetensors"
    argv = ["train", "--dataset", "penguins", "--test-split", "0.25", "--epochs", "8",
            "--hidden", "16", "--seed", "3", "--out", model, "--quiet"]  # fmt: skip
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([str(a) for a in argv]) == 0
    return model, out.getvalue()


def test_train_holds_out_test_rows_before_the_validation_split_and_the_fit(
    penguins_model,
):
    model, out = penguins_model
    n, n_test = 344, math.ceil(0.25 * 344)  # split_indices: ceil(F n) test rows
    n_val = math.ceil(0.1 * (n - n_test))  # --val-split 0.1 of the other rows
    _, record, metadata = tabular.load_model(model)
    split = metadata["test_split"]
    assert (split["fraction"], split["seed"], split["n_rows"]) == (0.25, 3, n)
    assert split["n_test"] == n_test
    assert record.n_train == n - n_test - n_val  # the record never saw test rows
    shown = (
        f"test ({n_test} held-out rows): test_loss {split['result']['test_loss']:.4f}"
    )
    assert shown in out


def test_evaluate_rows_test_scores_exactly_the_rows_train_held_out(
    penguins_model, capsys
):
    model, _ = penguins_model
    net, record, metadata = tabular.load_model(model)
    # the rows train held out, as train's own reader draws them
    settings = dict(metadata["train"], data=None, dataset="penguins")
    data = read_data(settings, quiet=True)
    # ... and the rows evaluate draws again from the model file
    table = builtin_table("penguins")
    test = subset(table, rows_of(table, metadata, "test", str(model)))
    Z, _ = record.transform(test.columns)
    np.testing.assert_array_equal(Z, data.test[0])
    assert set(test.columns["species"]) <= set(record.classes)
    # through the command line: the same loss train stored, and test + train = all
    reports = {}
    for rows in ("test", "train", "all"):
        argv = ["evaluate", model, "--dataset", "penguins", "--rows", rows, "--json"]
        code, out, _ = run(argv, capsys)
        assert code == 0
        reports[rows] = json.loads(out)
    assert reports["test"]["n_rows"] == metadata["test_split"]["n_test"]
    assert reports["test"]["loss"] == pytest.approx(
        metadata["test_split"]["result"]["test_loss"], rel=1e-5
    )
    assert reports["test"]["metrics"]["accuracy"] == pytest.approx(
        metadata["test_split"]["result"]["test_accuracy"]
    )
    C = {k: np.array(r["confusion_matrix"]) for k, r in reports.items()}
    np.testing.assert_array_equal(C["test"] + C["train"], C["all"])
    assert C["all"].sum() == 344


def test_evaluate_rows_test_refuses_other_data_and_models_without_a_split(
    penguins_model, tmp_path, capsys
):
    model, _ = penguins_model
    code, _, err = run(
        ["evaluate", model, "--dataset", "iris", "--rows", "test"], capsys
    )
    assert code == 1
    assert "is not the data" in err and "fingerprint differs" in err
    # the same rows written to a CSV file are the same data; one cell changed is not
    table = builtin_table("penguins")
    rows = [
        [
            "" if _empty(table.columns[n][i]) else table.columns[n][i]
            for n in table.names
        ]
        for i in range(table.n_rows)
    ]
    path = tmp_path / "pg.csv"
    _write(path, table.names, rows)
    code, out, _ = run(["evaluate", model, path, "--rows", "test", "--json"], capsys)
    assert code == 0 and json.loads(out)["n_rows"] == math.ceil(0.25 * 344)
    rows[5][2] = float(rows[5][2]) + 0.1  # bill_length_mm of one row
    _write(path, table.names, rows)
    code, _, err = run(["evaluate", model, path, "--rows", "test"], capsys)
    assert code == 1 and "is not the data" in err
    code, _, _ = run(["evaluate", model, path, "--quiet"], capsys)  # --rows all: any
    assert code == 0
    plain = tmp_path / "plain.safetensors"
    argv = ["train", "--dataset", "xor", "--epochs", "1", "--out", plain, "--quiet"]
    assert run(argv, capsys)[0] == 0
    code, _, err = run(
        ["evaluate", plain, "--dataset", "xor", "--rows", "test"], capsys
    )
    assert code == 1 and "stores no held-out test rows" in err
    code, _, err = run(["evaluate", plain], capsys)
    assert code == 2 and "give either DATA" in err  # a usage error


def test_evaluate_rows_test_on_the_data_file_trained_on(tmp_path, capsys):
    rng = np.random.default_rng(7)
    path = tmp_path / "t.csv"
    x = rng.normal(size=60)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x", "colour", "y"])
        for i, v in enumerate(x):
            writer.writerow([f"{v:.6f}" if i % 7 else "", "red" if v > 0 else "blue",
                             "hi" if v > 0 else "lo"])  # fmt: skip
    model = tmp_path / "m.safetensors"
    argv = ["train", path, "--target", "y", "--test-split", "0.3", "--epochs", "2",
            "--hidden", "4", "--out", model, "--quiet"]  # fmt: skip
    code, out, _ = run(argv, capsys)
    assert code == 0 and "test (18 held-out rows)" in out
    code, out, _ = run(["evaluate", model, path, "--rows", "test", "--json"], capsys)
    assert code == 0 and json.loads(out)["n_rows"] == 18
    assert run(["train", path, "--target", "y", "--test-split", "1"], capsys)[0] == 1


def _write(path, header, rows) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# -- explain --input: one raw cell per column, as a CSV row ----------------------------
@pytest.fixture(scope="module")
def city_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    path = folder / "city.csv"
    rng = np.random.default_rng(1)
    cities = ["Paris, FR", "Lyon", "Nice"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["city", "flag", "size", "label"])
        for i in range(60):
            size = "" if i % 9 == 0 else f"{rng.normal():.4f}"
            flag = ["True", "False"][i % 2]
            writer.writerow([cities[i % 3], flag, size, "a" if i % 3 else "b"])
    model = folder / "m.safetensors"
    argv = ["train", path, "--target", "label", "--epochs", "2", "--hidden", "4",
            "--out", model, "--quiet"]  # fmt: skip
    assert main([str(a) for a in argv]) == 0
    return path, model


def _walk(model, cells, capsys):
    code, out, err = run(
        ["explain", "--model", model, "--input", cells, "--format", "json"], capsys
    )
    assert code == 0, err
    return json.loads(out)


def test_explain_input_is_a_csv_row_with_quoted_commas(city_model, capsys):
    _, model = city_model
    _, record, _ = tabular.load_model(model)
    assert record.names == ["city", "flag", "size"]
    walk = _walk(model, '"Paris, FR",True,0.5', capsys)
    city, flag, size = record.columns
    # by hand: Paris, FR is the category at its sorted place; flag True is 2 of 2
    onehot = [1.0 if c == "Paris, FR" else 0.0 for c in city.categories]
    assert sorted(city.categories) == ["Lyon", "Nice", "Paris, FR"]
    assert walk["x"][0][:3] == onehot
    assert walk["x"][0][3:5] == [0.0, 1.0]
    assert walk["x"][0][5] == 0.5 and walk["x"][0][6:] == [0.0]  # m = 0: present
    # two samples, the first cell quoted with a ";" in it is not a sample break
    code, _, err = run(
        ["explain", "--model", model, "--input", '"Paris; FR",True,1;Lyon,False,'],
        capsys,
    )
    assert code == 0 and "not seen in training" not in err


def test_explain_booleans_read_as_the_csv_reader_reads_them(city_model, capsys):
    _, model = city_model
    walks = [_walk(model, f"Lyon,{text},0.5", capsys)["x"] for text in
             ("True", "true", "TRUE")]  # fmt: skip
    assert walks[0] == walks[1] == walks[2]
    assert walks[0][0][3:5] == [0.0, 1.0]  # the True category, not the unknown slot
    assert _walk(model, "Lyon,false,0.5", capsys)["x"][0][3:5] == [1.0, 0.0]


def test_explain_bad_number_names_the_column_and_the_cell(city_model, capsys):
    _, model = city_model
    code, _, err = run(
        ["explain", "--model", model, "--input", "Lyon,True,abc"], capsys
    )
    assert code == 1
    assert err.strip().endswith(
        "--input: column 'size' takes a number, got 'abc' (leave the cell empty for "
        "a missing value)"
    )
    assert "read_csv" not in err and "Traceback" not in err


def test_explain_help_describes_raw_cells(capsys):
    assert main(["explain", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "one raw cell per column it reads" in out and "double quotes" in out


# -- the filled-cells note -------------------------------------------------------------
def test_filled_cells_are_a_note_that_quiet_silences_unknown_stays_a_warning(
    city_model, tmp_path, capsys
):
    _, model = city_model
    new = tmp_path / "new.csv"
    new.write_text("city,flag,size,label\nLyon,True,,a\nNice,False,0.1,b\n")
    code, _, err = run(["predict", model, new], capsys)
    assert code == 0
    assert err.startswith("note: ") and "empty cells filled as in training" in err
    assert "warning" not in err
    for command in (["predict", model, new], ["evaluate", model, new]):
        code, _, err = run([*command, "--quiet"], capsys)
        assert code == 0 and err == ""
    odd = tmp_path / "odd.csv"
    odd.write_text("city,flag,size,label\nRome,True,,a\n")
    code, _, err = run(["predict", model, odd, "--quiet"], capsys)
    assert code == 0
    assert err.startswith("warning: ") and "not seen in training" in err
    assert "empty cells" not in err


# -- explain: the preprocessing as equation steps ----------------------------------------
def test_explain_preprocessing_is_equation_steps_with_their_numbers(city_model, capsys):
    _, model = city_model
    _, record, _ = tabular.load_model(model)
    size = record.columns[2]
    walk = _walk(model, "Nice,False,", capsys)
    steps = {s["title"]: s for s in walk["steps"]}
    column_steps = [t for t in steps if t.startswith("Column ")]
    assert column_steps == [
        "Column 1, city: one-hot",
        "Column 2, flag: one-hot",
        "Column 3, size: numeric, the empty cell filled",
        "Column 3, size: missing-value indicator",
    ]
    assert steps["Column 1, city: one-hot"]["latex"] == "x_{1} = e_{2}"  # Nice: 2 of 3
    assert steps["Column 3, size: numeric, the empty cell filled"]["latex"].startswith(
        r"x_{3} = \begin{cases} \mathrm{median} & \text{if } \mathrm{empty}"
    )
    numbers = walk["preprocessing"]
    # by hand: the categories sorted; the empty cell takes the stored median, m = 1
    assert numbers["pre.1.x"] == [[0.0, 1.0, 0.0]] and numbers["pre.2.x"] == [
        [1.0, 0.0]
    ]
    fill = float(np.float32(size.fill))  # x is in the network's dtype, float32
    assert numbers["pre.3.fill"] == size.fill and numbers["pre.3.x"] == [[fill]]
    assert numbers["pre.3.m"] == [[1.0]]
    x = np.array([[0, 1, 0, 1, 0, fill, 1]], dtype=float)
    assert walk["x"] == x.tolist()  # the one encoded vector: the blocks stacked
    z = (x - np.array(numbers["mean"])) / np.array(numbers["scale"])
    assert z[0, 5] == pytest.approx((size.fill - size.mean) / size.scale)
    # the text: one symbol, x, for the encoded input; no x̃ left over
    code, out, _ = run(["explain", "--model", model, "--input", "Nice,False,"], capsys)
    assert code == 0 and "x̃" not in out
    assert "x = stack(x1, x2, x3, m3)" in out and "x_std = (x − μ)/σ" in out


def test_explain_fills_an_empty_cell_for_a_numeric_table_model(tmp_path, capsys):
    model = tmp_path / "xor.safetensors"
    argv = ["train", "--dataset", "xor", "--epochs", "1", "--out", model, "--quiet"]
    assert run(argv, capsys)[0] == 0
    _, record, _ = tabular.load_model(model)
    assert record.plain  # numbers only: --input "a,b" as before
    walk = _walk(model, "0.25,", capsys)
    x1 = record.columns[1]
    assert walk["preprocessing"]["pre.2.x"] == [[float(np.float32(x1.fill))]]
    assert walk["x"] == [[0.25, float(np.float32(x1.fill))]]
    plain = _walk(model, "0.25,1", capsys)  # no empty cell: no column steps
    assert set(plain["preprocessing"]) == {"mean", "scale"}
    assert not any(s["title"].startswith("Column ") for s in plain["steps"])
