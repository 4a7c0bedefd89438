"""What a verification asks: an input region, and the outputs that must never occur.

A property holds when no input x in the region gives an output y in any unsafe set.
Each unsafe set is a conjunction of linear inequalities over the outputs,

    U_k = { y : C_k y <= d_k }        C_k: (m_k, n_out), d_k: (m_k,)

and the property asks  for all x in region:  y = f(x) is in no U_k.

This is the form VNNLIB files state (their asserts describe the counterexample) and
the form every usual question reduces to: "the prediction stays class c" is the
union over j != c of U_j = { y : y_c - y_j <= 0 }.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Box:
    """The input region lower <= x <= upper, element by element (both (n_in,))."""

    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self):
        lower = np.asarray(self.lower, dtype=np.float64).ravel()
        upper = np.asarray(self.upper, dtype=np.float64).ravel()
        if lower.shape != upper.shape:
            raise InputError(
                f"a box needs lower and upper of the same length, got "
                f"{lower.size} and {upper.size}"
            )
        if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
            raise InputError("a box needs finite bounds")
        if np.any(lower > upper):
            i = int(np.argmax(lower > upper))
            raise InputError(
                f"a box needs lower <= upper, got lower[{i}] = {lower[i]} > "
                f"upper[{i}] = {upper[i]}"
            )
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @property
    def size(self) -> int:
        return self.lower.size


@dataclass(frozen=True)
class LinearConstraints:
    """The output set { y : C y <= d }: one row of C and one entry of d per inequality."""

    C: np.ndarray
    d: np.ndarray

    def __post_init__(self):
        C = np.atleast_2d(np.asarray(self.C, dtype=np.float64))
        d = np.asarray(self.d, dtype=np.float64).ravel()
        if C.ndim != 2 or C.shape[0] != d.size:
            raise InputError(
                f"linear constraints need C (m, n_out) and d (m,), got C "
                f"{C.shape} and d {d.shape}"
            )
        if not (np.all(np.isfinite(C)) and np.all(np.isfinite(d))):
            raise InputError("linear constraints need finite C and d")
        object.__setattr__(self, "C", C)
        object.__setattr__(self, "d", d)

    def contains(self, Y: np.ndarray) -> np.ndarray:
        """Which rows of Y (n, n_out) lie in the set: (n,) booleans."""
        return np.all(np.atleast_2d(Y) @ self.C.T <= self.d, axis=1)


@dataclass(frozen=True)
class Property:
    """For every x in any of ``regions``, f(x) lies in none of ``unsafe``."""

    regions: tuple[Box, ...]
    unsafe: tuple[LinearConstraints, ...]

    def __post_init__(self):
        regions = (self.regions,) if isinstance(self.regions, Box) else self.regions
        unsafe = (
            (self.unsafe,)
            if isinstance(self.unsafe, LinearConstraints)
            else self.unsafe
        )
        regions, unsafe = tuple(regions), tuple(unsafe)
        if not regions or not unsafe:
            raise InputError("a property needs at least one region and one unsafe set")
        if len({box.size for box in regions}) != 1:
            raise InputError("all regions of a property must have the same input size")
        if len({u.C.shape[1] for u in unsafe}) != 1:
            raise InputError("all unsafe sets of a property must have the same width")
        object.__setattr__(self, "regions", regions)
        object.__setattr__(self, "unsafe", unsafe)

    @property
    def n_inputs(self) -> int:
        return self.regions[0].size

    @property
    def n_outputs(self) -> int:
        return self.unsafe[0].C.shape[1]

    def violated_by(self, Y: np.ndarray) -> np.ndarray:
        """Which rows of Y (n, n_out) lie in some unsafe set: (n,) booleans."""
        Y = np.atleast_2d(Y)
        return np.any([u.contains(Y) for u in self.unsafe], axis=0)


def linf_ball(x, eps: float, clip: tuple[float, float] | None = None) -> Box:
    """The box |x' - x|_inf <= eps, cut to ``clip`` = (low, high) when given.

    >>> linf_ball([0.5, 0.95], 0.1, clip=(0.0, 1.0)).upper
    array([0.6, 1. ])
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if not (np.isfinite(eps) and eps >= 0):
        raise InputError(f"eps must be a finite number >= 0, got {eps}")
    lower, upper = x - eps, x + eps
    if clip is not None:
        lower, upper = np.clip(lower, *clip), np.clip(upper, *clip)
    return Box(lower, upper)


def stays_class(label: int, n_outputs: int) -> tuple[LinearConstraints, ...]:
    """The unsafe sets for "the prediction stays ``label``": y_j >= y_label, j != label.

    Ties count as unsafe, so a proof means y_label > y_j strictly.

    >>> [u.C.tolist() for u in stays_class(0, 2)]
    [[[1.0, -1.0]]]
    """
    return stays_in_classes([label], n_outputs)


def stays_in_classes(labels, n_outputs: int) -> tuple[LinearConstraints, ...]:
    """Unsafe sets for "the argmax stays in ``labels``": some j outside beats them all."""
    labels = sorted({int(c) for c in labels})
    if not labels or min(labels) < 0 or max(labels) >= n_outputs:
        raise InputError(
            f"classes must be in 0..{n_outputs - 1}, got {labels or 'none'}"
        )
    unsafe = []
    for j in range(n_outputs):
        if j in labels:
            continue
        # y_j >= y_c for every allowed c:  y_c - y_j <= 0
        C = np.zeros((len(labels), n_outputs))
        for row, c in enumerate(labels):
            C[row, c], C[row, j] = 1.0, -1.0
        unsafe.append(LinearConstraints(C, np.zeros(len(labels))))
    if not unsafe:
        raise InputError("every class is allowed: the property says nothing")
    return tuple(unsafe)
