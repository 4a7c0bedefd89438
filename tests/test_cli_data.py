"""glassnet train / predict / evaluate on data files: each bad-data error (one line,
exit 1, no traceback), the task rule, standardisation on the training rows only,
file formats, built-in datasets, progress output, resuming (including after Ctrl-C),
the ONNX standardisation nodes and glassnet info's record section."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import signal
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import tabular
from glassnet.cli import main
from glassnet.data import tables


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def quietly(argv) -> int:
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        return main([str(a) for a in argv])


def animals(n=80, seed=0):
    """Three features of very different scales and a text label they determine."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [10.0, 1.0, 100.0] + [5.0, 0.0, -50.0]
    score = (X[:, 0] - 5) / 10 + X[:, 1]
    labels = np.where(score > 0.5, "cat", np.where(X[:, 2] > -50, "dog", "emu"))
    return X, labels


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def animals_csv(path, n=80, seed=0):
    X, labels = animals(n, seed)
    rows = [
        [repr(float(v)) for v in x] + [lab] for x, lab in zip(X, labels, strict=True)
    ]
    return write_csv(path, ["a", "b", "c", "animal"], rows), X, labels


def read_csv(text):
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained on animals.csv (no validation split) and its data."""
    folder = tmp_path_factory.mktemp("trained")
    path, X, labels = animals_csv(folder / "animals.csv")
    model = folder / "m.safetensors"
    args = ["train", path, "--target", "animal", "--epochs", "3", "--val-split", "0"]
    assert quietly([*args, "--out", model, "--quiet"]) == 0
    return {"folder": folder, "csv": path, "model": model, "X": X, "labels": labels}


# -- help ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
def test_help_shows_an_example(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0 and f"example: glassnet {command} " in out


def test_train_help_states_the_task_rule(capsys):
    out = run(["train", "--help"], capsys)[1]
    assert (
        "classification when the target column holds text or booleans, or at most"
        in (" ".join(out.split()))
    )
    assert "20 distinct whole numbers; regression otherwise (--task overrides)" in (
        " ".join(out.split())
    )


# -- bad data: one line, exit 1, no traceback ---------------------------------------------------
def _bad_files(folder):
    animals_csv(folder / "ok.csv")
    (folder / "d.txt").write_text("a,b\n1,2\n")
    X, labels = animals(12)
    rows = [
        [repr(float(v)) for v in x] + [lab] for x, lab in zip(X, labels, strict=True)
    ]
    write_csv(folder / "color.csv", ["a", "color", "animal"],
              [[r[0], ["red", "blue"][i % 2], r[3]] for i, r in enumerate(rows)])  # fmt: skip
    nan_rows = [list(r) for r in rows]
    nan_rows[2][1] = ""
    nan_rows[5][0] = "nan"
    write_csv(folder / "nan.csv", ["a", "b", "c", "animal"], nan_rows)
    qmark_rows = [list(r) for r in rows]
    qmark_rows[3][1] = "?"
    write_csv(folder / "qmark.csv", ["a", "b", "c", "animal"], qmark_rows)
    write_csv(folder / "few.csv", ["a", "b", "c", "animal"], rows[:5])
    write_csv(folder / "one.csv", ["a", "y"], [[str(i), "same"] for i in range(12)])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nope.csv", "--target", "y"], "no such data file: nope.csv"),
        (["d.txt", "--target", "b"], "unknown data format '.txt'; expected one of .csv"),
        (["ok.csv", "--target", "animl"], "no target column 'animl'; did you mean 'animal'?"),
        (["ok.csv", "--target", "animal", "--features", "a,bb"], "no feature column 'bb'; did you mean 'b'?"),
        (["qmark.csv", "--target", "animal"], "column 'b' holds numbers, but row 4 (counting data rows from 1) holds '?', which is not a number; convert the column to numbers: mark such cells as missing when reading (pandas read_csv(..., na_values=['?'])) or fix the cell"),
        (["few.csv", "--target", "animal"], "few.csv has 5 data rows; training needs at least 10"),
        (["one.csv", "--target", "y"], "holds a single value ('same'); classification needs at least 2 classes"),
        (["ok.csv", "--target", "animal", "--task", "regression"], "target column 'animal' holds text ('dog'); regression needs numbers"),
        (["ok.csv", "--target", "animal", "--loss", "mse"], "--loss mse is a regression loss"),
        (["ok.csv", "--target", "animal", "--loss", "binary_crossentropy"], "needs 2 classes, the target has 3"),
        (["ok.csv"], "DATA (ok.csv) needs --target COLUMN"),
        (["ok.csv", "--target", "animal", "--every", "2"], "--every needs --checkpoint-dir DIR"),
        (["ok.csv", "--target", "animal", "--resume"], "--resume needs --checkpoint-dir DIR"),
        (["ok.csv", "--target", "animal", "--val-split", "1.5"], "--val-split must be in [0, 1), got 1.5"),
        (["ok.csv", "--target", "animal", "--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["ok.csv", "--target", "animal", "--activation", "swishy"], "--activation: "),
        (["ok.csv", "--target", "animal", "--hidden", "8,8", "--activation", "relu,tanh,relu"], "--activation gives 3 names for 2 hidden layers"),
        (["--dataset", "iris", "ok.csv"], "give either DATA or --dataset, not both"),
    ],
)  # fmt: skip
def test_train_bad_input_is_one_line_exit_1(
    tmp_path, monkeypatch, capsys, argv, message
):
    _bad_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["train", *argv, "--out", "m.safetensors"], capsys)
    assert code == 1
    assert err.startswith("glassnet train: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()


def test_text_columns_and_empty_cells_train(tmp_path, monkeypatch, capsys):
    """A text column is one-hot encoded and an empty cell filled with the training
    median (they were refused before the record had categories and fills)."""
    _bad_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    kinds = {}
    for name in ("color.csv", "nan.csv"):
        argv = ["train", name, "--target", "animal", "--epochs", "1", "--quiet",
                "--val-split", "0", "--out", f"{name}.safetensors"]  # fmt: skip
        assert run(argv, capsys)[0] == 0
        _, record, _ = tabular.load_model(tmp_path / f"{name}.safetensors")
        kinds[name] = [(c.kind, getattr(c, "indicator", None)) for c in record.columns]
    k = "numeric"
    assert kinds["color.csv"] == [(k, False), ("categorical", None)]
    assert kinds["nan.csv"] == [(k, True), (k, True), (k, False)]


def test_usage_errors_exit_2(tmp_path, capsys):
    code, _, err = run(["train", "x.csv", "--hidden", "64,x"], capsys)
    assert code == 2 and "expected comma-separated layer widths such as 64,32" in err


def test_without_pandas_csv_names_the_data_extra_and_npz_still_trains(
    tmp_path, monkeypatch, capsys
):
    path, X, labels = animals_csv(tmp_path / "d.csv")
    codes = tabular.encode_labels(labels, ["cat", "dog", "emu"])
    np.savez(tmp_path / "d.npz", X=X, label=codes)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    code, _, err = run(["train", path, "--target", "animal"], capsys)
    assert code == 1 and "needs pandas" in err and "pip install 'glassnet[data]'" in err
    assert err.count("\n") == 1
    model = tmp_path / "m.safetensors"
    args = ["train", tmp_path / "d.npz", "--target", "label", "--epochs", "1"]
    code, out, err = run([*args, "--out", model, "--quiet"], capsys)
    assert code == 0, err
    _, record, _ = tabular.load_model(model)
    assert record.features == ["X0", "X1", "X2"] and record.classes == [0, 1, 2]


def test_predict_and_evaluate_bad_data(trained, tmp_path, capsys):
    model, X = trained["model"], trained["X"]
    rows = [[repr(float(v)) for v in x[:2]] + ["cat"] for x in X[:5]]
    write_csv(tmp_path / "two.csv", ["a", "b", "animal"], rows)
    write_csv(tmp_path / "empty.csv", ["a", "b", "c"], [])
    yak = [[repr(float(v)) for v in x] + [lab] for x, lab in zip(X[:4], ["cat", "yak", "dog", "gnu"], strict=True)]  # fmt: skip
    write_csv(tmp_path / "yak.csv", ["a", "b", "c", "animal"], yak)
    write_csv(
        tmp_path / "text.csv", ["a", "b", "c"], [["1", "x", "2"], ["2", "y", "3"]]
    )
    plain = gn.Sequential(gn.Dense(4, 2, "softmax"), seed=0)
    gn.save(plain, tmp_path / "plain.safetensors")
    cases = [
        (["predict", model, tmp_path / "two.csv"],
         "lacks 1 of the model's 3 feature columns: 'c' (DATA has 'a', 'b', 'animal'); the model was trained on a, b, c"),
        (["predict", tmp_path / "plain.safetensors", tmp_path / "two.csv"],
         "two.csv has 3 feature columns but the model takes 4 (it was saved without a preprocessing record, so DATA's columns are used as they are, in order)"),
        (["predict", model, tmp_path / "empty.csv"],
         "has 0 data rows; prediction needs at least 1"),
        (["predict", model, tmp_path / "text.csv"], "column 'b' held numbers in training, but row 1 (counting data rows from 1) holds 'x'"),
        (["predict", tmp_path / "nope.safetensors", trained["csv"]], "no such model file: "),
        (["evaluate", model, tmp_path / "yak.csv"],
         "column 'animal' has labels 'gnu', 'yak' the model never saw in training; it knows 3 classes: 'cat', 'dog', 'emu'"),
        (["evaluate", tmp_path / "plain.safetensors", trained["csv"]],
         "--target COLUMN is needed"),
        (["evaluate", model, trained["csv"], "--target", "animl"], "did you mean 'animal'?"),
    ]  # fmt: skip
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == 1, (argv, err)
        assert err.startswith(f"glassnet {argv[0]}: error: ") and message in err, err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_predict_on_a_model_without_record_uses_columns_as_they_are(tmp_path, capsys):
    net = gn.Sequential(gn.Dense(2, 3, "softmax"), dtype="float64", seed=0)
    gn.save(net, tmp_path / "plain.safetensors")
    X = np.array([[0.5, -1.0], [2.0, 3.0], [-1.5, 0.25]])
    np.save(tmp_path / "x.npy", X)
    code, out, err = run(
        ["predict", tmp_path / "plain.safetensors", tmp_path / "x.npy", "--proba"],
        capsys,
    )
    assert code == 0, err
    rows = read_csv(out)
    assert rows[0] == ["prediction", "proba_0", "proba_1", "proba_2"]
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    Z = X @ net.layers[0].W.T + net.layers[0].b
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(P, E / E.sum(axis=1, keepdims=True), rtol=1e-15)
    assert [int(r[0]) for r in rows[1:]] == Z.argmax(axis=1).tolist()


# -- the task rule and the record ------------------------------------------------------------------
def test_standardisation_is_fitted_on_the_training_rows_only(tmp_path):
    path, X, labels = animals_csv(tmp_path / "d.csv", n=60)
    model = tmp_path / "m.safetensors"
    args = ["train", path, "--target", "animal", "--epochs", "1", "--seed", "3"]
    assert quietly([*args, "--val-split", "0.25", "--out", model]) == 0
    _, record, meta = tabular.load_model(model)
    n_val = math.ceil(0.25 * 60)
    assert record.n_train == 60 - n_val
    # The validation rows: the stratified split drawn from the stream [seed, 0, 2].
    codes = tabular.encode_labels(labels, ["cat", "dog", "emu"])
    train_rows, val_rows = gn.datasets.split_indices(
        60, 0.25, codes, np.random.default_rng([3, 0, 2])
    )
    assert len(val_rows) == n_val
    np.testing.assert_allclose(record.mean, X[train_rows].mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(record.scale, X[train_rows].std(axis=0), rtol=1e-12)
    assert not np.allclose(record.mean, X.mean(axis=0), rtol=1e-6)
    # without a split, the whole file's mean and population std, by hand
    assert meta["train"]["val_split"] == 0.25 and meta["train"]["seed"] == 3
    assert quietly([*args, "--val-split", "0", "--out", model]) == 0
    _, record, meta = tabular.load_model(model)
    mean = X.sum(axis=0) / 60
    std = np.sqrt(((X - mean) ** 2).sum(axis=0) / 60)
    np.testing.assert_allclose(record.mean, mean, rtol=1e-13)
    np.testing.assert_allclose(record.scale, std, rtol=1e-12)
    assert record.classes == ["cat", "dog", "emu"] and record.target == "animal"
    assert meta["train"]["val_split"] == 0 and meta["train"]["seed"] == 3


def test_regression_is_chosen_for_a_real_valued_target_and_evaluated(tmp_path, capsys):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 2))
    y = 3.0 * X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=80)
    rows = [[repr(float(a)), repr(float(b)), repr(float(t))] for (a, b), t in zip(X, y, strict=True)]  # fmt: skip
    path = write_csv(tmp_path / "r.csv", ["u", "v", "price"], rows)
    model = tmp_path / "r.safetensors"
    code, out, err = run(
        ["train", path, "--target", "price", "--epochs", "30", "--lr", "0.01",
         "--hidden", "16", "--val-split", "0", "--out", model],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "target 'price' -> regression" in out and "mae" in out
    net, record, _ = tabular.load_model(model)
    assert record.task == "regression" and record.classes is None
    assert net.layers[-1].activation.name == "identity" and net.out_features == 1
    code, out, _ = run(["predict", model, path], capsys)
    assert code == 0
    rows = read_csv(out)
    assert rows[0] == ["prediction"]
    predicted = np.array([float(r[0]) for r in rows[1:]])
    code, report, _ = run(
        ["evaluate", model, path, "--plot", tmp_path / "r.png"], capsys
    )
    assert code == 0
    mse = float(np.mean((predicted - y) ** 2))
    r2 = 1 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2)
    assert f"mse         {mse:.6g}" in report
    assert f"rmse        {math.sqrt(mse):.6g}" in report
    assert f"mae         {np.mean(np.abs(predicted - y)):.6g}" in report
    assert f"r2          {r2:.4f}" in report and r2 > 0.9
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run(["predict", model, path, "--proba"], capsys)
    assert code == 1 and "--proba needs a classifier" in err


def test_task_override_and_integer_classes(tmp_path, capsys):
    rows = [[str(i), str(i % 3 + 1)] for i in range(30)]
    path = write_csv(tmp_path / "k.csv", ["x", "k"], rows)
    model = tmp_path / "k.safetensors"
    base = ["train", path, "--target", "k", "--epochs", "1", "--quiet", "--out", model]
    assert run(base, capsys)[0] == 0
    net, record, _ = tabular.load_model(model)
    assert record.task == "classification" and record.classes == [1, 2, 3]
    assert net.layers[-1].activation.name == "softmax" and net.out_features == 3
    assert run([*base, "--task", "regression"], capsys)[0] == 0
    net, record, _ = tabular.load_model(model)
    assert record.task == "regression" and net.out_features == 1
    # two classes: one sigmoid output; --loss cross_entropy asks for softmax
    rows = [[str(i), "yes" if i % 2 else "no"] for i in range(30)]
    path = write_csv(tmp_path / "b.csv", ["x", "ok"], rows)
    base = ["train", path, "--target", "ok", "--epochs", "1", "--quiet", "--out", model]
    assert run(base, capsys)[0] == 0
    net, record, _ = tabular.load_model(model)
    assert net.out_features == 1 and net.layers[-1].activation.name == "sigmoid"
    assert record.classes == ["no", "yes"]
    assert run([*base, "--loss", "cross_entropy"], capsys)[0] == 0
    assert tabular.load_model(model)[0].layers[-1].activation.name == "softmax"


def test_parquet_and_npy_files_train_and_predict(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, labels = animals(60)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "animal": labels})
    frame.to_parquet(tmp_path / "d.parquet")
    model = tmp_path / "p.safetensors"
    args = ["train", tmp_path / "d.parquet", "--target", "animal", "--epochs", "2"]
    assert run([*args, "--quiet", "--out", model], capsys)[0] == 0
    code, out, _ = run(["predict", model, tmp_path / "d.parquet"], capsys)
    assert code == 0 and set(r[0] for r in read_csv(out)[1:]) <= {"cat", "dog", "emu"}
    # .npy: columns "0".."3", the last one the target
    np.save(tmp_path / "d.npy", np.column_stack([X, (X[:, 0] > 5).astype(float)]))
    args = ["train", tmp_path / "d.npy", "--target", "3", "--epochs", "2", "--quiet"]
    assert run([*args, "--out", model], capsys)[0] == 0
    net, record, _ = tabular.load_model(model)
    assert record.features == ["0", "1", "2"] and record.classes == [0.0, 1.0]
    np.save(tmp_path / "new.npy", X[:7])
    code, out, _ = run(["predict", model, tmp_path / "new.npy"], capsys)
    rows = read_csv(out)
    expected = net.predict_classes(record.transform(X[:7])[0])
    assert [float(r[0]) for r in rows[1:]] == expected.astype(float).tolist()


def test_builtin_datasets_and_the_digits_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["train", "--dataset", "xor", "--epochs", "1"], capsys)
    assert code == 0, err
    assert "data: xor (built-in), 200 rows; target 'label' -> classification" in out
    _, record, meta = tabular.load_model(tmp_path / "model.safetensors")
    assert record.features == ["x0", "x1"] and record.classes == [0, 1]
    assert meta["train"]["dataset"] == "xor"
    code, out, err = run(["train", "--epochs", "1", "--out", "d.safetensors"], capsys)
    assert code == 0, err
    assert "data: digits (built-in), 1797 rows" in out
    net, record, _ = tabular.load_model(tmp_path / "d.safetensors")
    assert len(record.features) == 64 and record.features[9] == "pixel_1_1"
    assert record.classes == list(range(10)) and net.out_features == 10
    X, _ = gn.datasets.load_digits()
    assert record.mean.max() <= 1.0  # pixels scaled to [0, 1] before standardising
    np.testing.assert_allclose(record.mean * 16, X.mean(axis=0), atol=0.1)


def test_progress_for_loading_training_and_prediction_and_quiet(
    trained, tmp_path, monkeypatch, capsys
):
    from glassnet.cli import predict

    monkeypatch.setattr(tables, "LARGE_FILE_BYTES", 100)
    monkeypatch.setattr(predict, "LARGE_PREDICT_ROWS", 10)
    monkeypatch.setattr(predict, "PREDICT_CHUNK", 16)
    model, data = trained["model"], trained["csv"]
    code, out, err = run(["predict", model, data, "--out", tmp_path / "p.csv"], capsys)
    assert code == 0
    assert f"reading {data}: 100%" in err and "predicting: 100%" in err
    assert "predicting: 25%" in err  # 80 rows in chunks of 16
    assert out == f"80 predictions written to {tmp_path / 'p.csv'}\n"
    code, out, err = run(["predict", model, data, "--quiet", "--out", tmp_path / "q.csv"], capsys)  # fmt: skip
    assert code == 0 and out == "" and err == ""
    assert (tmp_path / "q.csv").read_text() == (tmp_path / "p.csv").read_text()
    args = ["train", data, "--target", "animal", "--epochs", "2", "--out", tmp_path / "t.safetensors"]  # fmt: skip
    code, out, err = run(args, capsys)
    assert "reading" in err and "Epoch 1/2" in out and "Epoch 2/2" in out
    code, out, err = run([*args, "--quiet"], capsys)
    assert err == "" and "Epoch" not in out
    assert out.startswith(f"model written to {tmp_path / 't.safetensors'}")


# -- resuming -----------------------------------------------------------------------------------
def test_resume_refuses_a_different_run_or_data(tmp_path, capsys):
    path, X, _ = animals_csv(tmp_path / "d.csv", n=40)
    ckpt = tmp_path / "ckpt"
    base = ["train", path, "--target", "animal", "--checkpoint-dir", ckpt, "--quiet"]
    assert run([*base, "--epochs", "1", "--out", tmp_path / "m"], capsys)[0] == 0
    code, _, err = run([*base, "--epochs", "2"], capsys)
    assert (
        code == 1
        and "already holds checkpoints (newest: epoch-0001.safetensors)" in err
    )
    code, _, err = run([*base, "--resume", "--epochs", "2", "--hidden", "8"], capsys)
    assert code == 1
    assert "--hidden 8 differs from the checkpoint's 64,32; --resume continues the same run" in err  # fmt: skip
    other, _, _ = animals_csv(tmp_path / "other.csv", n=40, seed=1)
    args = ["train", other, "--target", "animal", "--checkpoint-dir", ckpt, "--resume"]
    code, _, err = run(args, capsys)
    assert code == 1 and "is not the data the checkpoint's run trained on" in err
    code, _, err = run([*base, "--resume", "--epochs", "2", "--out", tmp_path / "m2"], capsys)  # fmt: skip
    assert code == 0, err
    empty = tmp_path / "fresh"
    code, out, err = run(["train", path, "--target", "animal", "--checkpoint-dir", empty,
                          "--resume", "--epochs", "1", "--quiet", "--out", tmp_path / "m3"],
                         capsys)  # fmt: skip
    assert code == 0 and "no checkpoint in" in err and "starting a new run" in err


def test_ctrl_c_saves_a_mid_epoch_checkpoint_and_resume_is_bitwise(
    tmp_path, monkeypatch, capsys
):
    """A real SIGINT during training (the fit loop's handler stops after the step):
    the CLI writes a checkpoint at that step and exits 130; --resume (the same command)
    finishes, and the model equals one trained without interruption bit for bit."""
    from glassnet.cli import train

    path, _, _ = animals_csv(
        tmp_path / "d.csv", n=50
    )  # 45 training rows: 6 steps/epoch
    common = ["train", path, "--target", "animal", "--epochs", "3", "--batch-size", "8",
              "--optimizer", "sgd", "--lr", "0.05", "--quiet"]  # fmt: skip
    assert run([*common, "--out", tmp_path / "straight.safetensors"], capsys)[0] == 0

    class SigintAtStep(train.ModelCheckpoint):
        batches = 0

        def on_batch_end(self, step, logs):
            SigintAtStep.batches += 1
            if SigintAtStep.batches == 9:  # epoch 2, after its third step
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(train, "ModelCheckpoint", SigintAtStep)
    ckpt = tmp_path / "ckpt"
    args = [
        *common,
        "--checkpoint-dir",
        ckpt,
        "--out",
        tmp_path / "resumed.safetensors",
    ]
    code, _, err = run(args, capsys)
    assert code == 130
    assert "interrupted at epoch 2, step 3" in err and "--resume" in err
    assert not (tmp_path / "resumed.safetensors").exists()
    saved = sorted(p.name for p in ckpt.iterdir())
    assert saved == ["epoch-0001.safetensors", "interrupted-epoch-0001-step-000003.safetensors"]  # fmt: skip
    monkeypatch.setattr(train, "ModelCheckpoint", gn.ModelCheckpoint)
    code, out, err = run([*args, "--resume"], capsys)
    assert code == 0, err
    straight, meta_a = gn.load(tmp_path / "straight.safetensors", return_metadata=True)
    resumed, meta_b = gn.load(tmp_path / "resumed.safetensors", return_metadata=True)
    assert resumed.flat_params.tobytes() == straight.flat_params.tobytes()
    assert meta_a["preprocessing"] == meta_b["preprocessing"]


# -- ONNX with the standardisation --------------------------------------------------------------
@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float64", 1e-12)])
def test_onnx_standardisation_nodes_take_raw_features(tmp_path, dtype, tolerance):
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(5)
    mean, scale = np.array([5.0, -2.0, 300.0]), np.array([10.0, 0.5, 80.0])
    net = gn.Sequential(gn.Dense(3, 6, "tanh"), gn.Dense(6, 2, "softmax"), dtype=dtype, seed=1)  # fmt: skip
    model = gn.export_onnx(
        net, tmp_path / "s.onnx", standardize=(mean, scale),
        metadata_props={"glassnet.classes": '["no", "yes"]'},
    )  # fmt: skip
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Sub", "Div", "Gemm", "Tanh", "Gemm", "Softmax"]
    assert {p.key: p.value for p in model.metadata_props} == {"glassnet.classes": '["no", "yes"]'}  # fmt: skip
    X = (mean + scale * rng.normal(size=(50, 3))).astype(dtype)
    session = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])  # fmt: skip
    (output,) = session.run(None, {"input": X})
    expected = net.forward((X.astype(np.float64) - mean) / scale)
    assert np.abs(output - expected).max() <= tolerance
    with pytest.raises(ValueError, match=r"standardize mean must have shape \(3,\)"):
        gn.export_onnx(net, tmp_path / "x.onnx", standardize=(mean[:2], scale))
    with pytest.raises(ValueError, match="standardize scale must be positive"):
        gn.export_onnx(net, tmp_path / "x.onnx", standardize=(mean, -scale))


# -- info, evaluate --plot, attack without a record --------------------------------------------------
def test_info_shows_the_preprocessing_record(trained, capsys):
    code, out, _ = run(["info", trained["model"]], capsys)
    assert code == 0
    _, record, _ = tabular.load_model(trained["model"])
    assert (
        "Preprocessing (applied by glassnet predict, evaluate, attack, export):" in out
    )
    assert "task: classification of 'animal', 3 classes: 'cat', 'dog', 'emu'" in out
    assert "features (3), standardised z = (x - mean) / scale with the statistics of 80 training rows" in out  # fmt: skip
    assert f"    a        {record.mean[0]:12.6g}  {record.scale[0]:12.6g}" in out
    assert "Training run: data " in out and "hidden 64,32 (relu), adam, 3 epochs" in out
    assert "Last epoch: accuracy " in out and "Metadata:" not in out


def test_evaluate_plot_writes_the_confusion_matrix(trained, tmp_path, capsys):
    code, out, _ = run(["evaluate", trained["model"], trained["csv"], "--plot", tmp_path / "c.png"], capsys)  # fmt: skip
    assert code == 0 and f"figure written to {tmp_path / 'c.png'}" in out
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_attack_on_a_data_file_without_a_record(tmp_path, capsys):
    net = gn.Sequential(gn.Dense(2, 2, "softmax"), dtype="float64", seed=0)
    gn.save(net, tmp_path / "plain.safetensors")
    rows = [["0.1", "0.2", "1"], ["0.9", "-0.3", "0"], ["-0.5", "0.4", "1"]]
    write_csv(tmp_path / "d.csv", ["p", "q", "y"], rows)
    code, out, err = run(["attack", tmp_path / "plain.safetensors", tmp_path / "d.csv",
                          "--target", "y", "--eps", "0.1", "--method", "fgsm"], capsys)  # fmt: skip
    assert code == 0, err
    X = np.array([[0.1, 0.2], [0.9, -0.3], [-0.5, 0.4]])
    clean = float(np.mean(net.forward(X).argmax(axis=1) == [1, 0, 1]))
    assert f"clean accuracy: {clean:.4f}" in out
    write_csv(tmp_path / "t.csv", ["p", "q", "y"], [r[:2] + ["a"] for r in rows])
    code, _, err = run(["attack", tmp_path / "plain.safetensors", tmp_path / "t.csv", "--target", "y"], capsys)  # fmt: skip
    assert code == 1 and "holds text but the model has no stored class labels" in err
