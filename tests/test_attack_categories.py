"""Attacks on a network whose first layer looks up categories: the index columns are
labels, so FGSM and PGD (with its random start) leave them as they are and move only
the value columns."""

import numpy as np
import pytest

import glassnet as gn


def _net_and_data():
    net = gn.Sequential(
        gn.Embedding(index_columns=[1], n_categories=[5], dims=[3]),
        gn.Dense(5, 6, activation="relu"),
        gn.Dense(6, 3, activation="softmax"),
        seed=3,
    )
    rng = np.random.default_rng(7)
    X = np.column_stack(
        [rng.normal(size=40), rng.integers(0, 6, size=40), rng.normal(size=40)]
    )
    y = rng.integers(0, 3, size=40)
    return net, X, y


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_index_columns_stay_and_value_columns_move(attack):
    net, X, y = _net_and_data()
    if attack == "fgsm":
        X_adv = gn.attacks.fgsm(net, X, y, eps=0.3)
    else:
        X_adv = gn.attacks.pgd(net, X, y, eps=0.3, steps=5, seed=1)
    assert np.array_equal(X_adv[:, 1], X[:, 1])  # the categories, untouched
    moved = np.abs(X_adv[:, [0, 2]] - X[:, [0, 2]])
    assert (
        moved.max() <= 0.3 + 1e-6 and moved.max() > 0.1
    )  # float32 rounding of x + eps
    net.predict(X_adv)  # every index is still a category the layer can look up


def test_the_report_names_the_value_columns_as_the_inputs_moved():
    net, X, y = _net_and_data()
    report = gn.robustness_report(net, X, y, eps=[0.3], pgd_steps=3)
    assert report.perturbed == [0, 2] and report.n_inputs == 3
    assert "perturbing 2 of 3 inputs (indices 0, 2)" in str(report)
