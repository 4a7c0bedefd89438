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

import glassnet as gn
from glassnet.explaining.worked_example import seed003_example


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


def hand_forward_loss(W1, b1, W2, b2, x=(1.0, 2.0), y=1.0):
    """L(theta) for the seed 003 network, written out unit by unit."""
    a1 = [max(0.0, W1[j][0] * x[0] + W1[j][1] * x[1] + b1[j]) for j in range(2)]
    a2 = 1.0 / (1.0 + math.exp(-(W2[0] * a1[0] + W2[1] * a1[1] + b2)))
    return -(y * math.log(a2) + (1 - y) * math.log(1 - a2))


def hand_step(lr):
    """theta - lr dL/dtheta for each parameter, from the hand-computed gradients,
    and the loss at the new parameters."""
    h = hand_computed()
    W1 = np.array([[0.2, 0.4], [0.1, 0.6]]) - lr * np.array(h["dL_dW1"])
    b1 = np.array([0.3, 0.5]) - lr * np.array(h["dL_db1"])
    W2 = np.array([0.7, 0.9]) - lr * np.array(h["dL_dW2"])
    b2 = 0.2 - lr * h["dL_db2"]
    return W1, b1, W2, b2, hand_forward_loss(W1, b1, W2, b2)


def test_one_gradient_descent_step_gives_the_hand_computed_weights_and_loss():
    W1, b1, W2, b2, L = hand_step(0.1)
    # the step is a real one: every parameter moved, and the loss went down
    assert (W1 != [[0.2, 0.4], [0.1, 0.6]]).all() and (b1 != [0.3, 0.5]).all()
    assert (W2 != [0.7, 0.9]).all() and b2 != 0.2 and L < hand_computed()["L"]
    for step in ("flat", "fit"):
        net, X, y = seed003_example()
        if step == "flat":
            net.loss_and_grad(X, y, loss="binary_crossentropy")
            net.flat_params -= 0.1 * net.flat_grads  # theta <- theta - lr dL/dtheta
        else:
            net.fit(X, y, loss="binary_crossentropy", optimizer=gn.SGD(lr=0.1),
                    epochs=1, batch_size=None, shuffle=False, verbose=0)  # fmt: skip
        np.testing.assert_allclose(net.layers[0].W, W1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(net.layers[0].b, b1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(net.layers[1].W, [W2], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(net.layers[1].b, [b2], rtol=1e-12, atol=1e-12)
        after = net.loss_value(X, y, loss="binary_crossentropy")
        assert after == pytest.approx(L, rel=1e-12, abs=1e-12), step


def test_the_step_agrees_with_pytorch_autograd():
    """The same step with gradients from torch.autograd, not from the hand formulas."""
    torch = pytest.importorskip("torch")
    t = {
        name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
        for name, value in dict(
            W1=[[0.2, 0.4], [0.1, 0.6]], b1=[0.3, 0.5], W2=[[0.7, 0.9]], b2=[0.2]
        ).items()
    }
    x, y = torch.tensor([[1.0, 2.0]], dtype=torch.float64), torch.ones(1, 1).double()

    def loss(p):
        a1 = torch.relu(x @ p["W1"].T + p["b1"])
        a2 = torch.sigmoid(a1 @ p["W2"].T + p["b2"])
        return torch.nn.functional.binary_cross_entropy(a2, y)

    loss(t).backward()
    with torch.no_grad():
        stepped = {name: p - 0.1 * p.grad for name, p in t.items()}
        want_loss = loss(stepped).item()
    net, X, Y = seed003_example()
    net.loss_and_grad(X, Y, loss="binary_crossentropy")
    net.flat_params -= 0.1 * net.flat_grads
    for name, got in (("W1", net.layers[0].W), ("b1", net.layers[0].b),
                      ("W2", net.layers[1].W), ("b2", net.layers[1].b)):  # fmt: skip
        np.testing.assert_allclose(got, stepped[name].numpy(), rtol=1e-12, atol=1e-12)
    assert net.loss_value(X, Y, loss="binary_crossentropy") == pytest.approx(
        want_loss, rel=1e-12, abs=1e-12
    )


def test_layer_outputs_are_the_same_through_the_neuron_class():
    h = hand_computed()
    first = gn.Neuron([0.2, 0.4], 0.3, "relu").forward([1, 2])
    second = gn.Neuron([0.7, 0.9], 0.2, "sigmoid").forward(h["a1"])
    assert first.z == pytest.approx(h["z1"][0])
    assert second.a == pytest.approx(h["a2"], rel=1e-12)
    assert "0.2*1 + 0.4*2 + 0.3 = 1.3" in str(first)
