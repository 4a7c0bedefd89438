"""What a target column means: the task, and class labels as indices 0..k-1.

``infer_task(y)`` tells classification from regression, ``fit_classes(y)`` lists the
classes (class i of the network is ``classes[i]``) and ``encode_labels(y, classes)``
turns labels into those indices.
"""

from __future__ import annotations

import numpy as np

from .columns import is_numeric
from .errors import DataError

#: A numeric target with at most this many distinct whole numbers is read as classes.
MAX_AUTO_CLASSES = 20


def infer_task(y: np.ndarray) -> str:
    """ "classification" when the target holds text or booleans, or at most
    ``MAX_AUTO_CLASSES`` (20) distinct whole numbers; "regression" otherwise.

    >>> infer_task(np.array(["cat", "dog"], dtype=object)), infer_task(np.array([0.5, 1.5]))
    ('classification', 'regression')
    """
    if not is_numeric(y) or y.dtype.kind == "b":
        return "classification"
    if y.dtype.kind == "f" and not np.array_equal(y, np.floor(y)):
        return "regression"
    return "classification" if len(np.unique(y)) <= MAX_AUTO_CLASSES else "regression"


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def fit_classes(y: np.ndarray) -> list:
    """The distinct values of y, sorted, as plain Python values (str, int, float,
    bool): class i of the network is ``classes[i]``.

    >>> fit_classes(np.array(["b", "a", "b"], dtype=object))
    ['a', 'b']
    """
    values = {_python(v) for v in _distinct(y)[0]}
    try:
        return sorted(values)
    except TypeError:  # a mixture of types: order by their text
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def encode_labels(y: np.ndarray, classes: list, where: str = "the data") -> np.ndarray:
    """Indices into ``classes`` (int64, shape (n,)) of each value of y; a DataError
    naming values never seen in training.

    A value matches a class when equal (1 == 1.0) or, failing that, when their texts
    agree ("1" and 1), so a CSV column read as numbers in one file and as text in
    another still matches.

    >>> encode_labels(np.array(["b", "a"], dtype=object), ["a", "b"]).tolist()
    [1, 0]
    """
    index = {}
    for i, c in enumerate(classes):
        index.setdefault(c, i)
    by_text = {str(c): i for i, c in enumerate(classes)}
    cells, inverse = _distinct(y)
    distinct = fit_classes(cells)
    code_of, unseen = {}, []
    for value in distinct:
        i = index.get(value)
        if i is None:
            i = by_text.get(str(value))
        if i is None:
            unseen.append(value)
        code_of[value] = i
    if unseen:
        shown = ", ".join(repr(v) for v in unseen[:5]) + (
            ", ..." if len(unseen) > 5 else ""
        )
        known = ", ".join(repr(c) for c in classes[:20])
        raise DataError(
            f"{where} has label{'s' * (len(unseen) > 1)} {shown} the model never saw in "
            f"training; it knows {len(classes)} classes: {known}"
        )
    codes = np.array([code_of[_python(v)] for v in cells], dtype=np.int64)
    return codes if inverse is None else codes[inverse]


def _distinct(y: np.ndarray):
    """(the distinct cells of y, each row's index among them), without Python per
    row: by hashing (pandas' factorize) when pandas is there, else numpy's sort; (y
    itself, None) when neither applies (text mixed with numbers, without pandas)."""
    y = np.asarray(y)
    if y.ndim == 1:
        try:
            import pandas as pd
        except ImportError:
            pass
        else:
            inverse, cells = pd.factorize(y, use_na_sentinel=False)
            return np.asarray(cells, dtype=y.dtype), inverse
    try:
        cells, inverse = np.unique(y, return_inverse=True)
    except TypeError:
        return y, None
    return cells, inverse.reshape(-1)
