"""Interval bound propagation: the box carried through z = W a + b and a = g(z).

For a box of centre m and radius r, W a + b over the box is the box of centre
W m + b and radius |W| r; a monotone g maps [l, h] onto [g(l), g(h)]. Every bound is
widened outward by the model's rounding (``network``'s delta) and by this module's
own float64 rounding, so it holds for the model as it computes.
"""

from __future__ import annotations

import numpy as np

from .network import VerifiedNetwork

U64 = 2.0**-53


def interval_bounds(net: VerifiedNetwork, lower, upper):
    """Bounds on every block's pre-activation z and on the output, for B boxes at once.

    Returns (pre, post, delta): lists of (lo, hi) pairs (B, n_k) per block for z and
    for a = g(z), and the rounding bounds delta per block.

    >>> import glassnet as gn
    >>> from glassnet.verification.network import read_network
    >>> net = gn.Sequential(gn.Dense(1, 1), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[2.0]], [1.0]
    >>> pre, post, _ = interval_bounds(read_network(net), [[0.0]], [[1.0]])
    >>> [round(float(v[0, 0]), 6) for v in post[-1]]
    [1.0, 3.0]
    """
    lo = np.atleast_2d(np.asarray(lower, dtype=np.float64))
    hi = np.atleast_2d(np.asarray(upper, dtype=np.float64))
    pre, post, deltas = [], [], []
    act_err = np.zeros_like(lo)
    for block in net.blocks:
        absW = np.abs(block.W)
        n = block.W.shape[1]
        amax = np.maximum(np.abs(lo), np.abs(hi))
        magnitude = amax @ absW.T + np.abs(block.b)  # bounds |W| |a| + |b|   (B, out)
        delta = net.gamma(n) * magnitude + act_err @ absW.T
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        centre = mid @ block.W.T + block.b  # W m + b                         (B, out)
        radius = rad @ absW.T  # |W| r                                        (B, out)
        # this pass's own float64 rounding: a dot product of length n, the halving
        # and the sums, each within gamma_(n+4) of the magnitudes (u = 2^-53)
        own = (n + 6) * U64 * 1.01 * (magnitude + radius + np.abs(centre))
        z_lo = centre - radius - delta - own
        z_hi = centre + radius + delta + own
        a_lo, a_hi = block.g(z_lo), block.g(z_hi)
        if block.activation in ("sigmoid", "tanh"):  # float64 tanh within a few ulps
            a_lo = a_lo - 8 * U64 * np.abs(a_lo) - 1e-300
            a_hi = a_hi + 8 * U64 * np.abs(a_hi) + 1e-300
        elif block.activation == "leaky_relu":  # slope * z rounded once
            a_lo = a_lo - U64 * np.abs(a_lo)
            a_hi = a_hi + U64 * np.abs(a_hi)
        act_err = block.activation_error(np.maximum(np.abs(a_lo), np.abs(a_hi)), net.u)
        pre.append((z_lo, z_hi))
        deltas.append(delta)
        lo, hi = a_lo, a_hi
        post.append((lo, hi))
    # the last activation's own rounding reaches the output directly
    post[-1] = (lo - act_err, hi + act_err)
    return pre, post, deltas


def interval_spec_bounds(net: VerifiedNetwork, lower, upper, C, d):
    """Lower bounds on C y - d (B, m) over each box, from the output interval."""
    _, post, _ = interval_bounds(net, lower, upper)
    lo, hi = post[-1]
    Cp, Cn = np.maximum(C, 0.0), np.minimum(C, 0.0)
    value = lo @ Cp.T + hi @ Cn.T - d
    own = (
        (C.shape[1] + 3)
        * U64
        * 1.01
        * (np.maximum(np.abs(lo), np.abs(hi)) @ np.abs(C).T + np.abs(d))
    )
    return value - own
