"""Built-in datasets and the splitting and scaling helpers."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn import datasets as sk_datasets

import glassnet as gn
from glassnet.data.splits import split_indices

GENERATED = {
    "moons": lambda seed: gn.datasets.moons(n_samples=101, seed=seed),
    "circles": lambda seed: gn.datasets.circles(n_samples=101, seed=seed),
    "spirals": lambda seed: gn.datasets.spirals(n_samples=101, n_classes=3, seed=seed),
    "xor": lambda seed: gn.datasets.xor(n_repeats=5, noise=0.1, seed=seed),
}


@pytest.mark.parametrize("name", GENERATED)
def test_generated_datasets_are_seeded(name):
    X1, y1 = GENERATED[name](0)
    X2, y2 = GENERATED[name](0)
    X3, _ = GENERATED[name](1)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert X1.dtype == np.float64 and y1.dtype == np.int64
    assert X1.shape == (len(y1), 2)


def test_xor_and_and_or_truth_tables():
    X, y = gn.datasets.xor()
    assert [int(a) ^ int(b) for a, b in X] == y.tolist()
    X, y = gn.datasets.and_or()
    assert y[:, 0].tolist() == [int(a) & int(b) for a, b in X]
    assert y[:, 1].tolist() == [int(a) | int(b) for a, b in X]
    assert gn.datasets.and_or("or")[1].tolist() == [0, 1, 1, 1]
    X, y = gn.datasets.xor(n_repeats=3, noise=0.05, seed=0)
    assert (
        X.shape == (12, 2)
        and np.abs(X - np.tile(gn.datasets.xor()[0], (3, 1))).max() < 0.3
    )


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            lambda: gn.datasets.moons(n_samples=30, noise=0.0, seed=0),
            lambda: sk_datasets.make_moons(30, noise=None, shuffle=False),
        ),
        (
            lambda: gn.datasets.circles(n_samples=30, noise=0.0, factor=0.4, seed=0),
            lambda: sk_datasets.make_circles(30, noise=None, factor=0.4, shuffle=False),
        ),
    ],
    ids=["moons", "circles"],
)
def test_noise_free_shapes_are_scikit_learns(ours, theirs):
    X, y = ours()
    Xs, ys = theirs()
    for c in (0, 1):
        a = X[y == c][np.lexsort(X[y == c].T)]
        b = Xs[ys == c][np.lexsort(Xs[ys == c].T)]
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_spirals_classes_and_radius():
    X, y = gn.datasets.spirals(n_samples=300, n_classes=3, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [100, 100, 100]
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() == pytest.approx(1.0) and r.min() == 0.0
    # Noise-free: the angle of each point is t = 4 c + 4 r (measured from the y axis).
    t = 4 * y + 4 * r
    np.testing.assert_allclose(
        X, np.stack([r * np.sin(t), r * np.cos(t)], axis=1), atol=1e-12
    )


@pytest.mark.parametrize(
    "name, shape, n_classes",
    [
        ("load_digits", (1797, 64), 10),
        ("load_iris", (150, 4), 3),
        ("load_wine", (178, 13), 3),
        ("load_breast_cancer", (569, 30), 2),
    ],
)
def test_loaders_return_scikit_learns_data(name, shape, n_classes):
    X, y = getattr(gn.datasets, name)()
    Xs, ys = getattr(sk_datasets, name)(return_X_y=True)
    assert X.shape == shape and len(np.unique(y)) == n_classes
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(y, ys)


def test_loaders_without_scikit_learn_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    with pytest.raises(
        ImportError,
        match=r"load_digits needs scikit-learn.*pip install 'glassnet\[datasets\]'",
    ):
        gn.datasets.load_digits()


# -- splitting -----------------------------------------------------------------------
def test_train_test_split_sizes_and_disjointness():
    X = np.arange(50).reshape(25, 2)
    y = np.arange(25)
    X_train, X_test, y_train, y_test = gn.datasets.train_test_split(
        X, y, test_size=0.3, seed=0
    )
    assert len(X_test) == 8 and len(X_train) == 17  # ceil(0.3 * 25), as scikit-learn
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(25))
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)  # rows stay together
    again = gn.datasets.train_test_split(X, y, test_size=0.3, seed=0)
    np.testing.assert_array_equal(again[3], y_test)
    assert len(gn.datasets.train_test_split(X, test_size=5, seed=0)[1]) == 5


def test_stratified_split_keeps_class_shares():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    train, test = split_indices(100, 0.2, y, seed=1)
    assert np.bincount(y[test]).tolist() == [12, 6, 2]
    assert np.bincount(y[train]).tolist() == [48, 24, 8]
    # Shares that are not whole: 25 test rows of 60/30/10 -> 15, 7.5, 2.5: floors
    # 15, 7, 2, and the spare row goes to the first largest remainder (class 1).
    _, test = split_indices(100, 0.25, y, seed=1)
    assert np.bincount(y[test]).tolist() == [15, 8, 2]
    X_train, X_test, y_train, y_test = gn.datasets.train_test_split(
        np.zeros((100, 1)), y, test_size=0.2, stratify=True, seed=0
    )
    assert np.bincount(y_test).tolist() == [12, 6, 2]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: split_indices(10, 1.0),
            ValueError,
            r"test_size must be in \(0, 1\), got 1",
        ),
        (
            lambda: split_indices(10, 10),
            ValueError,
            r"test_size as a count must be in \[1, 9\], got 10",
        ),
        (
            lambda: split_indices(10, 0.5, labels=np.zeros(3)),
            ValueError,
            r"stratify labels must have shape \(10,\)",
        ),
        (
            lambda: gn.datasets.train_test_split(np.zeros(3), np.zeros(4)),
            ValueError,
            "array 0 has 3, array 1 has 4",
        ),
        (
            lambda: gn.datasets.train_test_split(),
            ValueError,
            "needs at least one array",
        ),
        (
            lambda: gn.datasets.and_or("xor"),
            ValueError,
            "gate must be 'and', 'or' or 'both', got 'xor'",
        ),
        (
            lambda: gn.datasets.moons(n_samples=0),
            ValueError,
            "n_samples must be a positive integer, got 0",
        ),
        (
            lambda: gn.datasets.circles(factor=1.0),
            ValueError,
            r"factor must be in \(0, 1\), got 1",
        ),
    ],
)
def test_dataset_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- scaling -------------------------------------------------------------------------
def test_standardize_uses_the_training_statistics():
    rng = np.random.default_rng(0)
    X_train = rng.normal(loc=5, scale=3, size=(100, 3))
    X_train[:, 2] = 7.0  # a constant feature
    X_test = rng.normal(loc=5, scale=3, size=(20, 3))
    Z_train, Z_test = gn.datasets.standardize(X_train, X_test)
    np.testing.assert_allclose(Z_train[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z_train[:, :2].std(axis=0), 1, rtol=1e-12)
    assert (Z_train[:, 2] == 0).all()  # std 0 is treated as 1: no NaN
    mean, std = X_train[:, :2].mean(axis=0), X_train[:, :2].std(axis=0)
    np.testing.assert_allclose(Z_test[:, :2], (X_test[:, :2] - mean) / std)
    scaler = gn.datasets.Standardizer().fit(X_train)
    np.testing.assert_allclose(
        scaler.inverse_transform(scaler.transform(X_test)), X_test
    )
    with pytest.raises(
        ValueError, match=r"X must have shape \(n_samples, 3\) like the data"
    ):
        scaler.transform(np.zeros((2, 2)))
