"""Properties that hold for every input, checked with hypothesis."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import glassnet as gn
from netcases import TRAINABLE_ACTIVATIONS

finite = st.floats(-30, 30, allow_nan=False, allow_infinity=False, width=64)
matrices = st.integers(1, 6).flatmap(
    lambda n: st.integers(1, 5).flatmap(
        lambda k: arrays(np.float64, (n, k), elements=finite)
    )
)


@given(matrices)
def test_softmax_rows_are_distributions(Z):
    P = gn.Softmax().forward(Z)
    assert (P >= 0).all() and (P <= 1).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        P, gn.Softmax().forward(Z + 123.0), rtol=1e-9, atol=1e-15
    )


@given(matrices, st.data())
def test_losses_are_nonnegative_and_zero_at_a_perfect_prediction(A, data):
    n, k = A.shape
    Y = data.draw(arrays(np.float64, (n, k), elements=finite))
    assert gn.MSELoss()(A, Y) >= 0 and gn.MSELoss()(Y, Y) == 0
    probs = 1 / (1 + np.exp(-A))
    labels = data.draw(arrays(np.int64, (n, k), elements=st.integers(0, 1))).astype(
        float
    )
    assert gn.BinaryCrossEntropyLoss()(probs, labels) >= 0
    assert gn.BinaryCrossEntropyLoss()(labels, labels) == 0
    onehot = np.eye(k)[
        data.draw(arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    ]
    assert gn.CrossEntropyLoss()(gn.Softmax().forward(A), onehot) >= 0
    assert gn.CrossEntropyLoss()(onehot, onehot) == 0


# The two properties below run over every activation but "step" (TRAINABLE_ACTIVATIONS):
# its output jumps at z = 0, where a batch and a single row (or float32 and float64)
# may round z to different sides, and the second one takes gradients, which step
# has none of.
@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(TRAINABLE_ACTIVATIONS), st.integers(1, 8), st.integers(0, 2**32 - 1)
)
def test_a_batch_gives_the_same_output_as_its_rows_one_by_one(activation, n, seed):
    net = gn.Sequential(
        gn.Dense(3, 5, activation),
        gn.Dense(5, 2, activation),
        dtype="float64",
        seed=seed,
    )
    X = np.random.default_rng(seed).normal(size=(n, 3))
    batch = net.forward(X)
    rows = np.vstack([net.forward(X[i : i + 1]) for i in range(n)])
    np.testing.assert_allclose(batch, rows, rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(TRAINABLE_ACTIVATIONS), st.integers(0, 2**32 - 1))
def test_float32_and_float64_agree_within_float32_tolerance(activation, seed):
    net64 = gn.Sequential(
        gn.Dense(4, 6, activation),
        gn.Dense(6, 3, "softmax"),
        dtype="float64",
        seed=seed,
    )
    net32 = net64.copy(dtype="float32")
    X = np.random.default_rng(seed).normal(size=(5, 4))
    y = np.random.default_rng(seed).integers(0, 3, size=5)
    np.testing.assert_allclose(net32.forward(X), net64.forward(X), rtol=1e-5, atol=1e-6)
    loss32, g32 = net32.loss_and_grad(X, y, loss="cross_entropy")
    loss64, g64 = net64.loss_and_grad(X, y, loss="cross_entropy")
    assert abs(loss32 - loss64) <= 1e-5 * max(1.0, abs(loss64))
    for a, b in zip(g32, g64, strict=True):
        for name in a:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5)
