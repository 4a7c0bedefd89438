"""glassnet train's regularisation options (early stopping, L2, dropout, class
weights) and glassnet evaluate --json, each checked against figures computed here:
the weights early stopping keeps are those of a plain run to its best epoch, L2 is
torch.optim's weight_decay, the class-weighted loss is sum_i w_i L_i / sum_i w_i
computed from the model's own probabilities, evaluate --json agrees with the text."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.cli.predict import model_inputs
from glassnet.cli.tabular import load_model, read_table
from glassnet.cli.train import build_optimizer
from glassnet.cli.train_data import split


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def noisy_csv(path, n=120, seed=0):
    """Three unequal classes a, b, c from two of four features, 25% of labels
    flipped at random: a wide network overfits them within a few dozen epochs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    labels = np.where(X[:, 0] > 0.3, "a", np.where(X[:, 1] > 0.5, "b", "c"))
    flip = rng.random(n) < 0.25
    labels[flip] = rng.choice(["a", "b", "c"], size=int(flip.sum()))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["f0", "f1", "f2", "f3", "label"])
        for x, label in zip(X, labels, strict=True):
            writer.writerow([repr(float(v)) for v in x] + [label])
    return str(path)


def rows_of(model, data):
    """(net, Z, y, classes): the data file's rows as the model takes them, and the
    class indices of its labels (the classes in the model's sorted order)."""
    net, record, _ = load_model(model)
    table = read_table(data)
    classes = list(record.classes)
    y = np.array([classes.index(v) for v in table.columns["label"]])
    return net, model_inputs(table, net, record, exclude="label"), y, classes


def cross_entropy_rows(net, Z, y):
    """L_i = -log p_i[y_i], from the network's probabilities."""
    P = np.asarray(net.predict_proba(Z), dtype=np.float64)
    return -np.log(P[np.arange(len(y)), y])


def metadata(model):
    return load_model(model)[2]


TRAIN = ["--hidden", "64,64", "--lr", "0.02", "--dtype", "float64", "--quiet"]


# -- early stopping ----------------------------------------------------------------------
def test_early_stopping_stops_early_and_keeps_the_best_epochs_weights(tmp_path, capsys):
    data = noisy_csv(tmp_path / "noisy.csv")
    common = ["train", data, "--target", "label", *TRAIN, "--val-split", "0.3"]
    stopped = tmp_path / "stopped.safetensors"
    code, out, err = run(
        [*common, "--epochs", "300", "--early-stopping", "--patience", "4",
         "--out", stopped],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    record = metadata(stopped)["early_stopping"]
    best, last = record["best_epoch"], record["stopped_after_epoch"]
    assert last is not None and last < 300 and last == best + 4  # patience 4
    assert f"stopped after epoch {last} of 300" in out
    assert f"weights of epoch {best}" in out
    assert metadata(stopped)["train"]["early_stopping"] is True

    # The same run without early stopping, to the best epoch and to the last one.
    to_best, to_last = tmp_path / "best.safetensors", tmp_path / "last.safetensors"
    for epochs, out_file in ((best, to_best), (last, to_last)):
        assert run([*common, "--epochs", epochs, "--out", out_file], capsys)[0] == 0
    net, Z, y, _ = rows_of(stopped, data)
    assert np.array_equal(net.flat_params, load_model(to_best)[0].flat_params)

    # Validation loss computed here, on the rows the run held out.
    _, val_rows = split(len(y), 0.3, y, 0)
    kept = cross_entropy_rows(net, Z[val_rows], y[val_rows]).mean()
    final = cross_entropy_rows(load_model(to_last)[0], Z[val_rows], y[val_rows]).mean()
    assert kept == pytest.approx(record["best_val_loss"], rel=1e-9)
    assert kept == pytest.approx(metadata(stopped)["result"]["val_loss"], rel=1e-9)
    assert kept < final
    code, shown, _ = run(["info", stopped], capsys)
    assert code == 0 and f"Epoch {best} (best, kept by early stopping): " in shown


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--early-stopping", "--val-split", "0"], "needs validation rows"),
        (["--patience", "3"], "--patience goes with --early-stopping"),
        (["--early-stopping", "--patience", "0"], "--patience must be a positive"),
        (["--class-weight", "a=1,b"], "LABEL=WEIGHT"),
        (["--class-weight", "a=-1"], "weights >= 0"),
        (["--dropout", "1.0"], "[0, 1)"),
        (["--l2", "-0.1"], "expected a number >= 0"),
        (["--l2", "0.1", "--optimizer", "adamw"], "use --optimizer adam with --l2"),
        (["--hidden", "8", "--dropout", "0.1,0.2"], "2 probabilities for 1 hidden"),
        (["--hidden", "none", "--dropout", "0.1"], "--dropout needs hidden layers"),
        (["--class-weight", "balanced", "--stream"], "does not go with --stream"),
    ],
)
def test_option_misuse_is_a_one_line_usage_error(tmp_path, capsys, argv, message):
    code, out, err = run(
        ["train", "--epochs", "1", "--out", tmp_path / "m.safetensors", *argv], capsys
    )
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "m.safetensors").exists()


def test_class_weight_naming_an_unknown_label_or_a_regression_target(tmp_path, capsys):
    data = noisy_csv(tmp_path / "noisy.csv", n=40)
    out = tmp_path / "m.safetensors"
    code, _, err = run(
        ["train", data, "--target", "label", "--epochs", "1", "--quiet",
         "--class-weight", "a=2,zebra=1", "--out", out],
        capsys,
    )  # fmt: skip
    assert code == 2 and "'zebra'" in err and "classes: a, b, c" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(
        ["train", data, "--target", "f3", "--features", "f0,f1", "--epochs", "1", "--quiet",
         "--class-weight", "balanced", "--out", out],
        capsys,
    )  # fmt: skip
    assert code == 2 and "regression" in err and not out.exists()


# -- L2 --------------------------------------------------------------------------------
def test_l2_shrinks_the_weights_on_the_same_seed(tmp_path, capsys):
    data = noisy_csv(tmp_path / "noisy.csv")
    norms = {}
    for l2 in ("0", "0.05"):
        out = tmp_path / f"l2_{l2}.safetensors"
        argv = ["train", data, "--target", "label", *TRAIN, "--epochs", "40"]
        assert run([*argv, "--l2", l2, "--out", out], capsys)[0] == 0
        norms[l2] = float(np.linalg.norm(load_model(out)[0].flat_params))
        assert metadata(out)["train"]["l2"] == float(l2)
    assert norms["0.05"] < 0.8 * norms["0"]


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_l2_is_torch_weight_decay(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    theta, g = rng.normal(size=20), rng.normal(size=20)
    settings = {"optimizer": name, "lr": 0.05, "l2": 0.3}
    opt = build_optimizer(settings)
    mine = theta.copy()
    for _ in range(3):
        opt.step(mine, g.copy())
    p = torch.nn.Parameter(torch.tensor(theta))
    kinds = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    kinds["rmsprop"] = torch.optim.RMSprop
    reference = kinds[name]([p], lr=0.05, weight_decay=0.3)
    for _ in range(3):
        p.grad = torch.tensor(g)
        reference.step()
    np.testing.assert_allclose(mine, p.detach().numpy(), rtol=1e-12, atol=1e-14)


# -- dropout ---------------------------------------------------------------------------
def test_dropout_changes_training_not_prediction(tmp_path, capsys):
    data = noisy_csv(tmp_path / "noisy.csv", n=60)
    argv = ["train", data, "--target", "label", "--hidden", "16,8", "--epochs", "5",
            "--quiet"]  # fmt: skip
    plain, dropped = tmp_path / "plain.safetensors", tmp_path / "drop.safetensors"
    assert run([*argv, "--out", plain], capsys)[0] == 0
    assert run([*argv, "--dropout", "0.5,0", "--out", dropped], capsys)[0] == 0
    net = load_model(dropped)[0]
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dense", "Dropout", "Dense", "Dense"]  # none where p = 0
    assert net.layers[1].p == 0.5
    assert not np.allclose(net.flat_params, load_model(plain)[0].flat_params)

    predictions = []
    for _ in range(2):
        code, out, _ = run(["predict", dropped, data, "--proba"], capsys)
        assert code == 0
        predictions.append(out)
    assert predictions[0] == predictions[1]
    _, Z, _, _ = rows_of(dropped, data)
    P = np.array([row.split(",")[1:] for row in predictions[0].split()[1:]], float)
    np.testing.assert_allclose(P, net.predict_proba(Z), rtol=1e-6)  # no mask


# -- class weights ---------------------------------------------------------------------
@pytest.mark.parametrize("given", ["a=3,c=0.5", "balanced"])
def test_class_weight_makes_the_loss_the_weighted_mean(tmp_path, capsys, given):
    data = noisy_csv(tmp_path / "noisy.csv", n=90)
    out = tmp_path / "m.safetensors"
    # One full-batch step of sgd with lr 1e-300 leaves the weights as they started
    # (theta - 1e-300 g == theta), and the logged loss is of the outputs before it.
    code, _, err = run(
        ["train", data, "--target", "label", "--hidden", "8", "--optimizer", "sgd",
         "--lr", "1e-300", "--epochs", "1", "--batch-size", "1000", "--val-split",
         "0", "--dtype", "float64", "--quiet", "--class-weight", given, "--out", out],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    net, Z, y, classes = rows_of(out, data)
    losses = cross_entropy_rows(net, Z, y)
    if given == "balanced":  # n / (k n_c)
        counts = np.bincount(y, minlength=3)
        w = (len(y) / (3 * counts))[y]
    else:
        w = np.array([{"a": 3.0, "c": 0.5}.get(classes[c], 1.0) for c in y])
    expected = float((w * losses).sum() / w.sum())
    logged = metadata(out)["result"]["loss"]
    assert logged == pytest.approx(expected, rel=1e-9)
    assert abs(expected - losses.mean()) > 1e-3  # the weights do change it
    stored = metadata(out)["train"]["class_weight"]
    assert stored == ("balanced" if given == "balanced" else {"a": 3.0, "c": 0.5})


# -- settings kept and shown -------------------------------------------------------------
def test_options_are_stored_resumed_and_shown_by_info(tmp_path, capsys):
    data = noisy_csv(tmp_path / "noisy.csv", n=60)
    ckpt, out = tmp_path / "ckpt", tmp_path / "m.safetensors"
    options = ["--early-stopping", "--patience", "50", "--l2", "0.01", "--dropout",
               "0.2", "--class-weight", "b=2"]  # fmt: skip
    argv = ["train", data, "--target", "label", "--hidden", "8", "--quiet",
            "--checkpoint-dir", ckpt, "--out", out]  # fmt: skip
    assert run([*argv, *options, "--epochs", "2"], capsys)[0] == 0
    code, _, err = run([*argv, "--resume", "--epochs", "4"], capsys)
    assert code == 0, err
    settings = metadata(out)["train"]
    assert settings["epochs"] == 4 and settings["early_stopping"] is True
    assert settings["patience"] == 50 and settings["l2"] == 0.01
    assert settings["dropout"] == [0.2] and settings["class_weight"] == {"b": 2.0}
    net = load_model(out)[0]
    assert any(isinstance(layer, gn.Dropout) for layer in net.layers)
    code, _, err = run([*argv, "--resume", "--epochs", "5", "--l2", "0.5"], capsys)
    assert code == 1 and "--l2 0.5 differs from the checkpoint's 0.01" in err

    code, shown, _ = run(["info", out], capsys)
    assert code == 0
    line = next(s for s in shown.splitlines() if s.startswith("Regularisation: "))
    assert "early stopping (patience 50" in line and "l2 0.01" in line
    assert "dropout 0.2" in line and "class weight b=2" in line


# -- evaluate --json -------------------------------------------------------------------
def _text_figures(text: str) -> dict:
    """name -> number of the lines '  <name>  <number>' of evaluate's text report."""
    figures = {}
    for line in text.splitlines():
        match = re.match(r"\s+([a-z0-9 ()_]+?)\s+(-?[0-9.]+(?:e[-+]?\d+)?)\b", line)
        if match:
            figures[match.group(1)] = float(match.group(2))
    return figures


def test_evaluate_json_agrees_with_the_text_report(tmp_path, capsys):
    data = noisy_csv(tmp_path / "noisy.csv", n=90)
    model = tmp_path / "m.safetensors"
    argv = ["train", data, "--target", "label", "--hidden", "8", "--epochs", "5"]
    assert run([*argv, "--quiet", "--out", model], capsys)[0] == 0
    code, text, _ = run(["evaluate", model, data], capsys)
    assert code == 0
    code, out, _ = run(["evaluate", model, data, "--json"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 1
    report = json.loads(out)
    assert report["task"] == "classification" and report["n_rows"] == 90
    assert report["loss_function"] == "cross_entropy"
    figures = _text_figures(text)
    assert report["loss"] == pytest.approx(figures["loss (cross_entropy)"], abs=5e-5)
    for name, key in [("accuracy", "accuracy"), ("f1 (macro)", "f1_macro"),
                      ("precision (macro)", "precision_macro"),
                      ("recall (macro)", "recall_macro")]:  # fmt: skip
        assert report["metrics"][key] == pytest.approx(figures[name], abs=5e-5)
    # Per class: precision, recall and support recounted from the labels.
    net, Z, y, classes = rows_of(model, data)
    predicted = net.predict_proba(Z).argmax(axis=1)
    assert [row["class"] for row in report["per_class"]] == classes == ["a", "b", "c"]
    for c, row in enumerate(report["per_class"]):
        hits = int(((predicted == c) & (y == c)).sum())
        assert row["support"] == int((y == c).sum())
        assert row["recall"] == pytest.approx(hits / (y == c).sum())
        if (predicted == c).any():
            assert row["precision"] == pytest.approx(hits / (predicted == c).sum())
    assert np.array(report["confusion_matrix"]).sum() == 90
    assert report["metrics"]["accuracy"] == pytest.approx(np.mean(predicted == y))


def test_evaluate_json_for_regression(tmp_path, capsys):
    data = noisy_csv(tmp_path / "noisy.csv", n=60)
    model = tmp_path / "r.safetensors"
    argv = ["train", data, "--target", "f3", "--features", "f0,f1,f2", "--epochs", "3"]
    assert run([*argv, "--quiet", "--dtype", "float64", "--out", model], capsys)[0] == 0
    code, text, _ = run(["evaluate", model, data], capsys)
    code_json, out, _ = run(["evaluate", model, data, "--json"], capsys)
    assert code == code_json == 0
    report = json.loads(out)
    assert report["task"] == "regression" and report["n_rows"] == 60
    net, record, _ = load_model(model)
    table = read_table(data)
    truth = np.asarray(table.columns["f3"], dtype=float)
    error = net.predict(model_inputs(table, net, record, exclude="f3"))[:, 0] - truth
    assert report["metrics"]["mse"] == pytest.approx(np.mean(error**2), rel=1e-9)
    assert report["metrics"]["rmse"] == pytest.approx(math.sqrt(np.mean(error**2)))
    assert report["metrics"]["mae"] == pytest.approx(np.mean(np.abs(error)), rel=1e-9)
    r2 = 1 - np.sum(error**2) / np.sum((truth - truth.mean()) ** 2)
    assert report["metrics"]["r2"] == pytest.approx(r2, rel=1e-9)
    figures = _text_figures(text)
    assert report["metrics"]["mse"] == pytest.approx(figures["mse"], rel=1e-5)
    assert report["metrics"]["r2"] == pytest.approx(figures["r2"], abs=5e-5)
