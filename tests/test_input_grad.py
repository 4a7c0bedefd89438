"""net.input_grad: dL/dX against central finite differences and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import glassnet as gn
from glassnet.nn.activations import ACTIVATIONS

HIDDEN = [name for name in ACTIVATIONS if name != "step"]  # softmax included
# (loss, output activation, output width): the fused pairs, then unfused ones.
LOSS_CASES = [
    ("mse", "identity", 2),
    ("binary_crossentropy", "sigmoid", 2),
    ("cross_entropy", "softmax", 3),
    ("mse", "tanh", 2),
    ("mse", "softmax", 3),  # softmax's Jacobian-vector product, not fused
    (gn.BinaryCrossEntropyLoss(from_logits=True), "identity", 2),
    (gn.CrossEntropyLoss(from_logits=True), "identity", 3),
]


def targets(loss, width, n, rng):
    name = gn.get_loss(loss).name
    if name == "cross_entropy":
        return rng.integers(0, width, size=n)
    if name == "binary_crossentropy":
        return rng.integers(0, 2, size=(n, width)).astype(float)
    return rng.normal(size=(n, width))


def make_case(hidden, loss, out_act, width, seed=0, n=5, d=3):
    rng = np.random.default_rng(seed)
    net = gn.Sequential(
        gn.Dense(d, 4, hidden),
        gn.Dense(4, width, out_act),
        dtype="float64",
        seed=seed,
    )
    for layer in net.layers:  # nonzero biases, so no unit sits at a kink by symmetry
        layer.b = rng.normal(scale=0.5, size=layer.b.shape)
    X = rng.normal(size=(n, d))
    return net, X, targets(loss, width, n, rng)


def finite_difference_input_grad(net, X, y, loss, h=1e-6, sample_weight=None):
    """(L(X + h e_ij) - L(X - h e_ij)) / 2h for every entry of X."""
    G = np.zeros_like(X)
    for idx in np.ndindex(*X.shape):
        Xp, Xm = X.copy(), X.copy()
        Xp[idx] += h
        Xm[idx] -= h
        Lp = net.loss_value(Xp, y, loss, sample_weight=sample_weight)
        Lm = net.loss_value(Xm, y, loss, sample_weight=sample_weight)
        G[idx] = (Lp - Lm) / (2 * h)
    return G


def relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(
    "case", LOSS_CASES, ids=lambda c: f"{gn.get_loss(c[0])!r}-{c[1]}"
)
def test_input_grad_matches_finite_differences(hidden, case):
    loss, out_act, width = case
    net, X, y = make_case(hidden, loss, out_act, width, seed=HIDDEN.index(hidden))
    dX = net.input_grad(X, y, loss=loss)
    assert dX.shape == X.shape
    assert dX.dtype == np.float64
    numeric = finite_difference_input_grad(net, X, y, loss)
    assert np.abs(dX).max() > 1e-6  # a real gradient, not a vacuous match of zeros
    assert relative_error(dX, numeric) < 1e-6


def test_input_grad_with_sample_weight_matches_finite_differences():
    net, X, y = make_case("tanh", "cross_entropy", "softmax", 3, seed=3)
    w = np.array([1.0, 0.0, 2.0, 0.5, 3.0])
    dX = net.input_grad(X, y, loss="cross_entropy", sample_weight=w)
    numeric = finite_difference_input_grad(net, X, y, "cross_entropy", sample_weight=w)
    assert relative_error(dX, numeric) < 1e-6
    assert np.all(dX[1] == 0.0)  # a sample of weight 0 does not move the loss


def test_input_grad_through_activation_layers_and_dropout():
    rng = np.random.default_rng(7)
    net = gn.Sequential(
        gn.Dense(3, 5),
        gn.ELU(),
        gn.Dropout(0.5),
        gn.Dense(5, 2),
        gn.Softmax(),
        dtype="float64",
        seed=7,
    )
    X, y = rng.normal(size=(4, 3)), [0, 1, 1, 0]
    dX = net.input_grad(X, y, loss="cross_entropy")
    # dropout is off in inference mode, so the gradient is deterministic
    np.testing.assert_array_equal(dX, net.input_grad(X, y, loss="cross_entropy"))
    numeric = finite_difference_input_grad(net, X, y, "cross_entropy")
    assert relative_error(dX, numeric) < 1e-6


def test_input_grad_leaves_parameter_gradients_unchanged():
    net, X, y = make_case("relu", "cross_entropy", "softmax", 3)
    net.loss_and_grad(X[:2], y[:2], loss="cross_entropy")
    before = net.flat_grads.copy()
    net.input_grad(X, y, loss="cross_entropy")
    np.testing.assert_array_equal(net.flat_grads, before)
    # and the layers' grads are still views into flat_grads
    net.flat_grads[0] = 123.0
    assert net.layers[0].dW.flat[0] == 123.0


def test_input_grad_float32_network_returns_float32():
    net = gn.Sequential(gn.Dense(3, 2, "softmax"), seed=0)
    dX = net.input_grad(np.ones((2, 3)), [0, 1], loss="cross_entropy")
    assert dX.dtype == np.float32 and dX.shape == (2, 3)


def test_input_grad_step_activation_raises_clear_error():
    net = gn.Sequential(gn.Dense(3, 2, "step"), gn.Dense(2, 1, "sigmoid"), seed=0)
    with pytest.raises(gn.StepGradientError, match="step activation has no useful"):
        net.input_grad(np.ones((2, 3)), [0, 1], loss="binary_crossentropy")


def test_input_grad_bad_input_messages():
    net = gn.Sequential(gn.Dense(3, 2, "softmax"), seed=0)
    with pytest.raises(
        ValueError, match="X and y have different numbers of samples: 2 and 3"
    ):
        net.input_grad(np.ones((2, 3)), [0, 1, 1], loss="cross_entropy")
    with pytest.raises(ValueError, match="4 features per sample .* in_features=3"):
        net.input_grad(np.ones((2, 4)), [0, 1], loss="cross_entropy")
    with pytest.raises(ValueError, match="class labels must be in 0..1"):
        net.input_grad(np.ones((2, 3)), [0, 5], loss="cross_entropy")
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(2,\)"):
        net.input_grad(np.ones((2, 3)), [0, 1], "cross_entropy", sample_weight=[1.0])


# -- against PyTorch autograd on the same weights -----------------------------------
def torch_activation(act, Z):
    name = act.name
    if name == "identity":
        return Z
    if name == "leaky_relu":
        return F.leaky_relu(Z, act.negative_slope)
    if name == "elu":
        return F.elu(Z, act.alpha)
    if name == "softmax":
        return torch.softmax(Z, dim=1)
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "gelu": F.gelu,  # exact erf form, as glassnet's
        "softplus": F.softplus,
    }[name](Z)


def torch_forward(net, x):
    """The network written again in torch from its layers' W and b (Dense only)."""
    A = x
    for layer in net.layers:
        W = torch.tensor(layer.W)
        b = torch.tensor(layer.b)
        A = torch_activation(layer.activation, A @ W.T + b)
    return A


def torch_loss(loss, A, y, width):
    loss = gn.get_loss(loss)
    if loss.name == "mse":
        return F.mse_loss(A, torch.tensor(np.asarray(y, dtype=np.float64)))
    if loss.name == "binary_crossentropy":
        Y = torch.tensor(np.asarray(y, dtype=np.float64))
        if loss.from_logits:
            return F.binary_cross_entropy_with_logits(A, Y)
        return F.binary_cross_entropy(A, Y)
    labels = torch.tensor(np.asarray(y, dtype=np.int64))
    if loss.from_logits:
        return F.cross_entropy(A, labels)
    return F.nll_loss(torch.log(A), labels)


def torch_input_grad(net, X, y, loss, width):
    x = torch.tensor(X, requires_grad=True)
    torch_loss(loss, torch_forward(net, x), y, width).backward()
    return x.grad.numpy()


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(
    "case", LOSS_CASES, ids=lambda c: f"{gn.get_loss(c[0])!r}-{c[1]}"
)
def test_input_grad_matches_torch(hidden, case):
    loss, out_act, width = case
    net, X, y = make_case(
        hidden, loss, out_act, width, seed=10 + HIDDEN.index(hidden), n=7
    )
    expected = torch_input_grad(net, X, y, loss, width)
    np.testing.assert_allclose(
        net.input_grad(X, y, loss=loss), expected, rtol=0, atol=1e-10
    )
    assert np.abs(expected).max() > 1e-4


def test_input_grad_deeper_network_matches_torch():
    rng = np.random.default_rng(5)
    net = gn.Sequential(
        gn.Dense(6, 8, "gelu"),
        gn.Dense(8, 8, "tanh"),
        gn.Dense(8, 5, "leaky_relu"),
        gn.Dense(5, 4, "softmax"),
        dtype="float64",
        seed=5,
    )
    X, y = rng.normal(size=(9, 6)), rng.integers(0, 4, size=9)
    expected = torch_input_grad(net, X, y, "cross_entropy", 4)
    np.testing.assert_allclose(
        net.input_grad(X, y, "cross_entropy"), expected, rtol=0, atol=1e-10
    )
