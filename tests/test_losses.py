"""Loss values against their formulas, reductions as in PyTorch, fused forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn


def test_mse_is_the_mean_over_all_elements():
    A = np.array([[1.0, 2.0], [3.0, 5.0]])
    Y = np.array([[0.0, 2.0], [3.0, 3.0]])
    assert gn.MSELoss()(A, Y) == pytest.approx((1 + 0 + 0 + 4) / 4)


def test_binary_crossentropy_is_the_mean_over_all_elements():
    A = np.array([[0.9, 0.2], [0.6, 0.5]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.5)) / 4
    assert gn.BinaryCrossEntropyLoss()(A, Y) == pytest.approx(expected)


def test_cross_entropy_is_the_mean_over_samples_of_the_sum_over_classes():
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    Y = gn.CrossEntropyLoss().prepare_targets([0, 2], 3, np.float64)
    np.testing.assert_array_equal(Y, [[1, 0, 0], [0, 0, 1]])
    assert gn.CrossEntropyLoss()(P, Y) == pytest.approx(
        -(math.log(0.7) + math.log(0.8)) / 2
    )
    soft = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    expected = (
        -(
            0.5 * math.log(0.7)
            + 0.5 * math.log(0.2)
            + 0.25 * math.log(0.1)
            + 0.75 * math.log(0.8)
        )
        / 2
    )
    assert gn.CrossEntropyLoss()(P, soft) == pytest.approx(expected)


def test_fused_logit_forms_equal_the_plain_forms():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(6, 3))
    Yb = rng.uniform(size=(6, 3))
    bce = gn.BinaryCrossEntropyLoss()
    assert bce.value_from_logits(Z, Yb) == pytest.approx(
        bce(gn.Sigmoid().forward(Z), Yb), rel=1e-12
    )
    ce = gn.CrossEntropyLoss()
    Yc = ce.prepare_targets(rng.integers(0, 3, size=6), 3, np.float64)
    assert ce.value_from_logits(Z, Yc) == pytest.approx(
        ce(gn.Softmax().forward(Z), Yc), rel=1e-12
    )


def test_confidently_wrong_predictions_give_large_finite_losses_and_gradients():
    net = gn.Sequential(gn.Dense(1, 1, "sigmoid"), dtype="float32", seed=0)
    net.layers[0].W, net.layers[0].b = [[1000.0]], [0.0]
    loss, grads = net.loss_and_grad([[1.0]], [0.0], loss="binary_crossentropy")
    assert loss == pytest.approx(1000.0) and np.isfinite(grads[0]["W"]).all()
    soft = gn.Sequential(gn.Dense(1, 2, "softmax"), dtype="float32", seed=0)
    soft.layers[0].W = [[500.0], [-500.0]]
    loss, grads = soft.loss_and_grad([[1.0]], [1], loss="cross_entropy")
    assert loss == pytest.approx(1000.0) and np.isfinite(grads[0]["W"]).all()


def test_probability_form_clamps_log_like_pytorch():
    # A prediction of exactly 0 for a positive label: log is clamped at -100 -> loss 100.
    assert gn.BinaryCrossEntropyLoss()(
        np.array([[0.0]]), np.array([[1.0]])
    ) == pytest.approx(100.0)


def test_sample_weights_give_the_weighted_mean():
    A = np.array([[1.0], [3.0]])
    Y = np.zeros((2, 1))
    assert gn.MSELoss()(A, Y, sample_weight=[3.0, 1.0]) == pytest.approx(
        (3 * 1 + 1 * 9) / 4
    )
    assert gn.MSELoss()(A, Y, sample_weight=[1.0, 1.0]) == gn.MSELoss()(A, Y)


def test_names_and_aliases():
    assert isinstance(gn.get_loss("mse"), gn.MSELoss)
    assert isinstance(gn.get_loss("bce"), gn.BinaryCrossEntropyLoss)
    assert isinstance(gn.get_loss("categorical_crossentropy"), gn.CrossEntropyLoss)
    loss = gn.CrossEntropyLoss()
    assert gn.get_loss(loss) is loss
