"""Regression tests for the defects a new user found in explain, each named for its bug,
and for the two promises of large networks: the predicted class is stated, and the
output vector is always shown whole."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.cli.tabular import load_model
from glassnet.explaining.numbers import Format

IRIS_SETOSA = "5.1,3.5,1.4,0.2"


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    """A model trained by ``glassnet train --dataset iris`` (standardised inputs)."""
    folder = tmp_path_factory.mktemp("iris")
    path = folder / "m.safetensors"
    argv = ["train", "--dataset", "iris", "--epochs", "30", "--out", str(path)]
    assert main([*argv, "--quiet"]) == 0
    return path


# -- 1. --model ignored the stored standardisation ------------------------------------
def test_model_file_standardisation_is_applied_and_shown(iris_model, capsys):
    net, record, _ = load_model(iris_model)
    x = np.array([[5.1, 3.5, 1.4, 0.2]])
    trace = gn.explain(net, x, [0], preprocessing=record)
    x_std = ((x - record.mean) / record.scale).astype(net.dtype)
    assert np.array_equal(trace["x_std"], x_std)
    assert np.array_equal(trace["x"], x.astype(net.dtype))
    assert np.array_equal(trace["3.a"], net.predict(x_std))
    assert trace.loss_value == pytest.approx(
        net.loss_value(x_std, [0], loss="cross_entropy"), rel=1e-6
    )
    assert int(np.argmax(trace["3.a"])) == 0  # setosa, as the model with its scaling
    assert main(["explain", "--model", str(iris_model), "--input", IRIS_SETOSA]) == 0
    out = capsys.readouterr().out
    assert "Standardisation (stored with the model)" in out
    assert "x_std = (x − μ)/σ" in out
    assert "Predicted class: setosa (class 0)" in out


def test_model_file_takes_class_names_as_target(iris_model, capsys):
    argv = ["explain", "--model", str(iris_model), "--input", IRIS_SETOSA]
    assert main([*argv, "--target", "setosa", "--format", "json"]) == 0
    by_name = json.loads(capsys.readouterr().out)
    assert main([*argv, "--target", "0", "--format", "json"]) == 0
    assert by_name == json.loads(capsys.readouterr().out)
    assert by_name["y"] == [[1.0, 0.0, 0.0]]
    assert main([*argv, "--target", "rose"]) == 1
    err = capsys.readouterr().err
    assert "'rose' is not a class of this model" in err
    assert "setosa, versicolor, virginica" in err
    assert err.count("\n") == 1


# -- 2. a loss that does not fit the output was accepted ------------------------------
def test_binary_crossentropy_after_identity_is_refused():
    net = gn.Sequential(gn.Dense(2, 1), dtype="float64", seed=0)
    with pytest.raises(ValueError, match=r"needs outputs in \(0, 1\).*sigmoid"):
        gn.explain(net, [1.0, 2.0], [1.0], loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"needs outputs in \(0, 1\).*sigmoid"):
        net.fit([[1.0, 2.0]], [1.0], loss="binary_crossentropy", verbose=0)
    # read as logits it is a valid loss, and fit trains with it
    logits = gn.BinaryCrossEntropyLoss(from_logits=True)
    history = net.fit([[1.0, 2.0]], [1.0], loss=logits, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_cross_entropy_after_sigmoid_is_refused(capsys):
    net = gn.Sequential(gn.Dense(2, 3, "sigmoid"), dtype="float64", seed=0)
    with pytest.raises(ValueError, match="cross-entropy needs a softmax output"):
        gn.explain(net, [1.0, 2.0], 1, loss="cross_entropy")
    with pytest.raises(ValueError, match="cross-entropy needs a softmax output"):
        net.fit([[1.0, 2.0]], [1], loss="cross_entropy", verbose=0)


# -- 4. the wrong number of target entries was called a sample-count mismatch --------
def test_two_target_entries_for_three_outputs_say_so():
    net3 = gn.Sequential(gn.Dense(2, 3), dtype="float64", seed=0)
    with pytest.raises(ValueError) as caught:
        gn.explain(net3, [1, 2], [0, 1])
    message = str(caught.value)
    assert "2 target entries" in message and "3 outputs" in message
    assert "samples" not in message
    # three entries are one sample's target, as before
    trace = gn.explain(net3, [1, 2], [0, 1, 2])
    assert trace["y"].tolist() == [[0.0, 1.0, 2.0]]


# -- 5. lr without a target was silently ignored --------------------------------------
def test_lr_without_target_is_refused(capsys):
    net, _, _ = gn.worked_example.seed003_example()
    with pytest.raises(ValueError, match="lr=0.1 needs a target y"):
        gn.explain(net, [1, 2], lr=0.1)
    path_free = ["explain", "--input", "1,2", "--lr", "0.1"]
    assert main(path_free) == 0  # the seed network keeps its default target y = 1
    capsys.readouterr()


def test_cli_lr_without_target_is_refused(tmp_path, capsys):
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
    path = tmp_path / "net.safetensors"
    gn.save(net, path)
    argv = ["explain", "--model", str(path), "--input", "1,2", "--lr", "0.1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "--lr needs --target" in err and err.count("\n") == 1


# -- 6. the seed 003 comparison was in the text rendering only ------------------------
@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_seed_comparison_in_every_rendering_with_the_missed_slips(fmt, capsys):
    assert main(["explain", "--format", fmt]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the text wraps its lines
    assert "Compared with the seed 003 text" in out
    assert "∂L/∂z2 = −0.062 (it is −0.0612262)" in out
    assert "∂L/∂W2 = [−0.0806, −0.1116] is written as a column" in out
    assert "the row [−0.079594, −0.110207]" in out
    assert "∂L/∂z2 = −0.039936 instead of −0.0612262" in out
    # the corrected numbers are the walk's own
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y)
    fmt6 = Format(6)

    def ascii6(value):  # the seed text's notation: an ASCII minus
        return fmt6.number(value).replace("\u2212", "-")

    assert ascii6(trace["2.dL/dz"][0, 0]) == "-0.0612262"
    assert [ascii6(v) for v in trace["2.dL/dW"][0]] == ["-0.079594", "-0.110207"]
    assert trace["2.dL/dW"].shape == (1, 2)  # a row, the shape of W2
    # the seed's slip: -0.062 x a1 = [-0.0806, -0.1116]
    assert np.allclose(-0.062 * trace["1.a"][0], [-0.0806, -0.1116])


def test_seed_comparison_only_on_the_seed_walk(capsys):
    argv = ["explain", "--input", "2,-1", "--target", "0"]
    for fmt in ("text", "markdown", "html"):
        assert main([*argv, "--format", fmt]) == 0
        assert "Compared with the seed 003 text" not in capsys.readouterr().out


# -- the predicted class is stated ------------------------------------------------------
def test_saturated_output_is_explained_without_false_arithmetic(capsys):
    # z2 = 187.86: a2 rounds to exactly 1 in float64, so a2 (1 − a2) = 0
    assert main(["explain", "--input", "100,200", "--target", "0"]) == 0
    out = capsys.readouterr().out
    assert "1e+12" not in out  # the floor of a (1 − a) is never shown as a value
    assert "1e+12 × 0" not in out and "= 1 − 0\n     = 1\n" in out  # δ2 = a2 − y
    # the loss with the numbers of its stable form, not log(1 − 1)
    assert "log(1 − 1)" not in out and "log(1 + e^(−|187.86|))" in out
    assert "\n    = 187.86\n" in out


def test_predicted_class_of_a_softmax_output_is_stated():
    net = gn.Sequential(gn.Dense(3, 4, "tanh"), gn.Dense(4, 3, "softmax"), seed=5)
    X = np.array([[0.5, 1.0, -1.0], [2.0, -1.0, 0.0]])
    trace = gn.explain(net, X, [2, 0])
    A = net.predict(X)
    notes = [s.note for s in trace.steps if s.title == "Prediction"]
    assert len(notes) == 1
    for s, row in enumerate(A, 1):
        c = int(np.argmax(row))
        assert f"sample {s}: class {c}, probability {row[c]:.6g}" in notes[0]
    assert "Predicted classes" in trace.to_text()


def test_predicted_class_of_one_sigmoid_output_is_stated():
    net, X, y = gn.worked_example.seed003_example()
    text = gn.explain(net, X, y).to_text()
    # a2 = sigmoid(2.73) = 0.938774 >= 0.5: class 1 with probability a2
    a2 = 1 / (1 + np.exp(-2.73))
    assert f"Predicted class: class 1, probability {a2:.6g}" in text
    below = gn.explain(net, [-1.0, -2.0])  # z1 <= 0: a1 = 0, a2 = sigmoid(0.2)
    p0 = 1 - 1 / (1 + np.exp(-0.2))
    assert f"class 1, probability {p0:.6g}" not in below.to_text()
    assert "Predicted class: class 1" in below.to_text()  # sigmoid(0.2) > 0.5


def test_regression_output_states_no_class():
    net = gn.Sequential(gn.Dense(2, 1), dtype="float64", seed=0)
    assert "Predicted class" not in gn.explain(net, [1, 2], [0.5]).to_text()


# -- the output vector is always shown whole --------------------------------------------
def test_output_vector_is_shown_whole_however_wide():
    net = gn.Sequential(gn.Dense(3, 12, "softmax"), dtype="float64", seed=0)
    trace = gn.explain(net, [1.0, 2.0, 3.0], 4)
    a1 = trace["1.a"][0]
    fmt = Format(6)
    for render in (trace.to_text, trace.to_markdown, trace.to_html):
        page = render()
        for value in a1:
            assert fmt.number(value) in page, (render.__name__, value)
        assert "Shown in part: a1 " not in page
    # other wide vectors are still cut, with their shape stated
    assert "z1 (12 × 1): rows 1–8 of 12" in trace.to_text()
