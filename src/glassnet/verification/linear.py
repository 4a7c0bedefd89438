"""Symbolic linear bounds by back-substitution (CROWN, DeepPoly), for many boxes at once.

A bound on c . y is carried backwards as a linear function of each layer's activations,

    c . y >= Lambda_k . a_k + const,

through z = W a + b (Lambda . z = (Lambda W) . a + Lambda . b) and through each
activation by a linear relaxation  s_l z + t_l <= g(z) <= s_u z + t_u  valid on the
neuron's bounds [L, U] (positive coefficients take the lower line, negative ones the
upper). At the input, min over the box of Lambda . x is Lambda . m - |Lambda| . r.

ReLU relaxations: stable neurons are exact; an unstable one (L < 0 < U) takes the
chord from (L, 0) to (U, U) above and the line a = alpha z below, alpha in [0, 1]
(alpha = 1 when U > -L, else 0: the smaller area). Leaky ReLU likewise with alpha in
[slope, 1]. Sigmoid and Tanh fall back to their interval [g(L), g(U)] (a constant
relaxation, sound since they are increasing).

Rounding: the model's rounding delta (see ``network``) adds |Lambda| . delta per layer.
This module's own float64 rounding is bounded by running the same recursion on
absolute values: the computed products of matrices differ from the exact ones by at
most gamma_N |A_1| ... |A_k| (Higham, 3.5), N the total length of the chain, so the
bound is lowered by gamma_N times the absolute recursion's value.
"""

from __future__ import annotations

import numpy as np

from .._fast import kernels
from .interval import U64, interval_bounds
from .network import Block, VerifiedNetwork


def relaxation(block: Block, L: np.ndarray, U: np.ndarray):
    """(s_l, t_l, s_u, t_u), each like L: s_l z + t_l <= g(z) <= s_u z + t_u on [L, U]."""
    kind = block.activation
    one, zero = np.ones_like(L), np.zeros_like(L)
    if kind == "identity":
        return one, zero, one, zero
    if kind in ("sigmoid", "tanh"):
        g_lo, g_hi = block.g(L), block.g(U)
        g_lo = g_lo - 8 * U64 * np.abs(g_lo) - 1e-300
        g_hi = g_hi + 8 * U64 * np.abs(g_hi) + 1e-300
        return zero, g_lo, zero, g_hi
    s = block.slope if kind == "leaky_relu" else 0.0
    active, inactive = L >= 0, U <= 0
    unstable = ~(active | inactive)
    width = np.where(unstable, U - L, 1.0)
    chord = np.where(unstable, (U - s * L) / width, 0.0)
    # the chord through (L, sL) and (U, U), lifted by its own rounding
    lift = 8 * U64 * (np.abs(L) + np.abs(U))
    s_u = np.where(active, 1.0, np.where(inactive, s, chord))
    t_u = np.where(unstable, U - chord * U + lift, 0.0)
    alpha = np.where(U > -L, 1.0, s)
    s_l = np.where(active, 1.0, np.where(inactive, s, alpha))
    return s_l, zero, s_u, t_u


def _backsubstitute(
    net, k, Lam, bounds, deltas, lower, upper, start_const, start_abs,
    alphas=None, betas=None, return_lam=False, row_norms=False, relax=None,
    first=None,
):  # fmt: skip
    """Lower bound of Lam . z_k + start_const over each box (Lam: (B, m, n_k)); with
    return_lam, also the bound's coefficients on the input (B, m, n_in).

    alphas: optional {j: (B, m, n_j)} lower slopes for block j's unstable neurons (any
    value in [slope, 1] is sound); betas: optional {j: (B, m, n_j)} multipliers of the
    constraints sign_j z_j >= 0, sign_j = +1 where L >= 0 and -1 where U <= 0 (the
    term -beta sign z added to the bound is <= 0 on the region, so any beta >= 0 is
    sound). row_norms: bound the absolute recursion by its rows' 1-norms instead
    (|v| |W| has 1-norm <= |v|_1 times the largest row sum of |W|, and |v| . t <=
    |v|_1 max |t|): looser by a factor the rounding margin (about 1e-13 of the
    magnitudes) does not feel, and it saves the second product of matrices.
    relax: optional list of each block's ``relaxation`` on ``bounds``, computed once
    by the caller. first: optional Lam W_k, when the caller has it exactly without a
    product (rows of W picked by unit rows of Lam)."""
    const = start_const.copy()
    # the absolute recursion: |Lambda| as it goes, or its rows' 1-norms (B, m, 1)
    Lam_abs = np.abs(Lam)
    if row_norms:
        Lam_abs = Lam_abs.sum(axis=2, keepdims=True)
    magnitude = start_abs.copy()
    chain = 0
    for j in range(k, -1, -1):
        block = net.blocks[j]
        if betas is not None and j in betas:
            L, U = bounds[j]
            sign = np.where(L >= 0, 1.0, np.where(U <= 0, -1.0, 0.0))
            Lam = Lam - sign[:, None, :] * betas[j]
            Lam_abs = Lam_abs + _absolute(betas[j], row_norms)
            chain += 1
        const += Lam @ block.b  # Lambda . b                                    (B, m)
        err = np.einsum("bmn,bn->bm", np.abs(Lam), deltas[j])
        const -= err
        magnitude += _dot_abs(Lam_abs, np.abs(block.b)) + err
        if j == k and first is not None:
            Lam = first
        elif j == 0 and not return_lam:
            # the input's coefficients Lambda W are needed only for the box's
            # minimum: taken part by part, they stay in the cache
            value = _box_minimum(Lam, block.W, lower, upper)
            Lam = None
        else:
            Lam = _times(Lam, block.W)  # Lambda W: coefficients on a_(j-1) (B, m, n)
        if row_norms:
            Lam_abs = Lam_abs * np.abs(block.W).sum(axis=1).max()
        else:
            Lam_abs = _times(Lam_abs, np.abs(block.W))
        chain += block.W.shape[1] + 4
        if j == 0:
            break
        if relax is None:
            s_l, t_l, s_u, t_u = relaxation(net.blocks[j - 1], *bounds[j - 1])
        else:
            s_l, t_l, s_u, t_u = relax[j - 1]
        magnitude += _dot_abs(Lam_abs, np.maximum(np.abs(t_l), np.abs(t_u)))
        s_l = s_l[:, None, :]
        if alphas is not None and j - 1 in alphas:
            L, U = bounds[j - 1]
            unstable = ((L < 0) & (U > 0))[:, None, :]
            s_l = np.where(
                unstable, _lower_slope(net.blocks[j - 1], alphas[j - 1]), s_l
            )
        Lam = _relax_step(Lam, s_l, s_u, t_l, t_u, const)
        slope = np.maximum(np.abs(s_l), np.abs(s_u)[:, None, :])
        Lam_abs = Lam_abs * (slope.max(axis=2, keepdims=True) if row_norms else slope)
    if Lam is not None:
        value = _minimum_over_box(Lam, lower, upper)
    amax = np.maximum(np.abs(lower), np.abs(upper))
    magnitude += _dot_abs(Lam_abs, amax)
    N = chain + lower.shape[1] + 8
    bound = value + const - 2 * N * U64 * magnitude
    return (bound, Lam) if return_lam else bound


def _lower_slope(block, alpha):
    """alpha in float64, projected onto [slope, 1], where a = alpha z is below the
    (leaky) ReLU: slopes found in float32 may round to just under a leaky slope."""
    floor = block.slope if block.activation == "leaky_relu" else 0.0
    return np.clip(np.asarray(alpha, dtype=np.float64), floor, 1.0)


def _minimum_over_box(Lam, lower, upper):
    """min of Lam . x over each box (Lam (B, m, n), boxes (B, n)): Lam . m - |Lam| . r."""
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
    return np.einsum("bmn,bn->bm", Lam, mid) - np.einsum("bmn,bn->bm", np.abs(Lam), rad)


#: Input coefficients formed at once by ``_box_minimum``: 256 rows of 784 inputs,
#: about 1.6 MB of float64, a core's cache, not main memory.
BOX_ENTRIES = 256 * 784


def _box_minimum(Lam, W, lower, upper):
    """``_minimum_over_box(Lam W, ...)`` without forming all of Lam W (B, m, n_in):
    a few boxes at a time. With hundreds of rows per box (bounding a layer's neurons)
    Lam W is tens of MB, and every pass over it went to main memory, which two
    processes then shared. With few inputs (5 for ACAS Xu) all of it fits at once:
    parts of a few boxes would cost a call each for nothing."""
    B, m, _ = Lam.shape
    lower = np.broadcast_to(lower, (B, W.shape[1]))
    upper = np.broadcast_to(upper, (B, W.shape[1]))
    per = max(1, BOX_ENTRIES // (m * W.shape[1]))
    if per >= B:
        return _minimum_over_box(_times(Lam, W), lower, upper)
    value = np.empty((B, m))
    for start in range(0, B, per):
        part = slice(start, start + per)
        value[part] = _minimum_over_box(_times(Lam[part], W), lower[part], upper[part])
    return value


def _relax_step(Lam, s_l, s_u, t_l, t_u, const):
    """Lam through the relaxation: positive coefficients take the lower line (s_l,
    t_l), negative ones the upper (s_u, t_u); the offsets go into const (in place).
    Returns the new coefficients. One compiled pass when glassnet's loops are on
    (``glassnet._fast.kernels``), else numpy's passes."""
    loops = kernels.get()
    if loops is not None:
        out = np.empty_like(Lam)
        loops.relax_step(
            np.ascontiguousarray(Lam), np.ascontiguousarray(s_l),
            np.ascontiguousarray(s_u), np.ascontiguousarray(t_l),
            np.ascontiguousarray(t_u), out, const, Lam.dtype.type(0),
        )  # fmt: skip
        return out
    pos, neg = np.maximum(Lam, 0.0), np.minimum(Lam, 0.0)
    const += np.einsum("bmn,bn->bm", pos, t_l) + np.einsum("bmn,bn->bm", neg, t_u)
    return pos * s_l + neg * s_u[:, None, :]


def _absolute(A, row_norms):
    """|A| (B, m, n), or its rows' 1-norms (B, m, 1)."""
    return np.abs(A).sum(axis=2, keepdims=True) if row_norms else np.abs(A)


def _dot_abs(Lam_abs, v):
    """An upper bound of |Lambda| . v for v >= 0 ((B, n) or (n,)): (B, m), from
    |Lambda| (B, m, n) or from its rows' 1-norms (B, m, 1), then times max v."""
    if Lam_abs.shape[2] != v.shape[-1]:
        v_max = v.max(axis=-1)
        return Lam_abs[:, :, 0] * (v_max[:, None] if v.ndim == 2 else v_max)
    return Lam_abs @ v if v.ndim == 1 else np.einsum("bmn,bn->bm", Lam_abs, v)


def _times(Lam, W):
    """Lam @ W for Lam (B, m, n): one matrix product of (B m, n) by (n, n_in)."""
    B, m, n = Lam.shape
    return (Lam.reshape(B * m, n) @ W).reshape(B, m, W.shape[1])


PIECEWISE_LINEAR = ("relu", "leaky_relu", "identity")


#: Groups of boxes ``tighten`` bounds apart, sorted by how many neurons each asks
#: for: one call pads every box to the most any box asks for, and on the ACAS
#: Xu-like networks only 58% of the rows computed so were asked for (85% in 4
#: groups).
TIGHTEN_GROUPS = 4


def tighten(net, k, L, U, mask, bounds, deltas, lower, upper, relax=None):
    """Block k's bounds (L, U) (B, n_k), tightened by back-substitution where mask:
    copies, the other neurons unchanged. bounds: blocks 0..k-1's, as the
    relaxations are taken from."""
    L, U = L.copy(), U.copy()
    asked = mask.sum(axis=1)
    order = np.argsort(-asked, kind="stable")
    order = order[asked[order] > 0]  # boxes with nothing to bound again
    if not len(order):
        return L, U
    for group in np.array_split(order, min(TIGHTEN_GROUPS, len(order))):
        rows = _rows_of(len(L), group)
        part = [tuple(rows(v) for v in r) for r in relax] if relax is not None else None
        L_g, U_g = _tighten_group(
            net, k, L[group], U[group], mask[group],
            [(rows(Lb), rows(Ub)) for Lb, Ub in bounds], [rows(dl) for dl in deltas],
            rows(lower), rows(upper), part,
        )  # fmt: skip
        L[group], U[group] = L_g, U_g
    return L, U


def _rows_of(B, group):
    """A function taking the rows ``group`` of an array of B rows (an array of one
    row, broadcast to all boxes, is kept as it is)."""
    return lambda a: a[group] if a.shape[0] == B else a


def _tighten_group(net, k, L, U, mask, bounds, deltas, lower, upper, relax):
    """``tighten`` on boxes that each ask for at least one neuron."""
    box, neuron = np.nonzero(mask)
    # per box, one pair of rows (+e_i, -e_i) per neuron i asked for, padded with
    # zero rows to the box with the most
    rank = np.arange(len(box)) - np.searchsorted(box, box)
    width = int(rank.max()) + 1
    Lam = np.zeros((L.shape[0], 2 * width, L.shape[1]))
    Lam[box, rank, neuron], Lam[box, width + rank, neuron] = 1.0, -1.0
    # Lam W_k: the rows +-W_k[i], exactly what the product would give
    W = net.blocks[k].W
    first = np.zeros((L.shape[0], 2 * width, W.shape[1]))
    first[box, rank], first[box, width + rank] = W[neuron], -W[neuron]
    zero = np.zeros((L.shape[0], 2 * width))
    lb = _backsubstitute(
        net, k, Lam, bounds, deltas, lower, upper, zero, zero, row_norms=True,
        relax=relax, first=first,
    )  # fmt: skip
    L[box, neuron] = np.maximum(L[box, neuron], lb[box, rank])
    U[box, neuron] = np.minimum(U[box, neuron], -lb[box, width + rank])
    return L, U


def layer_bounds(net: VerifiedNetwork, lower, upper, parent=None, unstable_only=False):
    """Pre-activation bounds of every block by back-substitution, intersected with the
    interval ones: a list of (L, U), each (B, n_k), and the rounding deltas.

    parent: optional bounds of the same form, sound on regions that contain these
    boxes (a box's bounds before it was split); they are intersected in too, block by
    block, so every later block is bounded with the tighter relaxations.
    unstable_only: back-substitute only for the neurons the interval (and parent)
    bounds leave unstable (L < 0 < U) in blocks of ReLU, leaky ReLU or identity: the
    relaxation of a stable neuron, or of an identity, is the same whatever its bounds,
    so the others keep their interval bounds (sound, only looser as numbers)."""
    pre, _, deltas = interval_bounds(net, lower, upper)
    B = lower.shape[0]
    bounds, relax = [], []
    for k, block in enumerate(net.blocks):
        if k > 0:
            relax.append(relaxation(net.blocks[k - 1], *bounds[k - 1]))
        n = block.W.shape[0]
        if unstable_only and block.activation in PIECEWISE_LINEAR:
            L, U = pre[k]
            if parent is not None:
                L, U = np.maximum(L, parent[k][0]), np.minimum(U, parent[k][1])
            # the first block's interval bounds are its exact range (up to rounding)
            if k > 0 and block.activation != "identity":
                L, U = tighten(net, k, L, U, (L < 0) & (U > 0), bounds, deltas,
                               lower, upper, relax)  # fmt: skip
            bounds.append((L, np.maximum(U, L)))
            continue
        eye = np.eye(n)
        Lam = np.broadcast_to(np.concatenate([eye, -eye]), (B, 2 * n, n)).copy()
        zero = np.zeros((B, 2 * n))
        lb = _backsubstitute(
            net, k, Lam, bounds, deltas, lower, upper, zero, zero, row_norms=True,
            relax=relax,
        )  # fmt: skip
        L = np.maximum(lb[:, :n], pre[k][0])
        U = np.minimum(-lb[:, n:], pre[k][1])
        if parent is not None:
            L, U = np.maximum(L, parent[k][0]), np.minimum(U, parent[k][1])
        bounds.append((L, np.maximum(U, L)))
    return bounds, deltas


def linear_spec_bounds(
    net: VerifiedNetwork, lower, upper, C, d, *, parent=None, details=False,
    unstable_only=False,
):  # fmt: skip
    """Lower bounds on C y - d (B, m) over each of B boxes, by back-substitution.

    parent, unstable_only: as in ``layer_bounds``. With details, returns (rows, coefficients,
    bounds): the bounds' coefficients on the input (B, m, n_in) and the layer bounds
    used (for the boxes split from these).

    >>> import glassnet as gn
    >>> from glassnet.verification.network import read_network
    >>> net = gn.Sequential(gn.Dense(1, 2, "relu"), gn.Dense(2, 1), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0], [-1.0]], [0.0, 0.0]
    >>> net.layers[1].W, net.layers[1].b = [[1.0, 1.0]], [0.0]
    >>> lb = linear_spec_bounds(read_network(net), [[-1.0]], [[1.0]], [[1.0]], [0.0])
    >>> bool(-1e-9 < lb[0, 0] <= 0.0)  # |x| >= 0, exactly: relu(x) + relu(-x)
    True
    """
    lower = np.atleast_2d(np.asarray(lower, dtype=np.float64))
    upper = np.atleast_2d(np.asarray(upper, dtype=np.float64))
    C = np.atleast_2d(np.asarray(C, dtype=np.float64))
    d = np.asarray(d, dtype=np.float64).ravel()
    bounds, deltas = layer_bounds(net, lower, upper, parent, unstable_only)
    B, K = lower.shape[0], len(net.blocks) - 1
    last = net.blocks[K]
    Lam = np.broadcast_to(C, (B,) + C.shape).copy()
    const = np.broadcast_to(-d, (B, d.size)).copy()
    magnitude = np.broadcast_to(np.abs(d), (B, d.size)).copy()
    if last.activation != "identity":  # y = g(z_K): relax, then start at z_K
        L, U = bounds[K]
        s_l, t_l, s_u, t_u = relaxation(last, L, U)
        pos, neg = np.maximum(Lam, 0.0), np.minimum(Lam, 0.0)
        const += np.einsum("bmn,bn->bm", pos, t_l) + np.einsum("bmn,bn->bm", neg, t_u)
        amax = np.maximum(np.abs(last.g(L)), np.abs(last.g(U)))
        const -= np.abs(C) @ last.activation_error(amax, net.u).T  # its own rounding
        magnitude += np.einsum(
            "bmn,bn->bm", np.abs(Lam), np.maximum(np.abs(t_l), np.abs(t_u))
        )
        Lam = pos * s_l[:, None, :] + neg * s_u[:, None, :]
    rows, coefficients = _backsubstitute(
        net, K, Lam, bounds, deltas, lower, upper, const, magnitude, return_lam=True
    )
    return (rows, coefficients, bounds) if details else rows
