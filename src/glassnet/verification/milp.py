"""The exact maximum of c . y over a box for a ReLU network, by a big-M MILP, and
the maximum over its LP relaxation.

Each ReLU a = max(z, 0) with bounds L < 0 < U becomes, with a binary s,

    a >= z,  a >= 0,  a <= z - L (1 - s),  a <= U s,

and stable neurons are linear. The bounds come from interval propagation unless
given. It is exact in real arithmetic up to the solver's tolerances: a test oracle
and a method for small networks, never the source of a "holds" on its own.

Relaxing s to [0, 1] leaves, for (z, a), exactly the triangle a >= 0, a >= z,
a <= U (z - L) / (U - L): the tightest convex relaxation of one ReLU on its bounds.
Its maximum is the best that any bound built from one neuron's relaxation at a time
(CROWN with any slopes, DeepPoly, the LP) can reach on those layer bounds.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .interval import interval_bounds
from .network import read_network
from .spec import Box


def exact_max(net, box: Box, c, bounds=None) -> tuple[float, np.ndarray]:
    """(max of c . y over the box, an input x attaining it) for a ReLU network.
    bounds: optional pre-activation bounds of each block [(L, U), ...], each (n,)
    or (1, n), sound on the box (tighter ones make the MILP smaller).

    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(1, 2, "relu"), gn.Dense(2, 1), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0], [-1.0]], [0.0, 0.0]
    >>> net.layers[1].W, net.layers[1].b = [[1.0, 1.0]], [0.0]
    >>> value, x = exact_max(net, Box([-1.0], [2.0]), [1.0])
    >>> round(value, 6)
    2.0
    """
    return _maximise(net, box, c, bounds, relaxed=False)


def relaxed_max(net, box: Box, c, bounds=None) -> tuple[float, np.ndarray]:
    """(max of c . y over the box with every unstable ReLU relaxed to its triangle, the
    input of a maximiser) for a ReLU network: an upper bound of ``exact_max``, and the
    limit of what optimised slopes can prove on the same bounds.

    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(1, 2, "relu"), gn.Dense(2, 1), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0], [1.0]], [0.0, 0.0]
    >>> net.layers[1].W, net.layers[1].b = [[1.0, -1.0]], [0.0]  # relu(x) - relu(x)
    >>> round(exact_max(net, Box([-1.0], [1.0]), [1.0])[0], 6) == 0
    True
    >>> # relaxed, the two copies part: at x = 0, one at the triangle's top (1/2),
    >>> # the other at its bottom (0)
    >>> round(relaxed_max(net, Box([-1.0], [1.0]), [1.0])[0], 6)
    0.5
    """
    return _maximise(net, box, c, bounds, relaxed=True)


def _maximise(net, box, c, bounds, relaxed):
    from scipy.optimize import Bounds, LinearConstraint, milp

    vn = read_network(net)
    for i, block in enumerate(vn.blocks):
        if block.activation not in ("relu", "identity"):
            raise InputError(
                f"{'relaxed_max' if relaxed else 'exact_max'} handles ReLU networks; "
                f"block {i} uses {block.activation}"
            )
    if bounds is None:
        bounds, _, _ = interval_bounds(vn, box.lower[None], box.upper[None])
    widths = [block.W.shape[0] for block in vn.blocks]
    if len(bounds) != len(widths) or any(
        np.size(L) != n or np.size(U) != n
        for (L, U), n in zip(bounds, widths, strict=False)
    ):
        raise InputError(
            f"bounds must be one (L, U) per block, of widths {widths}; got "
            f"{[(np.shape(L), np.shape(U)) for L, U in bounds]}"
        )
    # variables: x, then per block z (n) and, for ReLU blocks, a (n) and s (n)
    sizes, lb, ub, integral = [], list(box.lower), list(box.upper), [0] * box.size
    offset = box.size
    layout = []
    for k, block in enumerate(vn.blocks):
        n = block.W.shape[0]
        L, U = (np.asarray(v, dtype=np.float64).ravel() for v in bounds[k])
        z = offset
        lb += list(L)
        ub += list(U)
        offset += n
        integral += [0] * n
        a = s = None
        if block.activation == "relu":
            a, s = offset, offset + n
            lb += list(np.maximum(L, 0)) + [0.0] * n
            ub += list(np.maximum(U, 0)) + [1.0] * n
            integral += [0] * n + [0 if relaxed else 1] * n
            offset += 2 * n
        layout.append((z, a, s, n, L, U))
        sizes.append(n)
    rows, lo_rows, hi_rows = [], [], []

    def row():
        r = np.zeros(offset)
        rows.append(r)
        return r

    prev = (0, box.size)  # start and width of the previous activations
    for block, (z, a, s, n, L, U) in zip(vn.blocks, layout, strict=True):
        for i in range(n):  # z_i - W_i a_prev = b_i
            r = row()
            r[z + i] = 1.0
            r[prev[0] : prev[0] + prev[1]] = -block.W[i]
            lo_rows.append(block.b[i])
            hi_rows.append(block.b[i])
        if a is None:
            prev = (z, n)
            continue
        for i in range(n):
            r = row()  # a - z >= 0
            r[a + i], r[z + i] = 1.0, -1.0
            lo_rows.append(0.0)
            hi_rows.append(np.inf)
            r = row()  # a - z - L s <= -L
            r[a + i], r[z + i], r[s + i] = 1.0, -1.0, -L[i]
            lo_rows.append(-np.inf)
            hi_rows.append(-L[i])
            r = row()  # a - U s <= 0
            r[a + i], r[s + i] = 1.0, -max(U[i], 0.0)
            lo_rows.append(-np.inf)
            hi_rows.append(0.0)
        prev = (a, n)
    objective = np.zeros(offset)
    objective[prev[0] : prev[0] + prev[1]] = -np.asarray(c, dtype=np.float64).ravel()
    result = milp(
        objective,
        constraints=LinearConstraint(np.array(rows), lo_rows, hi_rows),
        integrality=np.array(integral),
        bounds=Bounds(lb, ub),
        options={"mip_rel_gap": 1e-9},
    )
    if result.x is None:
        raise InputError(f"the MILP solver failed: {result.message}")
    return float(-result.fun), result.x[: box.size]
