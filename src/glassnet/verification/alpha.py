"""Optimised linear bounds (alpha-CROWN, with beta multipliers for ReLU splits).

The back-substitution of ``linear`` bounds an unstable ReLU from below by a = alpha z
for a fixed alpha. Every alpha in [0, 1] (in [slope, 1] for a leaky ReLU) gives a
sound bound, and the best one differs per box, per output row and per neuron, so
alpha is chosen by projected gradient ascent on the bound itself (Adam steps, alpha
clipped to its range). On a region cut by ReLU splits (z_i >= 0 or z_i <= 0), the
constraint enters the bound through a multiplier beta >= 0 (beta-CROWN): the term
-beta sign_i z_i is <= 0 on the region, so any beta >= 0 keeps the bound sound (weak
duality), and beta is optimised alongside alpha.

The optimisation runs without rounding margins; the final bound is recomputed with
the best alpha and beta found by ``linear``'s back-substitution, margins exactly as
there, and never reported looser than fixed-slope CROWN. Soundness never depends on
the optimisation having converged.
"""

from __future__ import annotations

import numpy as np

from .linear import _backsubstitute, _relax_step, _times, layer_bounds, relaxation

SLOPED = ("relu", "leaky_relu")


def alpha_spec_bounds(
    net, lower, upper, C, d, *, steps: int = 20, lr: float = 0.1,
    bounds=None, deltas=None, beta: bool = False, return_details: bool = False,
    start=None,
):  # fmt: skip
    """Lower bounds on C y - d (B, m) over each box, with optimised ReLU slopes.

    bounds, deltas: the pre-activation bounds and rounding margins (from
    ``linear.layer_bounds``, possibly tightened by ReLU splits); beta: also optimise
    the multipliers of the constraints that fix the phase of stable neurons.
    With return_details, also returns a dict with "side" (B, m, n_in) int8, the input
    that minimises each row's final linear bound as one byte per input (which end of
    the box, see ``corners``), "scores" {j: (B, n_j)}, each unstable neuron's share
    of the relaxation's looseness (for choosing a ReLU to split), and "alpha",
    "beta" {j: (B, m, n_j)}, the best slopes and multipliers found.
    start: optional {"alpha": {j: ...}, "beta": {j: ...}} to start the ascent from
    (a parent subproblem's best: warm, so fewer steps reach as far); projected onto
    the valid ranges, so any values are sound.

    >>> import glassnet as gn
    >>> from glassnet.verification.network import read_network
    >>> from glassnet.verification.linear import linear_spec_bounds
    >>> net = gn.Sequential(gn.Dense(3, 8, "relu"), gn.Dense(8, 1), dtype="float64", seed=0)
    >>> vn = read_network(net)
    >>> lo, hi = -np.ones((1, 3)), np.ones((1, 3))
    >>> a = alpha_spec_bounds(vn, lo, hi, [[1.0]], [0.0])
    >>> bool(a[0, 0] >= linear_spec_bounds(vn, lo, hi, [[1.0]], [0.0])[0, 0])
    True
    """
    lower = np.atleast_2d(np.asarray(lower, dtype=np.float64))
    upper = np.atleast_2d(np.asarray(upper, dtype=np.float64))
    C = np.atleast_2d(np.asarray(C, dtype=np.float64))
    d = np.asarray(d, dtype=np.float64).ravel()
    if bounds is None:
        bounds, deltas = layer_bounds(net, lower, upper)
    B, m, K = lower.shape[0], C.shape[0], len(net.blocks) - 1
    if net.blocks[K].activation != "identity":
        from .linear import linear_spec_bounds

        rows = linear_spec_bounds(net, lower, upper, C, d)
        return (rows, None) if return_details else rows
    relax = [relaxation(net.blocks[j], *bounds[j]) for j in range(K)]
    # the ascent only looks for good slopes and multipliers, and the bound it finds
    # is recomputed in float64 with its margins: float32 serves it, at half the
    # memory traffic (the products of matrices are most of its time)
    f32 = np.float32
    search = in_float32(
        net, C, d, bounds[: K + 1], deltas[: K + 1], relax, lower, upper
    )
    alphas, floor = {}, {}
    for j in range(K):
        if net.blocks[j].activation in SLOPED:
            floor[j] = net.blocks[j].slope if net.blocks[j].activation != "relu" else 0
            alphas[j] = np.broadcast_to(
                relax[j][0][:, None, :], (B, m, relax[j][0].shape[1])
            ).astype(f32)
    betas = {}
    if beta:
        for j in alphas:
            betas[j] = np.zeros_like(alphas[j])
    if start is not None:
        for j in alphas:
            alphas[j] = np.clip(start["alpha"][j], floor[j], 1.0).astype(f32)
        for j in betas:
            betas[j] = np.maximum(start["beta"][j], 0.0).astype(f32)
    lam0 = np.broadcast_to(C, (B,) + C.shape).copy()
    const0 = np.broadcast_to(-d, (B, m)).copy()
    mag0 = np.broadcast_to(np.abs(d), (B, m)).copy()

    def sound(al, be):
        return _backsubstitute(
            net, K, lam0, bounds, deltas, lower, upper, const0, mag0,
            alphas=al, betas=be if beta else None,
        )  # fmt: skip

    best = np.full((B, m), -np.inf, dtype=f32)
    best_alpha = {j: a.copy() for j, a in alphas.items()}
    best_beta = {j: b.copy() for j, b in betas.items()}
    params = [(alphas, j) for j in alphas] + [(betas, j) for j in betas]
    moments = {(id(p), j): (0.0, 0.0) for p, j in params}
    value = details = None
    for step in range(1, steps + 1):
        value, grads, details = _value_and_grad(K, *search, alphas, betas)
        better = value > best
        if np.any(better):
            for j in alphas:
                best_alpha[j] = np.where(better[:, :, None], alphas[j], best_alpha[j])
            for j in betas:
                best_beta[j] = np.where(better[:, :, None], betas[j], best_beta[j])
            best = np.maximum(best, value)
        for p, j in params:  # Adam ascent, then the projection onto the valid range
            g = grads[("alpha" if p is alphas else "beta", j)]
            m1, m2 = moments[(id(p), j)]
            m1 = 0.9 * m1 + 0.1 * g
            m2 = 0.999 * m2 + 0.001 * g * g
            moments[(id(p), j)] = (m1, m2)
            step_size = lr * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
            p[j] = p[j] + f32(step_size) * m1 / (np.sqrt(m2) + f32(1e-8))
            if p is alphas:
                p[j] = np.clip(p[j], floor[j], 1.0)
            else:
                p[j] = np.maximum(p[j], 0.0)
    rows = np.maximum(sound(best_alpha, best_beta), sound(
        {j: np.broadcast_to(relax[j][0][:, None, :], alphas[j].shape) for j in alphas},
        None if not beta else {j: np.zeros_like(b) for j, b in betas.items()},
    ))  # fmt: skip
    if not return_details:
        return rows
    if details is None:
        _, _, details = _value_and_grad(K, *search, best_alpha, best_beta)
    details["side"] = details["side"].astype(np.int8)
    return rows, {**details, "alpha": best_alpha, "beta": best_beta}


def in_float32(net, C, d, bounds, deltas, relax, lower, upper):
    """The arguments of ``bound_value`` (after K) in float32, for searches whose
    result is never a verdict: the network's float32 copy, and C, d, the margins,
    the relaxations and the boxes cast; bounds stay float64 (they only mark which
    neurons are stable)."""
    f32 = np.float32
    return (
        net.single(), C.astype(f32), d.astype(f32), bounds,
        [delta.astype(f32) for delta in deltas],
        [tuple(part.astype(f32) for part in r) for r in relax],
        lower.astype(f32), upper.astype(f32),
    )  # fmt: skip


def corners(lower, upper, side):
    """The points mid - side * rad of each box (B, n): side (B, m, n) in {-1, 0, 1}
    picks each input's lower end (1), upper end (-1) or middle (0)."""
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
    return mid[:, None, :] - side * rad[:, None, :]


def _value_and_grad(K, net, C, d, bounds, deltas, relax, lower, upper, alphas, betas):
    """The bound without rounding margins, its gradient in alpha and beta, and the
    details: the end of the box that minimises each input's term ("side", as in
    ``corners``, (B, m, n_in)) and the branching scores. Computes in the dtype of
    net's weights; bounds (float64) only mark which neurons are stable."""
    value, (lams, coefs, signs, slopes) = bound_value(
        K, net, C, d, bounds, deltas, relax, lower, upper, alphas, betas
    )
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
    side = np.sign(coefs[0])
    x_star = mid[:, None, :] - side * rad[:, None, :]
    grads, scores = {}, {}
    G_A = x_star  # d value / d A_0
    for j in range(0, K):
        block = net.blocks[j]
        G_Lam = (
            _times(G_A, block.W.T) + block.b - np.sign(lams[j]) * deltas[j][:, None, :]
        )
        if j in betas:
            grads[("beta", j)] = -signs[j] * G_Lam
        A = coefs[j + 1]
        s_l, t_l, s_u, t_u = relax[j]
        L, U = bounds[j]
        unstable = ((L < 0) & (U > 0))[:, None, :]
        if j in alphas:
            grads[("alpha", j)] = np.where(unstable, G_Lam * np.maximum(A, 0.0), 0.0)
        G_A = np.where(A > 0, G_Lam * slopes[j], G_Lam * s_u[:, None, :]) + np.where(
            A > 0, t_l[:, None, :], t_u[:, None, :]
        )
        # the looseness of the upper relaxation the bound pays for: |A| t_u on the
        # negative coefficients (BaBSR-like), plus a share for the positive ones
        width = np.where(
            unstable[:, 0, :], -L * U / np.where(unstable[:, 0, :], U - L, 1.0), 0.0
        )
        scores[j] = (np.abs(A).sum(axis=1) * width).astype(A.dtype)
    return value, grads, {"side": side, "scores": scores}


def bound_value(K, net, C, d, bounds, deltas, relax, lower, upper, alphas, betas):
    """The bound on C y - d (B, m) for the given slopes and multipliers, without
    rounding margins (for searches, never for a verdict), in the dtype of net's
    weights, and what its gradient reuses: each block's coefficients before and
    after its weights, the constraint signs and the lower slopes."""
    B = lower.shape[0]
    Lam = np.broadcast_to(C, (B,) + C.shape)
    const = np.broadcast_to(-d, (B, C.shape[0])).copy()
    lams, coefs, signs, slopes = {}, {}, {}, {}
    for j in range(K, -1, -1):
        block = net.blocks[j]
        if j in betas:
            L, U = bounds[j]
            sign = np.where(L >= 0, 1.0, np.where(U <= 0, -1.0, 0.0))
            signs[j] = sign.astype(Lam.dtype)[:, None, :]
            Lam = Lam - signs[j] * betas[j]
        lams[j] = Lam
        const += Lam @ block.b - np.einsum("bmn,bn->bm", np.abs(Lam), deltas[j])
        A = _times(Lam, block.W)  # one product of matrices for all boxes
        coefs[j] = A
        if j == 0:
            break
        s_l, t_l, s_u, t_u = relax[j - 1]
        s_l = s_l[:, None, :]
        if j - 1 in alphas:
            L, U = bounds[j - 1]
            s_l = np.where(((L < 0) & (U > 0))[:, None, :], alphas[j - 1], s_l)
        slopes[j - 1] = s_l
        Lam = _relax_step(A, s_l, s_u, t_l, t_u, const)  # lines by sign, into const
    mid, rad = (lower + upper) / 2, (upper - lower) / 2
    A0 = coefs[0]
    value = (
        const
        + np.einsum("bmn,bn->bm", A0, mid)
        - np.einsum("bmn,bn->bm", np.abs(A0), rad)
    )
    return value, (lams, coefs, signs, slopes)


def optimised_layer_bounds(net, lower, upper, bounds, deltas, steps: int = 20):
    """The hidden blocks' bounds with optimised slopes (alpha-CROWN on the
    intermediate layers): for each block k >= 1 in turn, the neurons the given bounds
    leave unstable are bounded again through the sub-network of blocks 0..k (block k
    without its activation), with the slopes of blocks 0..k-1 optimised for each
    bound separately, and block k+1 is first re-bounded by back-substitution on the
    tightened block k. Tighter intermediate bounds mean fewer unstable neurons and
    tighter relaxations for everything after. Each new bound is sound (``alpha``'s
    recomputation with the margins), and it is intersected with the old one.

    bounds, deltas: from ``linear.layer_bounds`` or ``relu_split.phase_bounds``;
    returns new bounds (a list like ``bounds``)."""
    from .linear import tighten
    from .network import Block, VerifiedNetwork

    bounds = list(bounds)
    K = len(net.blocks) - 1
    for k in range(1, K):
        if net.blocks[k].activation not in SLOPED:
            break
        L, U = bounds[k]
        if k > 1:  # re-bound with block k-1's tightened bounds
            L, U = tighten(
                net, k, L, U, (L < 0) & (U > 0), bounds, deltas, lower, upper
            )
        unstable = np.flatnonzero(np.any((L < 0) & (U > 0), axis=0))
        if len(unstable):
            block = net.blocks[k]
            head = VerifiedNetwork(
                blocks=net.blocks[:k] + [Block(block.W, block.b, "identity")],
                u=net.u, dropped_softmax=False, n_inputs=net.n_inputs,
                n_outputs=block.W.shape[0],
            )  # fmt: skip
            eye = np.eye(block.W.shape[0])[unstable]
            C = np.concatenate([eye, -eye])
            rows = alpha_spec_bounds(
                head, lower, upper, C, np.zeros(len(C)), steps=steps,
                bounds=bounds[: k + 1], deltas=deltas[: k + 1],
            )  # fmt: skip
            n = len(unstable)
            L, U = L.copy(), U.copy()
            L[:, unstable] = np.maximum(L[:, unstable], rows[:, :n])
            U[:, unstable] = np.minimum(U[:, unstable], -rows[:, n:])
        bounds[k] = (L, np.maximum(U, L))
    return bounds
