"""Activation values against their textbook formulas, derivatives, and stability."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from netcases import ALL_ACTIVATIONS, HIDDEN_ACTIVATIONS

Z = np.linspace(-4, 4, 17).reshape(1, -1)
FORMULAS = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
    "tanh": lambda z: (math.exp(z) - math.exp(-z)) / (math.exp(z) + math.exp(-z)),
    "relu": lambda z: max(0.0, z),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "elu": lambda z: z if z > 0 else math.exp(z) - 1,
    "gelu": lambda z: z * 0.5 * (1 + math.erf(z / math.sqrt(2))),
    "softplus": lambda z: math.log(1 + math.exp(z)),
    "step": lambda z: 1.0 if z >= 0 else 0.0,
}


# Every registered activation has its formula above (a new one without it fails
# here), but softmax: it is not elementwise and has its own test below.
@pytest.mark.parametrize("name", [n for n in ALL_ACTIVATIONS if n != "softmax"])
def test_values_match_the_formula(name):
    expected = [[FORMULAS[name](float(z)) for z in Z[0]]]
    np.testing.assert_allclose(
        gn.get_activation(name).forward(Z), expected, rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("name", HIDDEN_ACTIVATIONS)
def test_derivative_matches_central_differences(name):
    g = gn.get_activation(name)
    z = Z + 0.013  # off the kinks at 0
    h = 1e-6
    numeric = (g.forward(z + h) - g.forward(z - h)) / (2 * h)
    np.testing.assert_allclose(
        g.derivative(z, g.forward(z)), numeric, rtol=1e-7, atol=1e-9
    )


def test_softmax_rows_and_jacobian():
    g = gn.Softmax()
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    e = np.exp(z[0])
    np.testing.assert_allclose(g.forward(z)[0], e / e.sum())
    np.testing.assert_allclose(g.forward(z)[1], [1 / 3] * 3)
    # backward is the Jacobian-vector product with J_ij = a_i (delta_ij - a_j)
    a = g.forward(z)
    dA = np.array([[0.3, -1.0, 2.0], [1.0, 0.0, 0.0]])
    for row in range(2):
        J = np.diag(a[row]) - np.outer(a[row], a[row])
        np.testing.assert_allclose(g.backward(dA, z, a)[row], J.T @ dA[row])
    with pytest.raises(TypeError, match="no elementwise derivative"):
        g.derivative(z, a)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_no_overflow_at_extreme_inputs(dtype):
    z = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]], dtype=dtype)
    for name in ALL_ACTIVATIONS:
        a = gn.get_activation(name).forward(z)  # the autouse fixture raises on overflow
        assert np.isfinite(a).all(), name
        assert a.dtype == np.dtype(dtype), name
    s = gn.Sigmoid().forward(z)[0]
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert gn.Softplus().forward(z)[0, -1] == pytest.approx(1e4)
    sm = gn.Softmax().forward(z)
    assert sm[0, -1] == 1.0 and sm.sum() == pytest.approx(1.0)


def test_activation_objects_can_be_parametrised_and_compared():
    assert gn.LeakyReLU(0.2).forward(np.array([[-1.0]]))[0, 0] == pytest.approx(-0.2)
    assert gn.ELU(2.0).forward(np.array([[-50.0]]))[0, 0] == pytest.approx(-2.0)
    assert gn.get_activation("relu") == gn.ReLU() != gn.LeakyReLU()
    assert gn.get_activation(None) == gn.Identity()
    assert gn.get_activation("linear") == gn.Identity()
