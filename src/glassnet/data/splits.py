"""Random splits of rows into train and test parts, stratified on request.

``split_indices`` gives the row indices; ``train_test_split`` applies them to
arrays, as scikit-learn's function of that name does. ``fit(validation_split=...)``
and ``glassnet train`` split with the same function, so a seed gives the same rows
everywhere.

Examples
--------
>>> import numpy as np
>>> from glassnet.data.splits import split_indices, train_test_split
>>> train, test = split_indices(10, 0.3, seed=0)
>>> len(train), len(test), sorted({*train, *test}) == list(range(10))
(7, 3, True)
>>> X, y = np.arange(20.0).reshape(10, 2), np.array([0] * 5 + [1] * 5)
>>> X_train, X_test, y_train, y_test = train_test_split(
...     X, y, test_size=0.4, stratify=True, seed=0)
>>> X_train.shape, X_test.shape, int(y_test.sum())
((6, 2), (4, 2), 2)
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import as_generator, check_number, check_positive_int

__all__ = ["split_indices", "train_test_split"]


def split_indices(n: int, test_size, labels=None, seed=None):
    """Row indices (train, test) of a random split of n rows; stratified when
    ``labels`` (shape (n,)) are given, so each class keeps its share in both parts.

    The test part has ceil(test_size * n) rows (test_size a fraction in (0, 1)) or
    test_size rows (an int), as scikit-learn's train_test_split. With stratification
    each class c gets round-half-largest-remainder of n_test * n_c / n test rows.
    """
    n = check_positive_int(n, "n")
    if isinstance(test_size, bool):
        raise TypeError(f"test_size must be a fraction or a count, got {test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
        if not 0 < n_test < n:
            raise ValueError(
                f"test_size as a count must be in [1, {n - 1}], got {n_test}"
            )
    else:
        fraction = check_number(
            test_size, "test_size", low=0.0, high=1.0, low_open=True, high_open=True
        )
        n_test = math.ceil(fraction * n)
        if n_test >= n:
            raise ValueError(
                f"test_size={fraction:g} of {n} rows leaves no training rows"
            )
    rng = as_generator(seed)
    if labels is None:
        order = rng.permutation(n)
        return order[n_test:], order[:n_test]
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"stratify labels must have shape ({n},), got {labels.shape}")
    classes, inverse, counts = np.unique(
        labels, return_inverse=True, return_counts=True
    )
    # Largest-remainder apportionment: floor of each class's share, then one more row
    # for the classes with the largest remainders until the total is n_test.
    share = n_test * counts / n
    per_class = np.floor(share).astype(np.int64)
    extra = n_test - per_class.sum()
    if extra:
        per_class[np.argsort(-(share - per_class), kind="stable")[:extra]] += 1
    test_parts, train_parts = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        test_parts.append(members[: per_class[c]])
        train_parts.append(members[per_class[c] :])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return train, test


def train_test_split(*arrays, test_size=0.25, stratify=None, seed=None):
    """Split arrays (same number of rows) into random train and test parts.

    Returns train_0, test_0, train_1, test_1, ... as scikit-learn does.
    ``stratify``: None (plain random split), True (stratify on the last array, the
    labels), or an array of labels.
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    arrays = [a if hasattr(a, "shape") else np.asarray(a) for a in arrays]
    n = len(arrays[0])
    for i, a in enumerate(arrays[1:], start=1):
        if len(a) != n:
            raise ValueError(
                f"all arrays must have the same number of rows: array 0 has {n}, "
                f"array {i} has {len(a)}"
            )
    if stratify is True:
        stratify = arrays[-1]
    elif stratify is False:
        stratify = None
    if stratify is not None:
        stratify = np.asarray(stratify)
        if stratify.ndim == 2:
            stratify = (
                stratify.argmax(axis=1) if stratify.shape[1] > 1 else stratify[:, 0]
            )
    train, test = split_indices(n, test_size, stratify, seed)
    return [part for a in arrays for part in (a[train], a[test])]
