"""glassnet verify end to end: a small glassnet model and its ONNX export, a VNNLIB
property that holds (its threshold below interval bounds computed here) and one that
is violated (a grid point computed here breaks it), the result file's counterexample
re-run in onnxruntime; the L-infinity ball; bad files give one line and exit 1."""

from __future__ import annotations

import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.cli.verify import EXIT_HOLDS, EXIT_VIOLATED
from glassnet.verification import read_vnnlib

pytest.importorskip("scipy")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

LOW, HIGH = np.array([-1.0, 0.0]), np.array([1.0, 0.5])


def cli(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    net = gn.Sequential(gn.Dense(2, 8, "relu"), gn.Dense(8, 3), seed=4)
    gn.save(net, folder / "net.safetensors")
    gn.export_onnx(net, folder / "net.onnx")
    return net, folder


def interval_bounds(net, low, high):
    """Interval arithmetic, in float64: [l, u] of every output over the box."""
    for layer in net.layers:
        W, b = np.asarray(layer.W, np.float64), np.asarray(layer.b, np.float64)
        centre, radius = (high + low) / 2, (high - low) / 2
        mid, rad = W @ centre + b, np.abs(W) @ radius
        low, high = mid - rad, mid + rad
        if layer.activation.name == "relu":
            low, high = np.maximum(low, 0), np.maximum(high, 0)
    return low, high


def grid_outputs(net, low, high, n=101):
    g0, g1 = np.meshgrid(
        np.linspace(low[0], high[0], n), np.linspace(low[1], high[1], n)
    )
    X = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(net.dtype)
    return X, net.predict(X).astype(np.float64)


def vnnlib(low, high, output_asserts):
    lines = ["; written by the test", "(declare-const X_0 Real)",
             "(declare-const X_1 Real)"]  # fmt: skip
    lines += [f"(declare-const Y_{j} Real)" for j in range(3)]
    for i in range(2):
        lo, hi = float(low[i]), float(high[i])
        lines += [f"(assert (>= X_{i} {lo!r}))", f"(assert (<= X_{i} {hi!r}))"]
    return "\n".join(lines + output_asserts) + "\n"


def parse_result(text):
    lines = text.splitlines()
    pairs = re.findall(r"\((X|Y)_(\d+) ([^\s()]+)\)", text)
    x = np.array([float(v) for kind, _, v in pairs if kind == "X"])
    y = np.array([float(v) for kind, _, v in pairs if kind == "Y"])
    return lines[0], x, y


@pytest.mark.parametrize("model_file", ["net.safetensors", "net.onnx"])
def test_a_property_that_holds(models, model_file, tmp_path, capsys):
    net, folder = models
    lower, _ = interval_bounds(net, LOW, HIGH)
    threshold = float(lower[0]) - 0.5  # y_0 never goes below it: proved by intervals
    prop = tmp_path / "holds.vnnlib"
    prop.write_text(vnnlib(LOW, HIGH, [f"(assert (<= Y_0 {threshold!r}))"]))
    out = tmp_path / "result.txt"
    code, stdout, _ = cli(
        ["verify", folder / model_file, prop, "--timeout", 20, "--out", out], capsys
    )
    assert code == EXIT_HOLDS
    assert "status: holds (unsat)" in stdout
    assert out.read_text() == "unsat\n"


@pytest.mark.parametrize("model_file", ["net.safetensors", "net.onnx"])
def test_a_violated_property_and_its_counterexample(
    models, model_file, tmp_path, capsys
):
    net, folder = models
    X, Y = grid_outputs(net, LOW, HIGH)
    top = float(np.sort(Y[:, 1])[-20])  # 20 grid points reach y_1 >= top
    prop = tmp_path / "violated.vnnlib"
    prop.write_text(
        vnnlib(LOW, HIGH, [f"(assert (or (and (>= Y_1 {top!r})) (and (<= Y_2 -1e6))))"])
    )
    out = tmp_path / "result.txt"
    code, stdout, _ = cli(
        ["verify", folder / model_file, prop, "--timeout", 20, "--out", out], capsys
    )
    assert code == EXIT_VIOLATED
    assert "status: violated (sat)" in stdout
    first, x, y = parse_result(out.read_text())
    assert first == "sat" and x.shape == (2,) and y.shape == (3,)
    # the competition's check: inside the box, and onnxruntime gives y
    assert np.all(x >= LOW) and np.all(x <= HIGH)
    session = ort.InferenceSession(
        str(folder / "net.onnx"), providers=["CPUExecutionProvider"]
    )
    (y_ort,) = session.run(None, {"input": x[None, :].astype(np.float32)})
    np.testing.assert_allclose(y_ort.ravel(), y, atol=1e-4, rtol=1e-3)
    assert y_ort.ravel()[1] >= top


@pytest.mark.parametrize("model_file", ["net.safetensors", "net.onnx"])
def test_linf_ball_holds_for_a_tiny_eps_and_breaks_for_a_large_one(
    models, model_file, tmp_path, capsys
):
    net, folder = models
    X, Y = grid_outputs(net, LOW, HIGH, n=41)
    margins = np.sort(Y, axis=1)[:, -1] - np.sort(Y, axis=1)[:, -2]
    x = X[int(np.argmax(margins))].astype(np.float64)  # the clearest prediction
    label = int(np.argmax(net.predict(x[None, :].astype(np.float32))))
    argv = [
        "verify",
        folder / model_file,
        "--input",
        ",".join(repr(float(v)) for v in x),
    ]
    code, stdout, stderr = cli([*argv, "--eps", 1e-4, "--label", label], capsys)
    assert code == EXIT_HOLDS, stdout + stderr
    # a ball that holds a grid point of another class
    other = np.flatnonzero(Y.argmax(axis=1) != label)
    assert other.size, "the test network predicts one class everywhere"
    eps = float(np.abs(X[other] - x).max(axis=1).min()) + 0.01
    out = tmp_path / "result.txt"
    code, stdout, _ = cli([*argv, "--eps", eps, "--out", out], capsys)
    assert code == EXIT_VIOLATED, stdout
    first, x_bad, y_bad = parse_result(out.read_text())
    assert first == "sat" and np.abs(x_bad - x).max() <= eps
    y_again = net.predict(x_bad[None, :].astype(np.float32)).ravel()
    np.testing.assert_allclose(y_again, y_bad, atol=1e-4, rtol=1e-3)
    assert np.delete(y_again, label).max() >= y_again[label]  # ties count as unsafe


def test_the_ball_saved_as_vnnlib_is_the_same_question(models, tmp_path, capsys):
    # --save-property writes the property checked: asked again from the file, the
    # same answer, and the file states exactly the ball and the rival classes
    net, folder = models
    x, eps = np.array([0.25, 0.2]), 0.05
    label = int(np.argmax(net.predict(x[None, :].astype(np.float32))))
    saved = tmp_path / "ball.vnnlib"
    argv = ["verify", folder / "net.safetensors", "--input", "0.25,0.2"]
    code, stdout, _ = cli([*argv, "--eps", eps, "--save-property", saved], capsys)
    assert f"wrote {saved}" in stdout
    again, stdout2, _ = cli(["verify", folder / "net.safetensors", saved], capsys)
    assert again == code and code in (EXIT_HOLDS, EXIT_VIOLATED), stdout + stdout2
    prop = read_vnnlib(saved, n_inputs=2, n_outputs=3)
    np.testing.assert_array_equal(prop.regions[0].lower, x - eps)
    np.testing.assert_array_equal(prop.regions[0].upper, x + eps)
    Y = np.random.default_rng(0).normal(size=(200, 3))
    np.testing.assert_array_equal(prop.violated_by(Y), Y.argmax(axis=1) != label)


def test_bad_files_give_one_line_and_exit_1(models, tmp_path, capsys):
    net, folder = models
    prop = tmp_path / "bad.vnnlib"
    prop.write_text(vnnlib(LOW, HIGH, ["(assert (<= (* 2 Y_0) 1))"]))
    code, stdout, stderr = cli(["verify", folder / "net.safetensors", prop], capsys)
    assert code == 1 and "line 11" in stderr and "'*'" in stderr
    assert len(stderr.strip().splitlines()) == 1
    wide = tmp_path / "wide.vnnlib"
    wide.write_text(vnnlib(LOW, HIGH, ["(assert (<= Y_0 1))"]).replace("Y_2", "Y_5"))
    code, _, stderr = cli(["verify", folder / "net.onnx", wide], capsys)
    assert code == 1 and "Y_5" in stderr and len(stderr.strip().splitlines()) == 1
    code, _, stderr = cli(["verify", tmp_path / "missing.onnx", prop], capsys)
    assert code == 1 and "no such model file" in stderr
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01\x12\x04junk\xff\xff")
    code, _, stderr = cli(["verify", junk, prop], capsys)
    assert code == 1 and len(stderr.strip().splitlines()) == 1
    code, _, stderr = cli(["verify", folder / "net.onnx"], capsys)
    assert code == 1 and "--input X with --eps E" in stderr


def test_a_softmax_model_answers_comparisons_and_writes_probabilities(tmp_path, capsys):
    net = gn.Sequential(gn.Dense(2, 6, "relu"), gn.Dense(6, 3, "softmax"), seed=5)
    gn.save(net, tmp_path / "soft.safetensors")
    gn.export_onnx(net, tmp_path / "soft.onnx")
    X, Y = grid_outputs(net, LOW, HIGH, n=41)
    j = int(np.bincount(Y.argmax(axis=1), minlength=3).argmax())  # a class that wins
    others = " ".join(f"(>= Y_{j} Y_{k})" for k in range(3) if k != j)
    prop = tmp_path / "wins.vnnlib"
    prop.write_text(vnnlib(LOW, HIGH, [f"(assert (and {others}))"]))
    for model in ("soft.safetensors", "soft.onnx"):
        out = tmp_path / f"{model}.txt"
        code, stdout, _ = cli(["verify", tmp_path / model, prop, "--out", out], capsys)
        assert code == EXIT_VIOLATED, stdout
        _, x, y = parse_result(out.read_text())
        expected = net.predict(x[None, :].astype(np.float32)).ravel()
        np.testing.assert_allclose(y, expected, atol=1e-4, rtol=1e-3)
        assert abs(y.sum() - 1.0) < 1e-5  # the probabilities, not the logits
    threshold = tmp_path / "threshold.vnnlib"
    threshold.write_text(vnnlib(LOW, HIGH, ["(assert (>= Y_0 0.9))"]))
    code, _, stderr = cli(["verify", tmp_path / "soft.onnx", threshold], capsys)
    assert code == 1 and "ends with softmax" in stderr
