"""Small datasets for examples and tests, and the two helpers every example needs.

Generated (numpy only, seeded): ``xor``, ``and_or``, ``moons``, ``circles``,
``spirals``. Loaded from scikit-learn's bundled copies (the ``datasets`` extra,
``pip install 'glassnet[datasets]'``): ``load_digits``, ``load_iris``, ``load_wine``,
``load_breast_cancer``. Every function returns ``(X, y)``: X float64 of shape
(n_samples, n_features), y int64 labels of shape (n_samples,) (or (n, 2) for
``and_or``).

Helpers: ``train_test_split`` (stratified on request; the same splitter as
``fit(validation_split=...)``, from ``glassnet.data.splits``) and ``standardize``
(z = (x - mean) / std with the training set's statistics).

Examples
--------
>>> import glassnet as gn
>>> X, y = gn.datasets.moons(n_samples=100, noise=0.1, seed=0)
>>> X.shape, y.shape, int(y.sum())
((100, 2), (100,), 50)
>>> X_train, X_test, y_train, y_test = gn.datasets.train_test_split(
...     X, y, test_size=0.2, stratify=True, seed=0)
>>> X_train, X_test = gn.datasets.standardize(X_train, X_test)
>>> X_train.shape, X_test.shape, int(y_test.sum())
((80, 2), (20, 2), 10)
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import as_generator, check_number, check_positive_int
from .splits import split_indices, train_test_split

__all__ = [
    "Standardizer",
    "and_or",
    "circles",
    "load_breast_cancer",
    "load_digits",
    "load_iris",
    "load_wine",
    "moons",
    "spirals",
    "split_indices",
    "standardize",
    "train_test_split",
    "xor",
]

_TRUTH_TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)


# -- logic gates ---------------------------------------------------------------------
def xor(n_repeats: int = 1, noise: float = 0.0, seed=None):
    """XOR: y = x1 != x2 on the corners of the unit square (not linearly separable).

    ``n_repeats`` copies of the 4 corners, each jittered by N(0, noise^2) when
    noise > 0 (needs a seed).

    >>> X, y = xor()
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    X = _repeat_corners(n_repeats, noise, seed)
    y = (X.round().astype(np.int64).sum(axis=1) == 1).astype(np.int64)
    return X, y


def and_or(gate: str = "both", n_repeats: int = 1, noise: float = 0.0, seed=None):
    """The AND and OR gates on the corners of the unit square (linearly separable).

    gate "and" or "or" gives y of shape (n,); "both" gives y of shape (n, 2) with
    columns [x1 AND x2, x1 OR x2] (a two-output sigmoid network learns both).

    >>> X, y = and_or()
    >>> y.tolist()
    [[0, 0], [0, 1], [0, 1], [1, 1]]
    """
    if gate not in ("and", "or", "both"):
        raise ValueError(f"gate must be 'and', 'or' or 'both', got {gate!r}")
    X = _repeat_corners(n_repeats, noise, seed)
    bits = X.round().astype(np.int64)
    y_and = bits[:, 0] & bits[:, 1]
    y_or = bits[:, 0] | bits[:, 1]
    y = {"and": y_and, "or": y_or}.get(gate)
    return X, np.stack([y_and, y_or], axis=1) if y is None else y


def _repeat_corners(n_repeats, noise, seed) -> np.ndarray:
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    noise = check_number(noise, "noise", low=0.0)
    X = np.tile(_TRUTH_TABLE, (n_repeats, 1))
    if noise > 0:
        X = X + as_generator(seed).normal(0.0, noise, size=X.shape)
    return X


# -- 2-D shapes ----------------------------------------------------------------------
def moons(n_samples: int = 200, noise: float = 0.1, seed=None):
    """Two interleaving half circles (the construction of scikit-learn's make_moons).

    Class 0: (cos t, sin t), class 1: (1 - cos t, 1/2 - sin t), t evenly spaced in
    [0, pi], plus N(0, noise^2) on each coordinate; rows in random order.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    noise = check_number(noise, "noise", low=0.0)
    rng = as_generator(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0.0, math.pi, n_outer)
    t_inner = np.linspace(0.0, math.pi, n_inner)
    X = np.concatenate(
        [
            np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
            np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _noisy_shuffled(X, y, noise, rng)


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed=None):
    """A circle of radius ``factor`` (class 1) inside one of radius 1 (class 0).

    Angles evenly spaced, plus N(0, noise^2) on each coordinate; rows in random order
    (scikit-learn's make_circles construction).
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    noise = check_number(noise, "noise", low=0.0)
    factor = check_number(
        factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True
    )
    rng = as_generator(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0.0, 2 * math.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2 * math.pi, n_inner, endpoint=False)
    X = np.concatenate(
        [
            np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
            factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _noisy_shuffled(X, y, noise, rng)


def spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed=None):
    """Interleaved spiral arms, one per class (the CS231n spiral data).

    For class c and r evenly spaced in [0, 1]: t = 4 c + 4 r + N(0, noise^2),
    x = (r sin t, r cos t). Rows in random order.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_classes = check_positive_int(n_classes, "n_classes")
    noise = check_number(noise, "noise", low=0.0)
    rng = as_generator(seed)
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    parts, labels = [], []
    for c, n_c in enumerate(counts):
        r = np.linspace(0.0, 1.0, n_c)
        t = (
            4.0 * c + 4.0 * r + rng.normal(0.0, noise, size=n_c)
            if noise
            else 4.0 * (c + r)
        )
        parts.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        labels.append(np.full(n_c, c, dtype=np.int64))
    order = rng.permutation(n_samples)
    return np.concatenate(parts)[order], np.concatenate(labels)[order]


def _noisy_shuffled(X, y, noise, rng):
    if noise > 0:
        X = X + rng.normal(0.0, noise, size=X.shape)
    order = rng.permutation(len(y))
    return X[order], y[order]


# -- scikit-learn's bundled datasets -------------------------------------------------
def _sklearn_loader(name: str):
    try:
        from sklearn import datasets as sk_datasets
    except ImportError as error:
        raise ImportError(
            f"{name} needs scikit-learn, which ships the data: install the datasets "
            "extra with  pip install 'glassnet[datasets]'  (or pip install scikit-learn)"
        ) from error
    return getattr(sk_datasets, name)


def load_digits():
    """8x8 images of handwritten digits: X (1797, 64) pixel values 0..16, y 0..9."""
    return _load("load_digits")


def load_iris():
    """Iris flowers: X (150, 4) measurements in cm, y 0..2 (setosa, versicolor,
    virginica)."""
    return _load("load_iris")


def load_wine():
    """Wine from three cultivars: X (178, 13) chemical measurements, y 0..2."""
    return _load("load_wine")


def load_breast_cancer():
    """Breast cancer diagnosis: X (569, 30) cell-nucleus features, y 0 malignant,
    1 benign."""
    return _load("load_breast_cancer")


def _load(name: str):
    X, y = _sklearn_loader(name)(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


# -- scaling -------------------------------------------------------------------------
class Standardizer:
    """z = (x - mean) / std per feature, with the statistics of the data it was fit
    on (scikit-learn's StandardScaler: population std, and std 0 treated as 1 so that
    constant features become 0 instead of NaN)."""

    def fit(self, X) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features), got shape {X.shape}"
            )
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError("Standardizer.transform called before fit")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_.size:
            raise ValueError(
                f"X must have shape (n_samples, {self.mean_.size}) like the data the "
                f"Standardizer was fit on, got {X.shape}"
            )
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) * self.scale_ + self.mean_


def standardize(X_train, *others):
    """X_train standardized with its own mean and std, and each of ``others`` with
    the same statistics (so test data is scaled like the training data).

    Returns one array, or a tuple when ``others`` are given.
    """
    scaler = Standardizer().fit(X_train)
    if not others:
        return scaler.transform(X_train)
    return (scaler.transform(X_train), *(scaler.transform(X) for X in others))
