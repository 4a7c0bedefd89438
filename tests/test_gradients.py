"""Backpropagation against central finite differences, in float64.

The numerical gradient here is computed independently of gn.gradcheck: perturb each
entry of the flat parameter vector (every W and b is a view into it) and difference the
loss. gn.gradcheck itself is tested separately, including that it catches a wrong
derivative.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import glassnet as gn
from netcases import HIDDEN_ACTIVATIONS, LOSS_OUTPUTS, random_targets

H = 1e-6


def numerical_grad(net, X, Y, loss, sample_weight=None):
    theta = net.flat_params
    g = np.empty_like(theta)
    for k in range(theta.size):
        original = theta[k]
        theta[k] = original + H
        plus = net.loss_value(X, Y, loss, sample_weight)
        theta[k] = original - H
        minus = net.loss_value(X, Y, loss, sample_weight)
        theta[k] = original
        g[k] = (plus - minus) / (2 * H)
    return g


def analytic_grad(net, X, Y, loss, sample_weight=None):
    _, grads = net.loss_and_grad(X, Y, loss, sample_weight=sample_weight)
    return np.concatenate([grads[i][name].ravel() for i, name, _ in net.parameters()])


def assert_grads_close(net, X, Y, loss, sample_weight=None):
    numeric = numerical_grad(net, X, Y, loss, sample_weight)
    analytic = analytic_grad(net, X, Y, loss, sample_weight)
    scale = max(np.abs(numeric).max(), 1e-8)
    np.testing.assert_allclose(analytic, numeric, rtol=0, atol=1e-7 * scale)


def inputs(rng, n=5, d=3):
    # Spread wide enough to visit both sides of every kink, never exactly on one.
    return rng.normal(scale=1.5, size=(n, d))


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_every_hidden_activation_with_every_loss(activation, loss):
    rng = np.random.default_rng(zlib.crc32(f"{activation} {loss}".encode()))
    for output in LOSS_OUTPUTS[loss]:
        width = 3
        net = gn.Sequential(
            gn.Dense(3, 4, activation),
            gn.Dense(4, width, output),
            dtype="float64",
            seed=rng,
        )
        X = inputs(rng)
        assert_grads_close(net, X, random_targets(loss, 5, width, rng), loss)


@pytest.mark.parametrize(
    "loss, width",
    # cross-entropy needs >= 2 classes; width 1 is tested as an error in test_errors.
    [
        (loss, w)
        for loss in sorted(LOSS_OUTPUTS)
        for w in (1, 2, 5)
        if not (loss == "cross_entropy" and w == 1)
    ],
)
def test_every_loss_at_several_output_widths(loss, width):
    rng = np.random.default_rng(width)
    for output in LOSS_OUTPUTS[loss]:
        net = gn.Sequential(gn.Dense(3, width, output), dtype="float64", seed=rng)
        assert_grads_close(
            net, inputs(rng, n=7), random_targets(loss, 7, width, rng), loss
        )


@pytest.mark.parametrize("loss", ["binary_crossentropy", "cross_entropy"])
def test_from_logits_losses_on_an_identity_output(loss):
    rng = np.random.default_rng(3)
    net = gn.Sequential(gn.Dense(3, 4, "tanh"), gn.Dense(4, 3), dtype="float64", seed=1)
    loss_obj = gn.get_loss(loss).__class__(from_logits=True)
    assert_grads_close(net, inputs(rng), random_targets(loss, 5, 3, rng), loss_obj)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "cross_entropy"])
def test_unfused_probability_losses_through_a_separate_path(loss):
    # Sigmoid/softmax followed by an identity layer: the loss sees probabilities
    # without the fused shortcut, so dL/dA and the activation's own backward are used.
    rng = np.random.default_rng(4)
    output = "sigmoid" if loss == "binary_crossentropy" else "softmax"
    net = gn.Sequential(gn.Dense(3, 3, output), gn.Identity(), dtype="float64", seed=2)
    assert not gn.get_loss(loss).fuses_with(net.layers[-1].output_activation)
    assert_grads_close(net, inputs(rng), random_targets(loss, 5, 3, rng), loss)


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_with_and_without_bias(use_bias):
    rng = np.random.default_rng(5)
    net = gn.Sequential(
        gn.Dense(3, 4, "tanh", use_bias=use_bias),
        gn.Dense(4, 2, use_bias=use_bias),
        dtype="float64",
        seed=3,
    )
    assert [name for _, name, _ in net.parameters()] == (
        ["W", "b"] * 2 if use_bias else ["W"] * 2
    )
    assert_grads_close(net, inputs(rng), rng.normal(size=(5, 2)), "mse")


def test_deep_network_with_activation_and_dropout_layers():
    rng = np.random.default_rng(6)
    net = gn.Sequential(
        gn.Dense(4, 6),
        gn.ReLU(),
        gn.Dropout(0.3),
        gn.Dense(6, 5, "elu"),
        gn.Dense(5, 5, "gelu"),
        gn.Dense(5, 4),
        gn.Softmax(),
        dtype="float64",
        seed=4,
    )
    assert_grads_close(
        net, inputs(rng, n=8, d=4), rng.integers(0, 4, size=8), "cross_entropy"
    )


def test_sample_weights():
    rng = np.random.default_rng(7)
    net = gn.Sequential(
        gn.Dense(3, 4, "tanh"), gn.Dense(4, 3, "softmax"), dtype="float64", seed=5
    )
    w = rng.uniform(0.1, 3.0, size=5)
    assert_grads_close(net, inputs(rng), rng.integers(0, 3, size=5), "cross_entropy", w)


def test_dropout_in_training_mode_backpropagates_through_its_mask():
    net = gn.Sequential(
        gn.Dense(3, 8, "tanh"), gn.Dropout(0.5), gn.Dense(8, 1), dtype="float64", seed=0
    )
    X = np.random.default_rng(0).normal(size=(4, 3))
    y = np.zeros(4)
    _, grads = net.loss_and_grad(X, y, loss="mse", training=True)
    mask = net.layers[1]._mask
    dropped_units = np.flatnonzero((mask == 0).all(axis=0))
    assert dropped_units.size > 0
    # A unit dropped for every sample gets no gradient into its weights downstream.
    np.testing.assert_array_equal(grads[2]["W"][:, dropped_units], 0.0)


def test_gradcheck_passes_on_correct_gradients_and_reports_per_parameter():
    net = gn.Sequential(gn.Dense(3, 4, "sigmoid"), gn.Dense(4, 2, "softmax"), seed=0)
    X = np.random.default_rng(1).normal(size=(5, 3))
    report = gn.gradcheck(net, X, [0, 1, 1, 0, 1], loss="cross_entropy")
    assert report.passed
    assert [(r.layer, r.param) for r in report.rows] == [
        (0, "W"),
        (0, "b"),
        (1, "W"),
        (1, "b"),
    ]
    assert report.max_rel_error < 1e-7
    assert "PASSED" in str(report)
    assert net.dtype == np.float32  # checked on a float64 copy; the net is unchanged


def test_gradcheck_catches_a_wrong_derivative(monkeypatch):
    # tanh' written as 1 - a instead of 1 - a^2: gradcheck must say FAILED.
    monkeypatch.setattr(gn.Tanh, "derivative", lambda self, Z, A: 1.0 - A)
    net = gn.Sequential(gn.Dense(3, 4, "tanh"), gn.Dense(4, 1), seed=0)
    X = np.random.default_rng(2).normal(size=(5, 3))
    report = gn.gradcheck(net, X, np.zeros(5), loss="mse")
    assert not report.passed
    failing = {
        (r.layer, r.param) for r in report.rows if r.max_rel_error > report.tolerance
    }
    assert (0, "W") in failing and (1, "W") not in failing
    assert "FAIL" in str(report)
