"""The input features a playground network may take: functions of the point (x1, x2).

Each feature is one column the first layer sees, computed from the raw coordinates::

    x1, x2, x1^2, x2^2, x1 x2, sin x1, sin x2

so a linear network with ``x1^2`` and ``x2^2`` can already separate a circle.

Examples
--------
>>> import numpy as np
>>> feature_matrix(np.array([[2.0, 3.0]]), ["x1", "x1x2", "x2^2"])
array([[2., 6., 9.]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InputError

#: name: (label shown on the page, the column computed from P of shape (n, 2)).
FEATURES: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "x1": ("x₁", lambda P: P[:, 0]),
    "x2": ("x₂", lambda P: P[:, 1]),
    "x1^2": ("x₁²", lambda P: P[:, 0] ** 2),
    "x2^2": ("x₂²", lambda P: P[:, 1] ** 2),
    "x1x2": ("x₁·x₂", lambda P: P[:, 0] * P[:, 1]),
    "sin(x1)": ("sin x₁", lambda P: np.sin(P[:, 0])),
    "sin(x2)": ("sin x₂", lambda P: np.sin(P[:, 1])),
}


def check_features(names: Sequence[str]) -> list[str]:
    """The feature names, checked: known, none twice, at least one."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InputError(f"features must be a list of names, got {names!r}")
    names = list(names)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise InputError(
            f"unknown feature(s) {unknown}; expected some of {list(FEATURES)}"
        )
    if not names:
        raise InputError(f"features must name at least one of {list(FEATURES)}")
    if len(set(names)) != len(names):
        raise InputError(f"features must not repeat a name, got {names}")
    return names


def feature_matrix(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The network's inputs for the points (n, 2): one column per feature (n, k)."""
    return np.stack([FEATURES[name][1](points) for name in names], axis=1)
