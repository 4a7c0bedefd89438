"""The attack step of ``gn.explain(..., attack="fgsm", eps=...)`` and ``--attack``.

The numbers must be those of ``gn.attacks.fgsm`` and ``Sequential.input_grad``, bit
for bit, on random networks of every hidden activation and every loss with its
outputs; on the seed 003 network and on a one-neuron network they are checked against
values computed by hand here.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from netcases import HIDDEN_ACTIVATIONS, LOSS_OUTPUTS, random_targets

CASES = [
    (hidden, loss, output)
    for hidden in HIDDEN_ACTIVATIONS
    for loss, outputs in LOSS_OUTPUTS.items()
    for output in outputs
]


def random_case(hidden, loss, output, n, seed):
    rng = np.random.default_rng(seed)
    width = 3 if output == "softmax" else 2
    net = gn.Sequential(
        gn.Dense(3, 4, hidden), gn.Dense(4, width, output), dtype="float64", seed=seed
    )
    X = rng.uniform(0.05, 0.95, size=(n, 3))
    y = random_targets(loss, n, width, rng)
    return net, X, y


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize(("hidden", "loss", "output"), CASES)
def test_attack_numbers_are_fgsm_and_input_grad_bitwise(hidden, loss, output, n):
    net, X, y = random_case(hidden, loss, output, n, seed=len(hidden) + n)
    before = net.flat_params.copy()
    for clip in (None, (0.0, 1.0)):
        trace = gn.explain(net, X, y, loss=loss, attack="fgsm", eps=0.1, clip=clip)
        dX = net.input_grad(X, y, loss=loss)
        X_adv = gn.attacks.fgsm(net, X, y, eps=0.1, loss=loss, clip=clip)
        assert np.array_equal(trace["dL/dx"], dX)
        assert np.array_equal(trace["sign"], np.sign(dX))
        assert np.array_equal(trace["x_adv"], X_adv)
        # backpropagation one step further: dL/dx = W1^T delta1 (rows: delta1 W1)
        np.testing.assert_allclose(
            trace["dL/dx"], trace["1.dL/dz"] @ trace["1.W"], rtol=1e-12, atol=1e-15
        )
        assert np.array_equal(trace["adv.2.a"], net.predict(X_adv))
        assert np.abs(trace["x_adv"] - X).max() <= 0.1 + 1e-15
    assert np.array_equal(net.flat_params, before)  # the caller's net is untouched


def test_attack_on_the_seed_network_by_hand():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, attack="fgsm", eps=0.5, clip=(0, 2))
    # delta1 = [-0.0428583, -0.0551035] (test_seed003); W1 = [[0.2, 0.4], [0.1, 0.6]]
    d1 = np.array([-0.042858327, -0.055103564])
    by_hand = [0.2 * d1[0] + 0.1 * d1[1], 0.4 * d1[0] + 0.6 * d1[1]]
    np.testing.assert_allclose(trace["dL/dx"][0], by_hand, rtol=1e-6)
    np.testing.assert_allclose(by_hand, [-0.014082, -0.0502055], rtol=1e-5)
    assert trace["sign"].tolist() == [[-1.0, -1.0]]
    assert trace["x_adv"].tolist() == [[0.5, 1.5]]  # [1, 2] - 0.5, inside [0, 2]
    # a1 = ReLU([0.1 + 0.6 + 0.3, 0.05 + 0.9 + 0.5]) = [1, 1.45]
    np.testing.assert_allclose(trace["adv.1.a"][0], [1.0, 1.45], rtol=1e-12)
    a2 = 1 / (1 + np.exp(-(0.7 * 1.0 + 0.9 * 1.45 + 0.2)))  # sigmoid(2.205)
    np.testing.assert_allclose(trace["adv.2.a"][0, 0], a2, rtol=1e-12)
    assert round(a2, 6) == 0.900698
    text = trace.to_text()
    assert "ADVERSARIAL EXAMPLE (FGSM)" in text
    assert "  ∂L/∂x = W1ᵀ δ1\n" in text
    assert "  x_adv = clip(x + ε s, 0, 2)\n" in text
    assert "         = 0.900698\n" in text
    assert "Predicted class before: 1; after: 1: the prediction holds" in text
    assert trace.attack["class_before"].tolist() == [1]
    assert trace.attack["class_after"].tolist() == [1]
    L_adv = -np.log(a2)  # binary cross-entropy with y = 1
    np.testing.assert_allclose(trace.attack["loss_adv"], L_adv, rtol=1e-12)


def test_attack_flips_a_prediction_and_says_so():
    # a = sigmoid(0.5 x1 - x2): at x = [0.5, 0.5], z = -0.25, class 0; with y = 0,
    # dL/dz = a - y = sigmoid(-0.25) > 0, so dL/dx = W^T (a - y) has signs [+, -]
    # and x_adv = [0.75, 0.25]: z = 0.125 > 0, class 1.
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
    net.layers[0].W = [[0.5, -1.0]]
    net.layers[0].b = [0.0]
    trace = gn.explain(net, [0.5, 0.5], 0.0, attack="fgsm", eps=0.25)
    a = 1 / (1 + np.exp(0.25))
    np.testing.assert_allclose(trace["dL/dx"][0], [0.5 * a, -a], rtol=1e-12)
    assert trace["x_adv"].tolist() == [[0.75, 0.25]]
    np.testing.assert_allclose(
        trace["adv.1.a"][0, 0], 1 / (1 + np.exp(-0.125)), rtol=1e-12
    )
    assert "Predicted class before: 0; after: 1: the attack flipped" in trace.to_text()


def test_attack_on_a_batch_counts_the_flips():
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
    net.layers[0].W = [[0.5, -1.0]]
    net.layers[0].b = [0.0]
    # sample 1 flips (above); sample 2, z = 0.5 - 2 = -1.5, stays class 0
    trace = gn.explain(
        net, [[0.5, 0.5], [1.0, 2.0]], [0.0, 0.0], attack="fgsm", eps=0.25
    )
    assert trace.attack["class_before"].tolist() == [0, 0]
    assert trace.attack["class_after"].tolist() == [1, 0]
    assert "1 of 2 predictions flipped" in trace.to_text()


def test_attack_on_a_regression_output_states_the_outputs():
    net = gn.Sequential(gn.Dense(2, 1), dtype="float64", seed=0)
    net.layers[0].W = [[1.0, 2.0]]
    net.layers[0].b = [0.0]
    # L = (a - y)^2, a = x1 + 2 x2 = 3, y = 0: dL/dx = 2 (a - y) W = [6, 12]
    trace = gn.explain(net, [1.0, 1.0], 0.0, attack="fgsm", eps=0.1)
    assert trace["dL/dx"].tolist() == [[6.0, 12.0]]
    assert trace["x_adv"].tolist() == [[1.1, 1.1]]
    np.testing.assert_allclose(trace["adv.1.a"], [[3.3]], rtol=1e-12)
    assert "Output a1 before: 3; after: 3.3." in trace.to_text()


def test_attack_renders_in_markdown_html_and_json():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, lr=0.1, attack="fgsm", eps=0.5, clip=(0, 2))
    md = trace.to_markdown()
    assert "## Adversarial example (FGSM)" in md
    assert r"x^{\text{adv}}" in md
    page = trace.to_html()
    HTMLParser().feed(page)
    assert '<div class="phase-attack"><h2>Adversarial example (FGSM)</h2>' in page
    assert "<mn>0.900698</mn>" in page
    doc = json.loads(trace.to_json())
    attack = doc["attack"]
    assert attack["name"] == "fgsm" and attack["eps"] == 0.5
    assert attack["clip"] == [0.0, 2.0]
    assert attack["x_adv"] == [[0.5, 1.5]]
    assert attack["dL/dx"] == trace["dL/dx"].tolist()  # every digit
    assert attack["output_adv"] == trace["adv.2.a"].tolist()
    assert attack["class_before"] == [1] and attack["class_after"] == [1]
    assert [s["phase"] for s in doc["steps"]][-1] == "attack"
    # the update is still shown, before the attack, and not applied
    assert "update" in [s["phase"] for s in doc["steps"]]


def test_attack_after_a_step_network_says_it_cannot_be_shown():
    net = gn.Sequential(gn.Dense(2, 1, "step"), dtype="float64", seed=0)
    trace = gn.explain(net, [0.5, 0.5], 1.0, loss="mse", attack="fgsm", eps=0.1)
    assert trace.stopped is not None
    assert "x_adv" not in trace.quantities
    assert "FGSM follows the input gradient" in trace.to_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": 0.1}, "eps is only used with an attack"),
        ({"clip": (0, 1)}, "clip is only used with an attack"),
        ({"attack": "fgsm"}, "needs eps"),
        ({"attack": "pgd", "eps": 0.1}, "attack must be one of"),
        ({"attack": "fgsm", "eps": -1}, "eps"),
        ({"attack": "fgsm", "eps": 0.1, "clip": (0, 1)}, "outside clip"),
    ],
)
def test_attack_arguments_are_checked(kwargs, message):
    net, X, y = gn.worked_example.seed003_example()
    with pytest.raises(ValueError, match=message):
        gn.explain(net, X, y, **kwargs)


def test_attack_needs_a_target():
    net, X, _ = gn.worked_example.seed003_example()
    with pytest.raises(ValueError, match="needs a target"):
        gn.explain(net, X, attack="fgsm", eps=0.1)


def test_cli_attack(capsys):
    argv = ["explain", "--attack", "fgsm", "--eps", "0.5", "--clip", "0,2"]
    assert main([*argv, "--input", "1,2", "--target", "1"]) == 0
    out = capsys.readouterr().out
    net, X, y = gn.worked_example.seed003_example()
    expected = gn.explain(net, X, y, attack="fgsm", eps=0.5, clip=(0, 2)).to_text()
    assert out == expected
    assert main([*argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    X_adv = gn.attacks.fgsm(net, X, y, eps=0.5, clip=(0, 2))
    assert doc["attack"]["x_adv"] == X_adv.tolist()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--eps", "0.1"], "eps is only used with an attack"),
        (["--attack", "fgsm", "--eps", "0.1", "--clip", "0"], "--clip must be two"),
        (["--attack", "fgsm", "--eps", "0.1", "--clip", "0,1"], "outside clip"),
    ],
)
def test_cli_attack_errors_are_one_line(argv, message, capsys):
    assert main(["explain", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_attack_in_float32_and_through_dropout_is_fgsm_bitwise():
    net = gn.Sequential(
        gn.Dense(3, 5, "tanh"), gn.Dropout(0.5), gn.Dense(5, 2, "sigmoid"), seed=4
    )
    assert net.dtype == np.float32
    X = np.random.default_rng(4).uniform(size=(2, 3)).astype(np.float32)
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    trace = gn.explain(net, X, y, attack="fgsm", eps=0.05, clip=(0, 1))
    X_adv = gn.attacks.fgsm(net, X, y, eps=0.05, clip=(0, 1))
    assert trace["x_adv"].dtype == np.float32 == X_adv.dtype
    assert np.array_equal(trace["x_adv"], X_adv)
    assert np.array_equal(trace["dL/dx"], net.input_grad(X, y, loss="bce"))
    assert np.array_equal(trace["adv.3.a"], net.predict(X_adv))  # dropout off
