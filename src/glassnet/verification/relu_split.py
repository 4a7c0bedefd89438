"""Complete branch and bound by ReLU splitting, for inputs too many to split.

A subproblem is the input box with some unstable ReLUs fixed: active (z_i >= 0, the
ReLU is the identity) or inactive (z_i <= 0, it is zero). Fixing a phase tightens the
neuron's bounds to [max(L, 0), U] or [L, min(U, 0)], which tightens every later
layer's bounds (recomputed by back-substitution), and the split constraint enters the
final bound through an optimised multiplier beta >= 0 (``alpha``). Subproblems are
bounded many at once, lowest bound first; a subproblem whose bound is > 0 is closed
and recorded as a leaf of the proof tree (its path of splits and its bound).

Counterexamples: the input that minimises each open subproblem's linear bound, then
PGD from the lowest ones, each confirmed by the model's own forward pass. When no
unstable ReLU is left, the network is linear on the subproblem and an LP (HiGHS)
finds its exact minimum: a point below zero is a counterexample candidate (confirmed
by the model), and otherwise the LP's dual values become the betas of a sound bound
recomputed with the rounding margins. A subproblem neither closed nor confirmed
leaves the answer "unknown", never "holds".
"""

from __future__ import annotations

import time

import numpy as np

from .alpha import (
    alpha_spec_bounds,
    bound_value,
    corners,
    in_float32,
    optimised_layer_bounds,
)
from .falsify import confirm, pgd
from .frontier import Frontier
from .interval import interval_bounds
from .linear import _backsubstitute, relaxation, tighten
from .result import ProofTree


def phase_bounds(vn, lower, upper, phases, parent=None, inherit=False):
    """Pre-activation bounds with the phases fixed ((D, n_j) in {-1, 0, 1} per hidden
    block): (bounds, deltas, infeasible (D,)), infeasible where a fixed phase
    contradicts the bounds (the subproblem is empty).

    parent: bounds valid on a larger region (the parent subproblem's). With inherit,
    they are kept as they are (sound when the new split is in the last hidden block,
    which changes no other neuron's bounds); without, they are intersected with the
    interval bounds and only the neurons they leave unstable (and not fixed) are
    bounded again by back-substitution: a stable neuron's relaxation is exact
    whatever its bounds.

    lower, upper: the box, (1, n_in), shared by the D subproblems: its interval
    bounds and rounding margins are computed once."""
    D = len(phases[0])
    pre, _, deltas = interval_bounds(vn, lower, upper)
    pre = [tuple(np.broadcast_to(v, (D, v.shape[1])) for v in Lu) for Lu in pre]
    deltas = [np.broadcast_to(delta, (D, delta.shape[1])) for delta in deltas]
    lower, upper = (np.broadcast_to(v, (D, v.shape[1])) for v in (lower, upper))
    bounds, infeasible = [], np.zeros(D, dtype=bool)
    for k, block in enumerate(vn.blocks):
        L, U = pre[k]
        if parent is not None and inherit:
            L, U = parent[k]
        elif parent is not None:
            L, U = np.maximum(L, parent[k][0]), np.minimum(U, parent[k][1])
            # an identity output block's bounds enter no relaxation: the interval
            # and the parent's serve
            if 0 < k and not (k == len(phases) and block.activation == "identity"):
                free = (L < 0) & (U > 0)
                if k < len(phases):
                    free &= phases[k] == 0
                L, U = tighten(vn, k, L, U, free, bounds, deltas, lower, upper)
        elif k > 0:
            n = block.W.shape[0]
            eye = np.eye(n)
            Lam = np.broadcast_to(np.concatenate([eye, -eye]), (D, 2 * n, n)).copy()
            zero = np.zeros((D, 2 * n))
            lb = _backsubstitute(vn, k, Lam, bounds, deltas, lower, upper, zero, zero)
            L, U = np.maximum(lb[:, :n], L), np.minimum(-lb[:, n:], U)
        if k < len(phases):
            L = np.where(phases[k] > 0, np.maximum(L, 0.0), L)
            U = np.where(phases[k] < 0, np.minimum(U, 0.0), U)
        infeasible |= np.any(L > U, axis=1)
        bounds.append((L, np.maximum(U, L)))
    return bounds, deltas, infeasible


def relu_split(
    net, vn, prop, box, deadline, *, batch: int = 48, steps: int = 40,
    warm_steps: int = 8, max_bytes: int = 2**31, pool=None,
):  # fmt: skip
    """("holds" | "violated" | "timeout" | "unknown", counterexample, bounds, tree,
    n_subproblems) for one region of a ReLU network, one unsafe set at a time (the
    bounds of sets not reached are -inf). pool: a ``parallel.LazyPool``, asked for
    its workers before each batch of children. max_bytes: the most memory the open
    subproblems may hold before the answer is "unknown" (2 GiB: about 130,000
    subproblems of a 784-256-256-10 network)."""
    tree, worst, total = ProofTree(), np.full(len(prop.unsafe), -np.inf), 0
    # the box's own layer bounds, with optimised slopes: every subproblem starts
    # from them (they hold on each, a part of the box), whatever the unsafe set
    lo, hi = box.lower[None], box.upper[None]
    K = len(vn.blocks) - 1
    phases = [np.zeros((1, vn.blocks[j].W.shape[0]), np.int8) for j in range(K)]
    bounds, deltas, _ = phase_bounds(vn, lo, hi, phases)
    root = optimised_layer_bounds(vn, lo, hi, bounds, deltas, steps=steps)
    for s, unsafe in enumerate(prop.unsafe):
        status, found, bound, n = _one_set(
            net, vn, prop, box, unsafe, s, deadline, tree, batch, steps, warm_steps,
            max_bytes, pool, root,
        )  # fmt: skip
        total += n
        if status == "violated":
            return status, found, None, None, total
        worst[s] = bound
        if status != "holds":
            return status, None, worst, tree, total
    return "holds", None, worst, tree, total


def evaluate(vn, box, C, d, phases, steps, parent=None, inherit=False, start=None):
    """(bound (D,), minimising corners (D, m, n_in) as ``alpha.corners``' sides,
    scores, bounds, warm) per subproblem; parent, inherit: as in ``phase_bounds``;
    start, warm: the slopes and multipliers to start from and the best found
    (``alpha_spec_bounds``)."""
    D = len(phases[0])
    bounds, deltas, infeasible = phase_bounds(
        vn, box.lower[None], box.upper[None], phases, parent, inherit
    )
    lo = np.repeat(box.lower[None], D, axis=0)
    hi = np.repeat(box.upper[None], D, axis=0)
    rows, details = alpha_spec_bounds(
        vn, lo, hi, C, d, bounds=bounds, deltas=deltas, beta=True, steps=steps,
        return_details=True, start=start,
    )  # fmt: skip
    value = rows.max(axis=1)
    value[infeasible] = np.inf
    warm = {"alpha": details["alpha"], "beta": details["beta"]}
    return value, details["side"], details["scores"], bounds, warm


def _take(state, idx):
    """The subproblems idx (an index array or a boolean mask) of a state."""
    idx = np.asarray(idx)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    return {
        "phases": [p[idx] for p in state["phases"]],
        "paths": [state["paths"][i] for i in idx],
        "value": state["value"][idx],
        "side": state["side"][idx],
        "scores": {j: v[idx] for j, v in state["scores"].items()},
        "bounds": [(L[idx], U[idx]) for L, U in state["bounds"]],
        "warm": _index_warm(state["warm"], idx),
    }


def _index_warm(warm, idx):
    return {key: {j: v[idx] for j, v in part.items()} for key, part in warm.items()}


def _join_warm(a, b):
    return {
        key: {j: np.concatenate([v, b[key][j]]) for j, v in part.items()}
        for key, part in a.items()
    }


def _join(a, b):
    return {
        "phases": [
            np.concatenate(pq) for pq in zip(a["phases"], b["phases"], strict=True)
        ],
        "paths": a["paths"] + b["paths"],
        "value": np.concatenate([a["value"], b["value"]]),
        "side": np.concatenate([a["side"], b["side"]]),
        "scores": {
            j: np.concatenate([a["scores"][j], b["scores"][j]]) for j in a["scores"]
        },
        "bounds": [
            (np.concatenate([La, Lb]), np.concatenate([Ua, Ub]))
            for (La, Ua), (Lb, Ub) in zip(a["bounds"], b["bounds"], strict=True)
        ],
        "warm": _join_warm(a["warm"], b["warm"]),
    }


def _state(
    pool, vn, box, C, d, phases, paths, steps, parent=None, inherit=False, start=None
):  # fmt: skip
    value, side, scores, bounds, warm = _evaluate(
        pool, vn, box, C, d, phases, steps, parent, inherit, start
    )
    return {"phases": phases, "paths": paths, "value": value, "side": side,
            "scores": scores, "bounds": bounds, "warm": warm}  # fmt: skip


def _evaluate(
    pool, vn, box, C, d, phases, steps, parent=None, inherit=False, start=None
):  # fmt: skip
    if pool is not None and len(phases[0]) >= 2:
        found = pool.evaluate(vn, box, C, d, phases, steps, parent, inherit, start)
        if found is not None:
            return found
    return evaluate(vn, box, C, d, phases, steps, parent, inherit, start)


#: Rounds of splitting between PGD runs from the lowest subproblems' minimising
#: inputs (each round checks them by a forward pass; PGD from them costs as much as
#: a sixth of a round and found no counterexample the attacks before the branch and
#: bound had not, on the benchmark's networks).
PGD_EVERY = 4


def _one_set(
    net, vn, prop, box, unsafe, s, deadline, tree, batch, steps, warm_steps, cap, pool,
    root,
):  # fmt: skip
    C, d = unsafe.C, unsafe.d
    K = len(vn.blocks) - 1
    phases = [np.zeros((1, vn.blocks[j].W.shape[0]), np.int8) for j in range(K)]
    children = _state(None, vn, box, C, d, phases, [()], steps, root, True)
    frontier, n_done, unresolved, low = Frontier(), 1, False, np.inf
    rounds = 0

    def leaf(path, bound):
        tree.add([("relu",) + step for step in path], None, None, [bound])
        tree.leaves[-1]["set"] = s

    while True:
        # close the new subproblems that are proved
        closed = children["value"] > 0
        for i in np.flatnonzero(closed):
            leaf(children["paths"][i], children["value"][i])
        low = min(low, children["value"][closed].min(initial=np.inf))
        children = _take(children, ~closed)
        # those with no unstable ReLU left: exact by LP
        settled = ~np.any(_unstable(children, K), axis=1)
        for i in np.flatnonzero(settled):
            verdict, payload = _leaf_lp(net, vn, prop, box, C, d, children["bounds"], i)
            if verdict == "violated":
                return "violated", payload, None, n_done
            if verdict == "closed":
                leaf(children["paths"][i], payload)
                low = min(low, payload)
            else:
                unresolved = True
                low = min(low, children["value"][i])
        frontier.push(_take(children, ~settled))
        if not len(frontier):
            break
        # try the lowest-bounded against the model
        lowest = frontier.lowest(64)
        candidates = corners(
            box.lower[None], box.upper[None], frontier.column("side")[lowest]
        ).reshape(-1, box.size)
        found = confirm(net, vn, prop, candidates)
        if found is None and rounds % PGD_EVERY == 0:
            found = confirm(
                net, vn, prop, pgd(vn, prop, box, candidates[:16], steps=20)
            )
        if found is not None:
            return "violated", found, None, n_done
        if time.perf_counter() > deadline:
            return "timeout", None, min(low, frontier.value.min()), n_done
        if frontier.nbytes > cap:
            return "unknown", None, min(low, frontier.value.min()), n_done
        # split the lowest-bounded subproblems on their best ReLU
        state = frontier.pop(frontier.lowest(batch))
        flat = np.concatenate([state["scores"][j] for j in range(K)], axis=1)
        flat = np.where(_unstable(state, K), flat + 1e-12, -1.0)
        offsets = np.cumsum([0] + [p.shape[1] for p in state["phases"]])
        choice = _filtered_choice(vn, box, C, d, state, flat, offsets)
        layer = np.searchsorted(offsets, choice, side="right") - 1
        neuron = choice - offsets[layer]
        new_phases, new_paths = [], []
        for side in (1, -1):
            child = [p.copy() for p in state["phases"]]
            for r, (j, i) in enumerate(zip(layer, neuron, strict=True)):
                child[j][r, i] = side
            new_phases.append(child)
            new_paths += [
                path + ((int(j), int(i), side),)
                for path, j, i in zip(state["paths"], layer, neuron, strict=True)
            ]
        new_phases = [np.concatenate([a, b]) for a, b in zip(*new_phases, strict=True)]
        # a split in the last hidden block leaves every other neuron's bounds as the
        # parent's: those children skip the recomputation; the others start from
        # the parent's bounds and bound again only the neurons still unstable
        last = np.concatenate([layer, layer]) == K - 1
        parents = [
            (np.concatenate([L, L]), np.concatenate([U, U])) for L, U in state["bounds"]
        ]
        # children start from their parent's slopes and multipliers
        warm = _join_warm(state["warm"], state["warm"])
        groups = []
        workers = None if pool is None else pool.get(n_done, deadline)
        for mask, inherit in ((last, True), (~last, False)):
            if np.any(mask):
                groups.append(
                    _state(
                        workers, vn, box, C, d, [p[mask] for p in new_phases],
                        [q for q, m in zip(new_paths, mask, strict=True) if m],
                        warm_steps, [(L[mask], U[mask]) for L, U in parents], inherit,
                        _index_warm(warm, mask),
                    )
                )  # fmt: skip
        children = groups[0] if len(groups) == 1 else _join(*groups)
        n_done += len(new_paths)
        rounds += 1
    if unresolved:
        return "unknown", None, low, n_done
    return "holds", None, low, n_done


def _unstable(state, K):
    """(D, all hidden neurons): which ReLUs each subproblem leaves unstable."""
    return np.concatenate([(L < 0) & (U > 0) for L, U in state["bounds"][:K]], axis=1)


def _leaf_lp(net, vn, prop, box, C, d, bounds, i):
    """A subproblem whose ReLUs all have a fixed phase, decided by an LP:
    ("violated", (x, y)) | ("closed", bound) | ("open", None)."""
    from scipy.optimize import linprog

    n_in = box.size
    M, c = np.eye(n_in), np.zeros(n_in)  # z_j = M x + c, composed layer by layer
    rows, rhs, signs = [], [], []
    K = len(vn.blocks) - 1
    for j, block in enumerate(vn.blocks):
        M, c = block.W @ M, block.W @ c + block.b
        if j == K:
            break
        sign = np.where(bounds[j][0][i] >= 0, 1.0, -1.0)  # every neuron is stable here
        rows.append(-sign[:, None] * M)  # sign z >= 0  <=>  -sign M x <= sign c
        rhs.append(sign * c)
        signs.append(sign)
        active = sign > 0
        M, c = M * active[:, None], c * active
    m = C.shape[0]
    # min t  s.t.  C_r y - d_r <= t,  phase constraints,  x in the box
    G = np.concatenate([np.concatenate(rows), np.zeros((sum(map(len, rhs)), 1))], 1)
    H = np.concatenate([C @ M, -np.ones((m, 1))], axis=1)
    A_ub = np.concatenate([G, H])
    b_ub = np.concatenate([np.concatenate(rhs), d - C @ c])
    cost = np.zeros(n_in + 1)
    cost[-1] = 1.0
    res = linprog(
        cost, A_ub=A_ub, b_ub=b_ub,
        bounds=list(zip(box.lower, box.upper, strict=True)) + [(None, None)],
        method="highs",
    )  # fmt: skip
    box_bounds = list(zip(box.lower, box.upper, strict=True)) + [(None, None)]
    if res.status == 2 and m == 1:
        # no point satisfies the phases (per the solver): max s with sign z >= s;
        # with s* < 0, its duals mu certify that sum mu sign z <= s* < 0 on the
        # box, and a large multiple of mu as betas lifts the bound above 0, checked
        # soundly with the rounding margins
        G_s = np.concatenate([G[:, :-1], np.ones((len(G), 1))], axis=1)
        res = linprog(
            -cost, A_ub=G_s, b_ub=np.concatenate(rhs), bounds=box_bounds,
            method="highs",
        )  # fmt: skip
        if res.status != 0 or res.fun <= 0:  # the least slack -fun is not < 0
            return "open", None
        duals = -res.ineqlin.marginals
        scale = 0.0
        for _ in range(4):
            scale = 10.0 * (1.0 + scale) / res.fun
            bound = _dual_bound(vn, box, C, d, bounds, i, signs, scale * duals)
            if bound > 0:
                return "closed", bound
        return "open", None
    if res.status != 0:
        return "open", None
    if res.fun <= 0:
        found = confirm(net, vn, prop, res.x[None, :n_in])
        return ("violated", found) if found is not None else ("open", None)
    if m != 1:
        return "open", None
    # the LP's duals as betas, the bound recomputed soundly with the margins
    bound = _dual_bound(
        vn, box, C, d, bounds, i, signs, -res.ineqlin.marginals[: len(G)]
    )
    return ("closed", bound) if bound > 0 else ("open", None)


def _dual_bound(vn, box, C, d, bounds, i, signs, duals):
    """The sound bound (with the rounding margins) of subproblem i with the given
    multipliers of its phase constraints as betas."""
    K = len(vn.blocks) - 1
    betas, start = {}, 0
    for j, sign in enumerate(signs):
        betas[j] = np.maximum(duals[start : start + sign.size], 0.0)[None, None, :]
        start += sign.size
    lo, hi = box.lower[None], box.upper[None]
    one = [(L[i : i + 1], U[i : i + 1]) for L, U in bounds]
    _, _, deltas = interval_bounds(vn, lo, hi)
    bound = _backsubstitute(
        vn, K, C[None].copy(), one, deltas, lo, hi, -d[None].copy(),
        np.abs(d)[None].copy(), betas=betas,
    )[0, 0]  # fmt: skip
    return float(bound)


#: Candidates per subproblem whose children are bounded before a split is chosen.
CANDIDATES = 8


def _filtered_choice(vn, box, C, d, state, flat, offsets):
    """The ReLU to split in each subproblem of state (a flat index), by filtered smart
    branching: of its ``CANDIDATES`` highest-scoring unstable ReLUs, the one whose
    two children have the highest lower bound, each child bounded cheaply (the
    parent's layer bounds with that neuron's phase fixed, and the parent's slopes
    and multipliers, in one back-substitution for all candidates). The score alone
    is a guess at what a split gains; this measures it, at the price of two
    back-substitutions per candidate (a fraction of one child's slope ascent),
    taken in float32."""
    P, k = len(flat), min(CANDIDATES, flat.shape[1])
    top = np.argsort(-flat, axis=1)[:, :k]  # (P, k)
    valid = np.take_along_axis(flat, top, axis=1) > 0
    K = len(vn.blocks) - 1
    layer = np.searchsorted(offsets, top, side="right") - 1
    neuron = top - offsets[layer]
    # 2 k children per subproblem: rows (subproblem, candidate, side)
    rows = np.repeat(np.arange(P), 2 * k)
    cand_layer, cand_neuron = (
        np.repeat(layer, 2, axis=1).ravel(),
        np.repeat(neuron, 2, axis=1).ravel(),
    )
    side = np.tile([1, -1], P * k)
    bounds = []
    for j, (L, U) in enumerate(state["bounds"]):
        L, U = L[rows].copy(), U[rows].copy()
        at = np.flatnonzero(cand_layer == j)
        if len(at):
            i = cand_neuron[at]
            L[at, i] = np.where(side[at] > 0, np.maximum(L[at, i], 0.0), L[at, i])
            U[at, i] = np.where(side[at] < 0, np.minimum(U[at, i], 0.0), U[at, i])
        bounds.append((L, np.maximum(U, L)))
    # the children's bounds only rank the candidates: in float32, without margins
    B = len(rows)
    lo = np.broadcast_to(box.lower, (B, box.size))
    hi = np.broadcast_to(box.upper, (B, box.size))
    _, _, deltas = interval_bounds(vn, box.lower[None], box.upper[None])
    deltas = [np.broadcast_to(delta, (B, delta.shape[1])) for delta in deltas]
    relax = [relaxation(vn.blocks[j], *bounds[j]) for j in range(K)]
    warm = _index_warm(state["warm"], rows)
    value, _ = bound_value(
        K, *in_float32(vn, C, d, bounds, deltas, relax, lo, hi),
        warm["alpha"], warm["beta"],
    )  # fmt: skip
    value = value.max(axis=1)
    children = value.reshape(P, k, 2).min(axis=2)
    children = np.where(valid, children, -np.inf)
    best = np.argmax(children, axis=1)
    chosen = np.take_along_axis(top, best[:, None], axis=1)[:, 0]
    # no candidate measured (all -inf): keep the score's choice
    return np.where(np.isfinite(children.max(axis=1)), chosen, top[:, 0])
