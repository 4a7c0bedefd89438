"""Input-splitting branch and bound: bounds that start from the parent box's and
back-substitute only the unstable neurons, checked against full bounds, sampled
pre-activations and an exact MILP."""

import time

import numpy as np
import pytest

import glassnet as gn
from glassnet.verification import exact_max
from glassnet.verification.branch import (
    _bound_boxes,
    _split_dimension,
    branch_and_bound,
)
from glassnet.verification.linear import (
    _backsubstitute,
    layer_bounds,
    linear_spec_bounds,
)
from glassnet.verification.network import read_network


def deep_net(seed, n_in=3, widths=(12, 12, 12), activation="relu"):
    layers, k = [], n_in
    for w in widths:
        layers.append(gn.Dense(k, w, activation))
        k = w
    layers.append(gn.Dense(k, 2))
    net = gn.Sequential(*layers, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        layer.b = rng.normal(scale=0.3, size=layer.b.shape)
    return net


def pre_activations(net, X):
    """Every Dense layer's z = W a + b at the points X, by plain numpy."""
    out, a = [], X
    for layer, block in zip(net.layers, read_network(net).blocks, strict=True):
        z = a @ np.asarray(layer.W).T + np.asarray(layer.b)
        out.append(z)
        slope = {"relu": 0.0, "leaky_relu": block.slope}.get(block.activation, 1.0)
        a = np.where(z > 0, z, slope * z)
    return out


def boxes(rng, n, n_in, half):
    centre = rng.uniform(-1, 1, size=(n, n_in))
    return centre - half, centre + half


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_unstable_only_bounds_match_the_full_ones_and_hold(activation):
    rng = np.random.default_rng(7)
    for seed in range(4):
        net = deep_net(seed, activation=activation)
        vn = read_network(net)
        lo, hi = boxes(rng, 16, 3, rng.uniform(0.05, 0.6))
        full, _ = layer_bounds(vn, lo, hi)
        only, _ = layer_bounds(vn, lo, hi, unstable_only=True)
        C, d = rng.normal(size=(3, 2)), rng.normal(size=3)
        # the neurons left out keep their interval bounds, which never changes a
        # relaxation: the bound on the output is the same (up to BLAS order)
        np.testing.assert_allclose(
            linear_spec_bounds(vn, lo, hi, C, d, unstable_only=True),
            linear_spec_bounds(vn, lo, hi, C, d),
            rtol=1e-9, atol=1e-9,
        )  # fmt: skip
        for b in range(len(lo)):
            X = rng.uniform(lo[b], hi[b], size=(300, 3))
            for k, z in enumerate(pre_activations(net, X)):
                L, U = only[k][0][b], only[k][1][b]
                assert np.all(L <= z) and np.all(z <= U)
                if k == len(only) - 1:
                    continue  # the identity output keeps its interval bounds
                unstable = (L < 0) & (U > 0)  # as tight as the full bounds there
                np.testing.assert_allclose(L[unstable], full[k][0][b][unstable])


def test_parent_bounds_make_the_children_no_looser_and_stay_sound():
    rng = np.random.default_rng(3)
    net = deep_net(11)
    vn = read_network(net)
    lo, hi = boxes(rng, 8, 3, 0.5)
    parent, _ = layer_bounds(vn, lo, hi)
    mid = (lo + hi) / 2
    child_lo, child_hi = lo.copy(), hi.copy()
    child_hi[:, 0] = mid[:, 0]  # the left half along input 0
    alone, _ = layer_bounds(vn, child_lo, child_hi)
    joined, _ = layer_bounds(vn, child_lo, child_hi, parent, unstable_only=True)
    for k in range(len(alone)):
        assert np.all(joined[k][0] >= np.minimum(alone[k][0], parent[k][0][:]) - 1e-12)
        assert np.all(joined[k][0] >= parent[k][0])
        assert np.all(joined[k][1] <= parent[k][1])
    C, d = rng.normal(size=(2, 2)), np.zeros(2)
    with_parent = linear_spec_bounds(vn, child_lo, child_hi, C, d, parent=parent)
    without = linear_spec_bounds(vn, child_lo, child_hi, C, d)
    assert np.all(with_parent >= without - 1e-9)
    for b in range(len(lo)):  # and still below every sampled value
        X = rng.uniform(child_lo[b], child_hi[b], size=(500, 3))
        values = net.predict(X) @ C.T - d
        assert np.all(with_parent[b] <= values.min(axis=0))


@pytest.mark.parametrize("seed", range(6))
def test_input_splitting_agrees_with_the_exact_milp(seed):
    net = deep_net(seed, n_in=2, widths=(10, 10, 8))
    rng = np.random.default_rng(seed)
    centre = rng.uniform(-1, 1, 2)
    box = gn.Box(centre - 0.6, centre + 0.6)
    c = rng.normal(size=2)
    best, _ = exact_max(net, box, c)
    for offset in (0.01, -0.01):
        threshold = best + offset  # unsafe: c . y >= threshold
        prop = gn.Property(box, gn.LinearConstraints([-c], [-threshold]))
        vn = read_network(net)
        status, found, bounds, tree, _ = branch_and_bound(
            net, vn, prop, box, deadline=time.perf_counter() + 60
        )
        if offset > 0:
            assert status == "holds" and np.all(bounds > 0)
            for leaf in tree.leaves:  # every leaf inside the box, its bound > 0
                assert np.all(np.asarray(leaf["lower"]) >= box.lower)
                assert np.all(np.asarray(leaf["upper"]) <= box.upper)
                assert min(leaf["bounds"]) > 0
        else:
            assert status == "violated"
            x, y = found
            assert c @ net.predict(x[None])[0] >= threshold


def test_input_splitting_stops_at_its_deadline():
    net = deep_net(5, n_in=3, widths=(16, 16, 16))
    box = gn.Box(-np.ones(3), np.ones(3))
    c = np.array([1.0, -1.0])
    X = np.random.default_rng(0).uniform(-1, 1, size=(20_000, 3))
    top = float((net.predict(X) @ c).max())
    # above every sampled value, yet past what one-shot linear bounds can show
    prop = gn.Property(box, gn.LinearConstraints([-c], [-(top + 0.2)]))
    assert gn.verify(net, prop, method="linear").status == "unknown"
    result = gn.verify(net, prop, timeout=1e-4, method="input_split")
    assert result.status == "timeout"
    assert result.bounds is not None and np.all(result.bounds <= 0)
    assert result.counts["split"] == "input_split"
    given_time = gn.verify(net, prop, timeout=60, method="input_split")
    assert given_time.status == "holds"  # the same instance, decided with time


def test_boxes_are_halved_along_their_widest_input_ties_to_the_gradient():
    # y = 0.1 x_0 + 3 x_1 + 0 x_2: x_1 weighs most, x_2 not at all
    net = gn.Sequential(gn.Dense(3, 1), dtype="float64")
    net.layers[0].W, net.layers[0].b = [[0.1, 3.0, 0.0]], [0.0]
    vn = read_network(net)
    prop = gn.Property(
        gn.Box(-np.ones(3), np.ones(3)), gn.LinearConstraints([[1.0]], [-9.0])
    )
    lo = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    hi = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [1.0, 0.5, 4.0]])
    # equal widths: the gradient's favourite; otherwise the widest, whatever it weighs
    assert _split_dimension(vn, prop, lo, hi).tolist() == [1, 0, 2]


def test_row_norm_rounding_margins_are_never_smaller_and_stay_tiny():
    rng = np.random.default_rng(5)
    net = deep_net(2, n_in=3, widths=(20, 20, 20))
    vn = read_network(net)
    lo, hi = boxes(rng, 6, 3, 0.3)
    bounds, deltas = layer_bounds(vn, lo, hi)
    Lam = rng.normal(size=(6, 4, 2))
    zero = np.zeros((6, 4))
    K = len(vn.blocks) - 1
    exact = _backsubstitute(vn, K, Lam, bounds, deltas, lo, hi, zero, zero)
    norms = _backsubstitute(
        vn, K, Lam, bounds, deltas, lo, hi, zero, zero, row_norms=True
    )
    # the same bound, lowered by a larger (never smaller) rounding margin
    assert np.all(norms <= exact)
    assert np.all(exact - norms < 1e-9 * (1 + np.abs(exact)))


def _input_split_pool():
    """A pool holder whose workers start at once (not after a second)."""
    from glassnet.verification.parallel import LazyPool

    return LazyPool(None, 2, after=0.0, after_boxes=0, room=0.0)


def test_two_workers_bound_the_same_boxes_as_one_and_agree_with_the_milp():
    nets = [deep_net(seed, n_in=2, widths=(10, 10, 8)) for seed in range(2)]
    for seed, net in enumerate(nets):
        vn = read_network(net)
        pool = _input_split_pool()
        pool.vn = vn
        try:
            rng = np.random.default_rng(seed)
            lo, hi = boxes(rng, 9, 2, 0.3)
            parent, _ = layer_bounds(vn, lo - 0.1, hi + 0.1)
            C, d = rng.normal(size=(2, 2)), rng.normal(size=2)
            prop = gn.Property(gn.Box(lo[0], hi[0]), gn.LinearConstraints(C, d))
            here = _bound_boxes(vn, prop, lo, hi, parent)
            there = pool.get().bound_boxes(prop, lo, hi, parent)
            np.testing.assert_allclose(there[0], here[0], rtol=1e-12, atol=1e-12)
            for (L, U), (L2, U2) in zip(here[1], there[1], strict=True):
                np.testing.assert_allclose(L2, L, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(U2, U, rtol=1e-12, atol=1e-12)
            # and the search through the workers decides as the exact MILP says
            centre = rng.uniform(-1, 1, 2)
            box = gn.Box(centre - 0.6, centre + 0.6)
            c = rng.normal(size=2)
            best, _ = exact_max(net, box, c)
            for offset in (0.01, -0.01):
                prop = gn.Property(box, gn.LinearConstraints([-c], [-(best + offset)]))
                status, found, bounds, _, _ = branch_and_bound(
                    net, vn, prop, box, time.perf_counter() + 60, batch=4, pool=pool
                )
                if offset > 0:
                    assert status == "holds" and np.all(bounds > 0)
                else:
                    assert status == "violated"
                    assert c @ net.predict(found[0][None])[0] >= best + offset
        finally:
            pool.close()


def test_a_pool_that_cannot_run_leaves_the_bounding_to_this_process():
    net = deep_net(1, n_in=2, widths=(6, 6))
    vn = read_network(net)
    pool = _input_split_pool()
    pool.vn = vn
    workers = pool.get()
    workers.close()  # as when the workers could not start: nothing runs there
    rng = np.random.default_rng(1)
    lo, hi = boxes(rng, 4, 2, 0.2)
    parent, _ = layer_bounds(vn, lo, hi)
    prop = gn.Property(gn.Box(lo[0], hi[0]), gn.LinearConstraints([[1.0, 0.0]], [0.0]))
    assert workers.bound_boxes(prop, lo, hi, parent) is None
    box = gn.Box(-np.ones(2), np.ones(2))
    prop = gn.Property(box, gn.LinearConstraints([[1.0, -1.0]], [-50.0]))
    status, *_ = branch_and_bound(
        net, vn, prop, box, time.perf_counter() + 60, pool=pool
    )
    assert status == "holds"  # bounded here instead


def test_workers_start_by_default_only_under_a_guarded_main(tmp_path, monkeypatch):
    import sys
    import types

    from glassnet.verification.parallel import main_is_guarded

    guarded = tmp_path / "guarded.py"
    guarded.write_text('if __name__ == "__main__":\n    run()\n', encoding="utf-8")
    plain = tmp_path / "plain.py"
    plain.write_text("run()\n", encoding="utf-8")
    for path, expected in (
        (guarded, True),
        (plain, False),
        (tmp_path / "gone.py", False),
    ):
        main = types.ModuleType("__main__")
        main.__file__ = str(path)
        monkeypatch.setitem(sys.modules, "__main__", main)
        assert main_is_guarded() is expected
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    assert main_is_guarded()  # no main file: nothing to run again
