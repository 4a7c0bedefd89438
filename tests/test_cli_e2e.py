"""End to end: the glassnet command on a CSV file the test writes, with a text target.

train (with checkpoints, then interrupted and resumed: bitwise the same model), info,
predict (labels and --proba), evaluate, export --format onnx (onnxruntime on the raw
features), attack; every output is checked against numbers the test computes itself
from the CSV and the saved weights (a forward pass and FGSM written out in numpy).
One run goes through a real subprocess of the installed console script."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main

SPECIES = ["setosa", "versicolor", "virginica"]
N = 120
FIT = ["--hidden", "16", "--batch-size", "16", "--lr", "0.01", "--val-split", "0.2",
       "--seed", "1"]  # fmt: skip


def make_csv(path: Path):
    """id, three features of very different scales, and the species they imply."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, 3)) * [2.0, 0.3, 150.0] + [10.0, 1.0, 1000.0]
    u = (X[:, 0] - 10) / 2 + (X[:, 1] - 1) / 0.3 + 0.3 * rng.normal(size=N)
    species = np.array(SPECIES, dtype=object)[np.digitize(u, [-0.7, 0.7])]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "sepal", "petal", "weight", "species"])
        for i in range(N):
            writer.writerow([1000 + i, *(repr(float(v)) for v in X[i]), species[i]])
    return X, species


def cli(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def by_hand(net, mean, scale, X):
    """Forward pass of the saved network on raw rows, written out: z = (x - mean) /
    scale, A1 = relu(z W1^T + b1), P = softmax(A1 W2^T + b2). Returns (P, cache)."""
    W1, b1 = (np.asarray(a, dtype=np.float64) for a in (net.layers[0].W, net.layers[0].b))  # fmt: skip
    W2, b2 = (np.asarray(a, dtype=np.float64) for a in (net.layers[1].W, net.layers[1].b))  # fmt: skip
    Z0 = (X - mean) / scale
    Z1 = Z0 @ W1.T + b1
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ W2.T + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True), (W1, W2, Z1)


def fgsm_by_hand(net, mean, scale, X, y, eps):
    """x + eps sign(dL/dx) for cross-entropy, the chain rule written out:
    dZ2 = P - Y, dZ1 = (dZ2 W2) * [Z1 > 0], dz = dZ1 W1, dx = dz / scale."""
    P, (W1, W2, Z1) = by_hand(net, mean, scale, X)
    dZ2 = P - np.eye(P.shape[1])[y]
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    dX = (dZ1 @ W1) / scale
    return X + eps * np.sign(dX)


def test_train_info_predict_evaluate_export_attack_on_a_csv(tmp_path, capsys):
    data = tmp_path / "flowers.csv"
    X, species = make_csv(data)
    y = np.array([SPECIES.index(s) for s in species])
    model = tmp_path / "flowers.safetensors"
    ckpt = tmp_path / "ckpt"
    train = ["train", data, "--target", "species", "--features", "sepal,petal,weight",
             *FIT]  # fmt: skip

    # -- train, with checkpoints every 2 epochs --------------------------------------------
    code, out, err = cli(
        [*train, "--epochs", "12", "--checkpoint-dir", ckpt, "--every", "2",
         "--keep", "0", "--out", model],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "target 'species' -> classification, 3 classes: setosa, versicolor, virginica" in out  # fmt: skip
    assert "features (3): sepal, petal, weight" in out
    assert "standardised with the mean and std of the 96 training rows; 24 validation rows" in out  # fmt: skip
    assert "Epoch 12/12" in out and f"model written to {model}" in out
    assert sorted(p.name for p in ckpt.iterdir()) == [
        f"epoch-{e:04d}.safetensors" for e in (2, 4, 6, 8, 10, 12)
    ]
    net, meta = gn.load(model, return_metadata=True)
    record = meta["preprocessing"]
    assert record["classes"] == SPECIES and record["features"] == ["sepal", "petal", "weight"]  # fmt: skip
    columns = record["columns"]  # version 2: one object per column read
    assert [c["kind"] for c in columns] == ["numeric"] * 3
    mean = np.array([c["mean"] for c in columns])
    scale = np.array([c["scale"] for c in columns])
    assert record["n_train"] == 96

    # -- interrupted after 5 epochs, resumed to 12: the same model, bit for bit ----------
    ckpt2 = tmp_path / "ckpt2"
    resumed = tmp_path / "resumed.safetensors"
    assert cli([*train, "--epochs", "5", "--checkpoint-dir", ckpt2, "--quiet",
                "--keep", "0", "--out", tmp_path / "part.safetensors"], capsys)[0] == 0  # fmt: skip
    code, out, err = cli(
        [*train, "--epochs", "12", "--checkpoint-dir", ckpt2, "--resume", "--keep", "0",
         "--out", resumed],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert f"resuming from {ckpt2 / 'epoch-0005.safetensors'} (epoch 5, step 0)" in out
    assert "Epoch 6/12" in out and "Epoch 5/12" not in out
    net2, meta2 = gn.load(resumed, return_metadata=True)
    assert net2.flat_params.tobytes() == net.flat_params.tobytes()
    assert meta2 == meta  # record, settings and the last epoch's logs too
    # ... also when resuming with only the checkpoint folder (data from its settings)
    ckpt3 = tmp_path / "ckpt3"
    shutil.copytree(ckpt2, ckpt3)
    for extra in ("epoch-0006", "epoch-0007", "epoch-0008", "epoch-0009", "epoch-0010",
                  "epoch-0011", "epoch-0012"):  # fmt: skip
        (ckpt3 / f"{extra}.safetensors").unlink()
    code, _, err = cli(["train", "--checkpoint-dir", ckpt3, "--resume", "--epochs", "12",
                        "--quiet", "--out", tmp_path / "r3.safetensors"], capsys)  # fmt: skip
    assert code == 0, err
    assert gn.load(tmp_path / "r3.safetensors").flat_params.tobytes() == net.flat_params.tobytes()  # fmt: skip

    # -- info ------------------------------------------------------------------------------
    code, out, _ = cli(["info", model], capsys)
    assert code == 0
    assert "task: classification of 'species', 3 classes: 'setosa', 'versicolor', 'virginica'" in out  # fmt: skip
    assert f"    weight   {mean[2]:12.6g}  {scale[2]:12.6g}" in out
    code, out, _ = cli(["info", ckpt / "epoch-0004.safetensors"], capsys)
    assert "Training position: epoch 4, step 0" in out and "features (3)" in out

    # -- predict -----------------------------------------------------------------------------
    P_hand, _ = by_hand(net, mean, scale, X)
    code, out, _ = cli(["predict", model, data], capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["prediction"] and len(rows) == N + 1
    assert [r[0] for r in rows[1:]] == [SPECIES[i] for i in P_hand.argmax(axis=1)]
    preds = tmp_path / "preds.csv"
    code, out, _ = cli(["predict", model, data, "--proba", "--out", preds], capsys)
    assert code == 0 and out == f"{N} predictions written to {preds}\n"
    rows = list(csv.reader(io.StringIO(preds.read_text())))
    assert rows[0] == ["prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]  # fmt: skip
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    labels = [r[0] for r in rows[1:]]
    assert np.abs(P - P_hand).max() < 1e-6  # float32 network, float64 by hand
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    predicted = np.array([SPECIES.index(s) for s in labels])
    assert (predicted == P.argmax(axis=1)).all()

    # -- evaluate ------------------------------------------------------------------------------
    code, out, _ = cli(["evaluate", model, data], capsys)  # target from the model file
    assert code == 0
    correct = int((predicted == y).sum())
    assert correct / N > 0.8
    assert f"accuracy           {correct / N:.4f}  ({correct}/{N})" in out
    loss = -np.mean(np.log(P_hand[np.arange(N), y]))
    assert f"loss (cross_entropy)  {loss:.4f}" in out
    counts = [[int(((y == t) & (predicted == p)).sum()) for p in range(3)] for t in range(3)]  # fmt: skip
    width = len("versicolor")
    for t, name in enumerate(SPECIES):
        cells = " ".join(str(c).rjust(width) for c in counts[t])
        assert f"  {name.rjust(width)} |{cells}" in out
    recall = [counts[c][c] / sum(counts[c]) for c in range(3)]
    assert f"recall (macro)     {sum(recall) / 3:.4f}" in out

    # -- export to ONNX: raw features in, glassnet's probabilities out -----------------------
    ort = pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "flowers.onnx"
    code, out, _ = cli(["export", model, "--format", "onnx", "--out", onnx_path, "--check"], capsys)  # fmt: skip
    assert code == 0 and "the input is the raw features (sepal, petal, weight)" in out
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": X.astype(np.float32)})
    assert np.abs(output - P).max() <= 1e-5
    props = session.get_modelmeta().custom_metadata_map
    assert json.loads(props["glassnet.classes"]) == SPECIES

    # -- attack: the raw columns perturbed, FGSM checked against the chain rule by hand ---------
    report = tmp_path / "r.json"
    code, out, err = cli(["attack", model, data, "--target", "species", "--eps", "0.1,0.3",
                          "--method", "fgsm,pgd", "--pgd-steps", "3", "--json", report],
                         capsys)  # fmt: skip
    assert code == 0, err
    assert f"on flowers.csv ({N} samples)" in out
    assert f"clean accuracy: {correct / N:.4f}" in out
    results = json.loads(report.read_text())["results"]
    for eps in (0.1, 0.3):
        X_adv = fgsm_by_hand(net, mean, scale, X, y, eps)
        P_adv, _ = by_hand(net, mean, scale, X_adv)
        expected = float((P_adv.argmax(axis=1) == y).mean())
        (fgsm,) = [r for r in results if r["attack"] == "fgsm" and r["eps"] == eps]
        assert fgsm["accuracy"] == pytest.approx(expected, abs=1e-12)
        (pgd,) = [r for r in results if r["attack"] == "pgd" and r["eps"] == eps]
        assert pgd["accuracy"] <= correct / N
    assert expected < correct / N  # eps 0.3 in raw units hurts


def test_console_script_in_a_real_subprocess(tmp_path, capsys):
    data = tmp_path / "flowers.csv"
    make_csv(data)
    model = tmp_path / "m.safetensors"
    args = ["train", data, "--target", "species", "--features", "sepal,petal,weight",
            *FIT, "--epochs", "3", "--quiet", "--out", model]  # fmt: skip
    assert cli(args, capsys)[0] == 0
    script = Path(sys.executable).parent / "glassnet"
    if not script.exists():
        script = Path(shutil.which("glassnet") or "glassnet")
    result = subprocess.run(
        [str(script), "predict", str(model), str(data), "--proba"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    code, out, _ = cli(["predict", model, data, "--proba"], capsys)
    assert code == 0 and result.stdout == out and result.stderr == ""
    bad = tmp_path / "bad.csv"
    bad.write_text("sepal,petal,wieght,species\n1,2,3,setosa\n")
    result = subprocess.run(
        [str(script), "evaluate", str(model), str(bad)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("glassnet evaluate: error: ")
    assert "lacks 1 of the model's 3 feature columns: 'weight'" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
