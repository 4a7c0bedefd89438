"""Loss and every gradient against PyTorch autograd, in float64, within 1e-10.

The torch model is built here by hand from the glassnet weights (torch is a test-only
dependency), so this checks the math, not an interchange helper.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import glassnet as gn
from netcases import HIDDEN_ACTIVATIONS, LOSS_OUTPUTS, random_targets

torch = pytest.importorskip("torch", reason="torch==2.13.0 is in the dev extra")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": lambda z: F.elu(z, 1.0),
    "gelu": F.gelu,  # exact (erf) form, as glassnet's
    "softplus": F.softplus,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def torch_loss(name, A, Y):
    if name == "mse":
        return F.mse_loss(A, Y)
    if name == "binary_crossentropy":
        return F.binary_cross_entropy(A, Y)
    if name == "cross_entropy":  # A holds probabilities; targets are class labels
        return F.nll_loss(torch.log(A), Y)
    raise ValueError(name)


def compare_with_torch(net, X, y, loss):
    params = [
        torch.tensor(p.copy(), requires_grad=True) for _, _, p in net.parameters()
    ]
    A = torch.tensor(X)
    k = 0
    for layer in net.layers:
        W, b = params[k], params[k + 1]
        k += 2
        Z = A @ W.T + b
        A = TORCH_ACTIVATIONS[layer.activation.name](Z)
    Y = torch.tensor(y)
    output = net.layers[-1].activation.name
    # glassnet computes these two pairs from the logits (the stable, fused form);
    # torch's own fused losses are the reference there: on probabilities, 1 − a
    # loses the digits of a saturated output and the two would differ by ~1e-6
    if loss == "binary_crossentropy" and output == "sigmoid":
        value = F.binary_cross_entropy_with_logits(Z, Y)
    elif loss == "cross_entropy" and output == "softmax":
        value = F.cross_entropy(Z, Y)
    else:
        value = torch_loss(loss, A, Y)
    value.backward()

    ours, grads = net.loss_and_grad(X, y, loss=loss)
    assert ours == pytest.approx(value.item(), rel=1e-10, abs=1e-12)
    flat_ours = [grads[i][name] for i, name, _ in net.parameters()]
    for mine, theirs in zip(flat_ours, params, strict=True):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_random_networks_agree_with_autograd(activation, loss):
    rng = np.random.default_rng(zlib.crc32(f"{activation} {loss} torch".encode()))
    for output in LOSS_OUTPUTS[loss]:
        for widths in ([3, 5, 4], [3, 4, 6, 3]):
            layers = [
                gn.Dense(a, b, activation)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
            layers.append(gn.Dense(widths[-1], 3, output))
            net = gn.Sequential(*layers, dtype="float64", seed=rng)
            for p in net.flat_params.reshape(-1, 1)[::3]:
                p += 0.1  # nonzero biases too
            X = rng.normal(scale=1.5, size=(6, 3))
            compare_with_torch(net, X, random_targets(loss, 6, 3, rng), loss)


def test_confidently_wrong_prediction_matches_torch_logit_losses():
    # Logits far from the labels: the fused forms must equal PyTorch's *WithLogits losses
    # (finite), not the inf that log(sigmoid) would give.
    net = gn.Sequential(gn.Dense(1, 1, "sigmoid"), dtype="float64", seed=0)
    net.layers[0].W, net.layers[0].b = [[100.0]], [0.0]
    X = np.array([[5.0], [-5.0]])
    y = np.array([0.0, 1.0])
    ours = net.loss_value(X, y, loss="binary_crossentropy")
    Z = torch.tensor([[500.0], [-500.0]], dtype=torch.float64)
    theirs = F.binary_cross_entropy_with_logits(
        Z, torch.tensor(y).reshape(-1, 1)
    ).item()
    assert ours == pytest.approx(theirs, rel=1e-12) and ours == pytest.approx(500.0)

    soft = gn.Sequential(gn.Dense(2, 3, "softmax"), dtype="float64", seed=0)
    soft.layers[0].W = [[300.0, 0.0], [0.0, 0.0], [0.0, -300.0]]
    X = np.array([[1.0, 1.0]])
    ours = soft.loss_value(X, [2], loss="cross_entropy")
    Z = torch.tensor([[300.0, 0.0, -300.0]], dtype=torch.float64)
    assert ours == pytest.approx(
        F.cross_entropy(Z, torch.tensor([2])).item(), rel=1e-12
    )
