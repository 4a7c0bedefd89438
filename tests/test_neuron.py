"""The single neuron and Rosenblatt's perceptron."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn

CORNERS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def test_neuron_weighted_sum_and_activation():
    out = gn.Neuron([0.5, -1.0, 2.0], b=0.25, activation="sigmoid").forward([2, 1, 0.5])
    z = 0.5 * 2 - 1.0 * 1 + 2.0 * 0.5 + 0.25
    assert out.z == pytest.approx(z)
    assert out.a == pytest.approx(1 / (1 + math.exp(-z)))
    assert float(out) == out.a
    assert str(out).startswith("z = 0.5*2 + -1*1 + 2*0.5 + 0.25 = 1.25")


def test_neuron_rejects_an_input_of_the_wrong_size():
    with pytest.raises(ValueError, match="x must have 2 features like w, got 3"):
        gn.Neuron([1, 2], 0).forward([1, 2, 3])


@pytest.mark.parametrize(
    "name, targets",
    [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1]), ("NAND", [1, 1, 1, 0])],
)
def test_perceptron_converges_on_separable_sets(name, targets):
    p = gn.Perceptron(2, lr=1.0, max_epochs=50).fit(CORNERS, targets)
    assert p.converged_ and p.separable_
    assert p.predict(CORNERS).tolist() == targets
    assert p.mistakes_per_epoch_[-1] == 0
    # The learned line separates the classes: every margin has the right sign.
    margins = CORNERS @ p.w + p.b
    assert np.all((margins >= 0) == np.array(targets, dtype=bool))


def test_perceptron_learns_a_random_separable_cloud():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    true_w = np.array([1.0, -2.0, 0.5])
    keep = np.abs(X @ true_w + 0.3) > 0.2  # a margin, so convergence is quick
    X, y = X[keep], (X[keep] @ true_w + 0.3 > 0).astype(int)
    p = gn.Perceptron(3, max_epochs=500).fit(X, y)
    assert p.converged_ and (p.predict(X) == y).all()


def test_perceptron_says_plainly_that_xor_is_not_linearly_separable():
    with pytest.warns(gn.NotLinearlySeparableWarning, match="not linearly separable"):
        p = gn.Perceptron(2, max_epochs=1000).fit(CORNERS, [0, 1, 1, 0])
    assert not p.converged_
    assert p.separable_ is False  # proved by the weights cycling, not guessed
    assert p.n_epochs_ < 1000  # it noticed the cycle instead of running to the limit
    assert "cycle forever" in p.message_
    assert (p.predict(CORNERS) != [0, 1, 1, 0]).any()


def test_perceptron_stops_at_max_epochs_when_it_cannot_tell():
    # A fractional learning rate on irrational-looking data makes exact cycles unlikely
    # within a few epochs: it must stop at max_epochs and say it may not be separable.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    y = rng.integers(0, 2, size=40)
    with pytest.warns(
        gn.NotLinearlySeparableWarning, match="did not converge in max_epochs=3"
    ):
        p = gn.Perceptron(2, lr=0.37, max_epochs=3).fit(X, y)
    assert p.n_epochs_ == 3 and p.separable_ is None


def test_perceptron_bad_input():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        gn.Perceptron(2).fit(CORNERS, [0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"lr must be in \(0, inf\], got 0"):
        gn.Perceptron(2, lr=0)
    with pytest.raises(ValueError, match="max_epochs must be a positive integer"):
        gn.Perceptron(2, max_epochs=0)
