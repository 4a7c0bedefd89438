"""Certified accuracy: the fraction of samples classified correctly AND proved robust.

A sample (x, y) counts when the model predicts y at x and the sound bounds prove
z_y - z_j > 0 for every j != y over the whole box |x' - x|_inf <= eps (cut to
``clip``): no input of the box can change the prediction. An unproved sample never
counts, so certified accuracy is a lower bound on the accuracy under any attack;
``pgd_accuracy`` (correct at x and at the PGD point) is an upper bound on it.

    certified_accuracy <= pgd_accuracy <= clean accuracy   (same samples, same eps)
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..robustness import attacks
from ..robustness.report import predicted_labels, true_labels
from ..validation import check_input_matrix, check_number
from .interval import interval_spec_bounds
from .linear import linear_spec_bounds
from .network import model_outputs, read_network

METHODS = ("interval", "linear", "auto")
CHUNK = 64  # boxes per back-substitution: its work arrays grow as B x width^2


def certified_mask(net, X, y, eps, method: str = "auto", clip=None) -> np.ndarray:
    """(n,) booleans: sample i is predicted correctly and proved robust at ``eps``.

    method: "interval" (interval bounds), "linear" (back-substituted linear bounds),
    "auto" (interval, then linear for the samples it did not prove).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    eps = check_number(eps, "eps", low=0.0)
    clip = attacks.check_clip(clip)
    vn = read_network(net)
    X = check_input_matrix(X, vn.n_inputs, np.float64)
    labels = _labels(y, X.shape[0], vn.n_outputs)
    Y = model_outputs(net, X, vn.dropped_softmax)
    if vn.n_outputs == 1:
        threshold = 0.5 if vn.blocks[-1].activation == "sigmoid" else 0.0
        ok = (Y[:, 0] > threshold).astype(int) == labels
    else:
        ok = Y.argmax(axis=1) == labels
    lower, upper = X - eps, X + eps
    if clip is not None:
        lower, upper = np.clip(lower, *clip), np.clip(upper, *clip)
    proved = np.zeros(X.shape[0], dtype=bool)
    for c in np.unique(labels[ok]):
        rows = np.flatnonzero(ok & (labels == c))
        C, d = _spec(int(c), vn)
        done = np.zeros(rows.size, dtype=bool)
        if method in ("interval", "auto"):
            done = np.all(
                interval_spec_bounds(vn, lower[rows], upper[rows], C, d) > 0, 1
            )
        if method in ("linear", "auto"):
            for start in range(0, rows.size, CHUNK):
                part = np.arange(start, min(start + CHUNK, rows.size))
                part = part[~done[part]]
                if part.size:
                    lb = linear_spec_bounds(
                        vn, lower[rows[part]], upper[rows[part]], C, d
                    )
                    done[part] = np.all(lb > 0, axis=1)
        proved[rows] = done
    return proved


def certified_accuracy(net, X, y, eps, method: str = "auto", clip=None) -> float:
    """The fraction of (X, y) predicted correctly and proved robust in the L-infinity
    ball of radius ``eps`` (cut to ``clip`` = (lo, hi)), by the sound bounds of
    ``glassnet.verification`` (see ``certified_mask``). Never counts an unproved
    sample.

    Parameters
    ----------
    X : array (n, in_features); y : class labels (n,)
    eps : float >= 0
    method : "interval", "linear" or "auto", default "auto"
    clip : (lo, hi), optional

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 2), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]
    >>> X, y = [[1.0, 0.0], [0.0, 0.5]], [0, 1]
    >>> gn.certified_accuracy(net, X, y, eps=0.2)  # margins 1 and 0.5 > 2 eps
    1.0
    >>> gn.certified_accuracy(net, X, y, eps=0.3)  # 0.5 < 0.6: the second unproved
    0.5
    """
    mask = certified_mask(net, X, y, eps, method=method, clip=clip)
    return float(mask.mean()) if mask.size else 0.0


def pgd_accuracy(
    net, X, y, eps, steps: int = 10, step=None, clip=None, seed=0, loss=None
) -> float:
    """The fraction of (X, y) predicted correctly at x AND at the PGD point found
    in the ball of radius ``eps`` (``gn.attacks.pgd`` with its random start from
    ``seed``): an upper bound on the accuracy under every attack in the ball.

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 2, "softmax"), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]
    >>> X, y = [[1.0, 0.0], [0.0, 0.5]], [0, 1]
    >>> gn.pgd_accuracy(net, X, y, eps=0.2), gn.pgd_accuracy(net, X, y, eps=0.3)
    (1.0, 0.5)
    """
    X_adv = attacks.pgd(
        net, X, y, eps, step=step, steps=steps, loss=loss, clip=clip, seed=seed
    )
    X, Y, loss, _ = attacks.prepare(net, X, y, loss, clip)
    true = true_labels(Y, loss)
    clean = predicted_labels(net.predict(X), loss) == true
    attacked = predicted_labels(net.predict(X_adv), loss) == true
    return float(np.mean(clean & attacked)) if len(true) else 0.0


def _labels(y, n: int, n_outputs: int) -> np.ndarray:
    y = np.asarray(y).ravel()
    if y.size != n:
        raise InputError(f"X and y have different numbers of samples: {n} and {y.size}")
    classes = max(n_outputs, 2)
    if not (
        np.issubdtype(y.dtype, np.number) and np.all(np.isin(y, np.arange(classes)))
    ):
        raise InputError(
            f"y must hold class labels 0..{classes - 1}, got values such as "
            f"{y[:3].tolist()}"
        )
    return y.astype(np.intp)


def _spec(label: int, vn):
    """(C, d) with C y - d > 0 meaning "the prediction stays ``label``"."""
    k = vn.n_outputs
    if k == 1:
        threshold = 0.5 if vn.blocks[-1].activation == "sigmoid" else 0.0
        sign = 1.0 if label == 1 else -1.0
        return np.array([[sign]]), np.array([sign * threshold])
    others = [j for j in range(k) if j != label]
    C = np.zeros((k - 1, k))
    C[:, label] = 1.0
    C[np.arange(k - 1), others] = -1.0  # rows e_label - e_j
    return C, np.zeros(k - 1)
