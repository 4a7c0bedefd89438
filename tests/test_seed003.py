"""The worked example of seed 003, every number computed independently here.

Where the blog differs from the true values:
- it writes z2 = 3.18 but then uses 2.73; 2.73 = 0.7*1.3 + 0.9*1.8 + 0.2 is right;
- it writes sigmoid(2.73) = 0.938 and then "0.96"; 0.938774 is right;
- it rounds L = -log(0.938) to 0.064; -log(0.938774) = 0.063181;
- it finds dL/dz2 = -0.062 (approximately right: a2 - y = -0.061226) but then
  backpropagates -0.039936 into the hidden layer, so its dL/da1, dL/dz1 and dL/dW1 are
  all too small by a factor of 0.65;
- its final dL/dW1 matrix is also transposed and has 2 * -0.03594 = -0.08985 (it is -0.07188).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from glassnet.worked_example import seed003_example

import glassnet as gn


def hand_computed():
    x1, x2, y = 1.0, 2.0, 1.0
    W1 = [[0.2, 0.4], [0.1, 0.6]]
    b1 = [0.3, 0.5]
    W2 = [0.7, 0.9]
    b2 = 0.2
    z1 = [W1[j][0] * x1 + W1[j][1] * x2 + b1[j] for j in range(2)]
    a1 = [max(0.0, z) for z in z1]
    z2 = W2[0] * a1[0] + W2[1] * a1[1] + b2
    a2 = 1.0 / (1.0 + math.exp(-z2))
    L = -(y * math.log(a2) + (1 - y) * math.log(1 - a2))
    dL_da2 = -y / a2 + (1 - y) / (1 - a2)
    da2_dz2 = a2 * (1 - a2)
    dL_dz2 = dL_da2 * da2_dz2
    dL_dW2 = [dL_dz2 * a1[0], dL_dz2 * a1[1]]
    dL_db2 = dL_dz2
    dL_da1 = [dL_dz2 * W2[0], dL_dz2 * W2[1]]
    dL_dz1 = [dL_da1[j] * (1.0 if z1[j] > 0 else 0.0) for j in range(2)]
    dL_dW1 = [[dL_dz1[j] * x1, dL_dz1[j] * x2] for j in range(2)]
    return dict(
        z1=z1,
        a1=a1,
        z2=z2,
        a2=a2,
        L=L,
        dL_dz2=dL_dz2,
        dL_dW2=dL_dW2,
        dL_db2=dL_db2,
        dL_dz1=dL_dz1,
        dL_dW1=dL_dW1,
        dL_db1=dL_dz1,
    )


def test_hand_values_are_the_correct_ones_not_the_blogs():
    h = hand_computed()
    assert h["z2"] == pytest.approx(2.73)
    assert h["a2"] == pytest.approx(0.938774, abs=1e-6)  # blog: 0.938, then 0.96
    assert h["L"] == pytest.approx(0.063181, abs=1e-6)  # blog: 0.064
    assert h["dL_dz2"] == pytest.approx(-0.061226, abs=1e-6)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_forward_matches_hand_computation(dtype, tol):
    h = hand_computed()
    net, X, _ = seed003_example(dtype)
    cache = net.forward(X, return_all=True)
    np.testing.assert_allclose(cache[0]["Z"][0], h["z1"], rtol=tol, atol=tol)
    np.testing.assert_allclose(cache[0]["A"][0], h["a1"], rtol=tol, atol=tol)
    np.testing.assert_allclose(cache[1]["Z"][0], [h["z2"]], rtol=tol, atol=tol)
    np.testing.assert_allclose(cache[1]["A"][0], [h["a2"]], rtol=tol, atol=tol)
    assert cache[1]["A"].dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_loss_and_every_gradient_match_hand_computation(dtype, tol):
    h = hand_computed()
    net, X, y = seed003_example(dtype)
    loss, grads = net.loss_and_grad(X, y, loss="binary_crossentropy")
    assert loss == pytest.approx(h["L"], rel=tol)
    np.testing.assert_allclose(grads[1]["W"], [h["dL_dW2"]], rtol=tol, atol=tol)
    np.testing.assert_allclose(grads[1]["b"], [h["dL_db2"]], rtol=tol, atol=tol)
    np.testing.assert_allclose(grads[0]["W"], h["dL_dW1"], rtol=tol, atol=tol)
    np.testing.assert_allclose(grads[0]["b"], h["dL_db1"], rtol=tol, atol=tol)


def test_one_gradient_descent_step_lowers_the_loss():
    net, X, y = seed003_example()
    before, _ = net.loss_and_grad(X, y, loss="binary_crossentropy")
    net.flat_params -= 0.1 * net.flat_grads  # theta <- theta - lr dL/dtheta
    after = net.loss_value(X, y, loss="binary_crossentropy")
    assert after < before


def test_layer_outputs_are_the_same_through_the_neuron_class():
    h = hand_computed()
    first = gn.Neuron([0.2, 0.4], 0.3, "relu").forward([1, 2])
    second = gn.Neuron([0.7, 0.9], 0.2, "sigmoid").forward(h["a1"])
    assert first.z == pytest.approx(h["z1"][0])
    assert second.a == pytest.approx(h["a2"], rel=1e-12)
    assert "0.2*1 + 0.4*2 + 0.3 = 1.3" in str(first)
