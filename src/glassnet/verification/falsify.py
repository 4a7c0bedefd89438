"""Falsification: look for an input in the region whose output is in an unsafe set.

The objective is the property's margin at x,

    margin(x) = min over unsafe sets k of  max over rows i of (C_k y - d_k)_i,

which is <= 0 exactly when y = f(x) lies in some unsafe set. Sampling (the centre, the
corners, random points) comes first, then projected gradient descent on the margin with
random restarts. A candidate counts only after the model's own forward pass, in its
own dtype, puts its output in an unsafe set and the input (as the model reads it) in
the region.
"""

from __future__ import annotations

import itertools

import numpy as np

from .network import VerifiedNetwork, model_outputs
from .spec import Box, Property


def margins(prop: Property, Y: np.ndarray) -> np.ndarray:
    """margin(x) for each row of Y (n, n_out): (n,); <= 0 means unsafe."""
    Y = np.atleast_2d(Y)
    per_set = [np.max(Y @ u.C.T - u.d, axis=1) for u in prop.unsafe]
    return np.min(per_set, axis=0)


def _margin_grad(vn: VerifiedNetwork, prop: Property, X: np.ndarray):
    Y = vn.forward(X)
    values = np.stack([Y @ u.C.T - u.d for u in prop.unsafe])  # (k, n, m)
    rows = np.argmax(values, axis=2)  # the active row of each set            (k, n)
    best = np.take_along_axis(values, rows[..., None], 2)[..., 0]
    k = np.argmin(best, axis=0)  # the closest set                              (n,)
    C = np.stack([prop.unsafe[kk].C[rows[kk, i]] for i, kk in enumerate(k)])
    _, dX = vn.forward_grad(X, C)  # d(c . y)/dx with c the active row         (n, in)
    return best.min(axis=0), dX


def candidates(box: Box, n_random: int, rng) -> np.ndarray:
    """The centre, the corners (all of them up to 2^10, else random ones), and
    uniform random points of the box: (n, n_in)."""
    lo, hi = box.lower, box.upper
    points = [(lo + hi) / 2]
    if box.size <= 10:
        corners = np.array(list(itertools.product((0.0, 1.0), repeat=box.size)))
    else:
        corners = rng.integers(0, 2, size=(256, box.size)).astype(np.float64)
    points.extend(lo + corners * (hi - lo))
    points.extend(rng.uniform(lo, hi, size=(n_random, box.size)))
    return np.asarray(points)


def pgd(vn, prop, box: Box, X0: np.ndarray, steps: int = 40) -> np.ndarray:
    """Projected gradient descent on the margin from each row of X0: the end points."""
    X = X0.copy()
    step = 0.1 * (box.upper - box.lower)
    for t in range(steps):
        _, dX = _margin_grad(vn, prop, X)
        X = np.clip(X - step * np.sign(dX), box.lower, box.upper)
        if t % 10 == 9:
            step = step / 2
    return X


def confirm(net, vn, prop: Property, X: np.ndarray):
    """The first row of X that the model itself puts in an unsafe set, as
    (x, y) in float64 (x as the model reads it), or None."""
    if X.size == 0:
        return None
    X_model = np.concatenate([_in_dtype(X, box, net.dtype) for box in prop.regions])
    inside = np.zeros(len(X_model), dtype=bool)
    for box in prop.regions:
        inside |= np.all((X_model >= box.lower) & (X_model <= box.upper), axis=1)
    X_model = X_model[inside]
    if X_model.size == 0:
        return None
    Y = model_outputs(net, X_model, vn.dropped_softmax)
    bad = np.flatnonzero(prop.violated_by(Y))
    for i in bad[np.argsort(margins(prop, Y[bad]))][:16]:
        # once more alone: a batch may round differently from a single row
        y = model_outputs(net, X_model[i : i + 1], vn.dropped_softmax)[0]
        if prop.violated_by(y)[0]:
            return X_model[i], y
    return None


def pgd_per_set(vn, prop, box: Box, rng, restarts: int = 8, steps: int = 60):
    """PGD on each unsafe set's own margin, max_i (C_k y - d_k)_i, from the centre and
    ``restarts - 1`` uniform random points per set, all sets in one batch: the end
    points (n_sets * restarts, n_in).

    Each set gets its own descent: the margin over all sets follows whichever set is
    closest at each step, and on a robustness property (one set per other class) it
    drifts between classes and misses the one that can be reached. The step starts
    at a quarter of the box's width and halves four times."""
    n_sets = len(prop.unsafe)
    X = rng.uniform(box.lower, box.upper, size=(n_sets, restarts, box.size))
    X[:, 0] = (box.lower + box.upper) / 2
    X = X.reshape(n_sets * restarts, box.size)
    step = 0.25 * (box.upper - box.lower)
    for t in range(steps):
        Y = vn.forward(X).reshape(n_sets, restarts, -1)
        C = np.empty((n_sets, restarts, Y.shape[2]))
        for k, unsafe in enumerate(prop.unsafe):  # the row that is the set's margin
            row = np.argmax(Y[k] @ unsafe.C.T - unsafe.d, axis=1)
            C[k] = unsafe.C[row]
        _, dX = vn.forward_grad(X, C.reshape(n_sets * restarts, -1))
        X = np.clip(X - step * np.sign(dX), box.lower, box.upper)
        if t % max(steps // 5, 1) == max(steps // 5, 1) - 1:
            step = step / 2
    return X


def _in_dtype(X: np.ndarray, box: Box, dtype) -> np.ndarray:
    """X as the model reads it (rounded to its dtype), kept in the box: a point on
    the box's face (where PGD's projection puts it) can round to just outside, and
    is moved back by one unit in the last place of the dtype. In float64."""
    X_dtype = np.asarray(X, dtype=dtype)
    hi, lo = (
        X_dtype.astype(np.float64) > box.upper,
        X_dtype.astype(np.float64) < box.lower,
    )
    X_dtype = np.where(hi, np.nextafter(X_dtype, np.asarray(-np.inf, dtype)), X_dtype)
    X_dtype = np.where(lo, np.nextafter(X_dtype, np.asarray(np.inf, dtype)), X_dtype)
    return X_dtype.astype(np.float64)


def falsify(net, vn, prop: Property, box: Box, rng, n_random=256, restarts=8):
    """A confirmed counterexample (x, y) in ``box``, or None: sampling, PGD on the
    margin over all sets from the best samples, then PGD on each set's own margin."""
    X = candidates(box, n_random, rng)
    values = margins(prop, vn.forward(X))
    found = confirm(net, vn, prop, X[values <= _slack(values)])
    if found is not None:
        return found
    starts = X[np.argsort(values)[:restarts]]
    for X in (pgd(vn, prop, box, starts), pgd_per_set(vn, prop, box, rng)):
        values = margins(prop, vn.forward(X))
        found = confirm(net, vn, prop, X[values <= _slack(values)])
        if found is not None:
            return found
    return None


def _slack(values):
    # the model's own rounding may put a point the float64 pass calls safe by a hair
    # into the unsafe set: try those too
    return 1e-5 * (1.0 + np.max(np.abs(values)))
