"""Complete branch and bound by input splitting, many boxes per bound call.

A box is closed when the certified lower bound of every unsafe set's margin is > 0
there; otherwise its centre is tried against the model, and it is halved along its
widest input (ties go to the input the margin's gradient at the centre weighs most).
The widest input, not the one the output is most sensitive to: what keeps a bound
loose is the unstable ReLUs, and every input moves those. Splitting the input is
complete for a continuous network (every box shrinks to a point, where the bounds
become exact up to rounding) and pays for low input dimensions; for many inputs it
ends in "unknown" at the timeout.

Each batch of boxes goes through one vectorised bound call, in worker processes when
a pool is given (``parallel``), half of the batch each.
"""

from __future__ import annotations

import time

import numpy as np

from .alpha import alpha_spec_bounds
from .falsify import confirm
from .interval import interval_spec_bounds
from .linear import linear_spec_bounds
from .result import ProofTree


def set_bounds(vn, prop, lower, upper, use_linear=True, alpha=False):
    """Certified lower bounds of each unsafe set's margin over B boxes: (B, n_sets);
    alpha: linear bounds with optimised ReLU slopes (``alpha``)."""
    C = np.concatenate([u.C for u in prop.unsafe])
    d = np.concatenate([u.d for u in prop.unsafe])
    rows = interval_spec_bounds(vn, lower, upper, C, d)
    if alpha:  # never looser than the fixed slopes; both are sound
        rows = np.maximum(rows, alpha_spec_bounds(vn, lower, upper, C, d))
    elif use_linear:  # both are sound: keep the tighter of the two
        rows = np.maximum(rows, linear_spec_bounds(vn, lower, upper, C, d))
    out, start = [], 0
    for u in prop.unsafe:  # a set is empty when any of its rows is > 0
        out.append(rows[:, start : start + len(u.d)].max(axis=1))
        start += len(u.d)
    return np.stack(out, axis=1)


def _bound_boxes(vn, prop, lo, hi, parent):
    """Set bounds (B, n_sets) of the boxes and the layer bounds found (for their
    children: intersected with theirs)."""
    C = np.concatenate([u.C for u in prop.unsafe])
    d = np.concatenate([u.d for u in prop.unsafe])
    interval = interval_spec_bounds(vn, lo, hi, C, d)
    linear, _, layers = linear_spec_bounds(
        vn, lo, hi, C, d, parent=parent, details=True, unstable_only=True
    )
    rows = np.maximum(interval, linear)  # both are sound: keep the tighter
    out, start = [], 0
    for u in prop.unsafe:  # a set is empty when any of its rows is > 0
        out.append(rows[:, start : start + len(u.d)].max(axis=1))
        start += len(u.d)
    return np.stack(out, axis=1), layers


def branch_and_bound(
    net, vn, prop, box, deadline, batch=256, max_boxes=200_000, pool=None
):  # fmt: skip
    """("holds" | "violated" | "timeout" | "unknown", counterexample, bounds, tree,
    n_boxes) for one region.

    A box's children start from its layer bounds (intersected with their own: sound
    on the smaller box, and never looser), and only the neurons still unstable are
    bounded again by back-substitution. pool: a ``parallel.LazyPool``, whose
    ``get(n_boxes, deadline)`` gives a ``parallel.Pool`` (or None: bound in this
    process), asked before every batch."""
    tree = ProofTree()
    open_lo, open_hi = box.lower[None].copy(), box.upper[None].copy()
    # a lower bound on each open box's margins: its parent's bounds hold on it too
    # (a smaller box), so a timeout reports the bound so far without computing more
    open_bounds = np.full((1, len(prop.unsafe)), -np.inf)
    open_layers = [
        (np.full((1, n), -np.inf), np.full((1, n), np.inf))
        for n in (b.W.shape[0] for b in vn.blocks)
    ]
    paths = [()]
    n_boxes = 0
    worst = np.full(len(prop.unsafe), np.inf)
    while len(open_lo):
        if time.perf_counter() > deadline:
            return (
                "timeout",
                None,
                np.minimum(worst, open_bounds.min(axis=0)),
                tree,
                n_boxes,
            )
        lo, hi, path = open_lo[:batch], open_hi[:batch], paths[:batch]
        parent = [(L[:batch], U[:batch]) for L, U in open_layers]
        open_lo, open_hi, paths = open_lo[batch:], open_hi[batch:], paths[batch:]
        open_bounds = open_bounds[batch:]
        open_layers = [(L[batch:], U[batch:]) for L, U in open_layers]
        bounds, layers = _bound_batch(pool, vn, prop, lo, hi, parent, n_boxes, deadline)
        n_boxes += len(lo)
        closed = np.all(bounds > 0, axis=1)
        for i in np.flatnonzero(closed):
            tree.add(path[i], lo[i], hi[i], bounds[i])
        worst = np.minimum(worst, bounds[closed].min(axis=0, initial=np.inf))
        keep = ~closed
        lo, hi, bounds = lo[keep], hi[keep], bounds[keep]
        layers = [(L[keep], U[keep]) for L, U in layers]
        path = [p for p, c in zip(path, closed, strict=True) if not c]
        if not len(lo):
            continue
        found = confirm(net, vn, prop, (lo + hi) / 2)
        if found is not None:
            return "violated", found, None, None, n_boxes
        if len(open_lo) + 2 * len(lo) > max_boxes:
            worst = np.minimum(worst, bounds.min(axis=0))
            return "unknown", None, worst, tree, n_boxes
        dim = _split_dimension(vn, prop, lo, hi)
        rows = np.arange(len(lo))
        mid = (lo[rows, dim] + hi[rows, dim]) / 2
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[rows, dim], right_lo[rows, dim] = mid, mid
        if np.any(mid <= lo[rows, dim]) or np.any(mid >= hi[rows, dim]):
            worst = np.minimum(worst, bounds.min(axis=0))
            return "unknown", None, worst, tree, n_boxes  # boxes down to one float
        open_lo = np.concatenate([lo, right_lo, open_lo])
        open_hi = np.concatenate([left_hi, hi, open_hi])
        open_bounds = np.concatenate([bounds, bounds, open_bounds])
        open_layers = [
            (np.concatenate([L, L, oL]), np.concatenate([U, U, oU]))
            for (L, U), (oL, oU) in zip(layers, open_layers, strict=True)
        ]
        paths = (
            [p + ((int(k), 0),) for p, k in zip(path, dim, strict=True)]
            + [p + ((int(k), 1),) for p, k in zip(path, dim, strict=True)]
            + paths
        )
    return "holds", None, worst, tree, n_boxes


def _bound_batch(pool, vn, prop, lo, hi, parent, n_boxes, deadline):
    """``_bound_boxes`` in the pool's workers when it has them, else here."""
    workers = None if pool is None else pool.get(n_boxes, deadline)
    if workers is not None:
        found = workers.bound_boxes(prop, lo, hi, parent)
        if found is not None:
            return found
    return _bound_boxes(vn, prop, lo, hi, parent)


def _split_dimension(vn, prop, lo, hi):
    """Per box, its widest input; among inputs of the same width, the one the
    margin's gradient at the centre weighs most."""
    width = hi - lo
    mid = (lo + hi) / 2
    C = np.concatenate([u.C for u in prop.unsafe])
    _, grad = vn.forward_grad(
        mid, np.broadcast_to(C.sum(axis=0), (len(lo), C.shape[1]))
    )
    weight = np.abs(grad) / (np.abs(grad).max(axis=1, keepdims=True) + 1e-300)
    # widths are halved, so equal ones are equal exactly; the gradient breaks ties
    return np.argmax(width * (1.0 + 1e-6 * weight), axis=1)
