"""Input-splitting branch and bound: bounds that start from the parent box's and
back-substitute only the unstable neurons, checked against full bounds, sampled
pre-activations and an exact MILP."""

import time

import numpy as np
import pytest

import glassnet as gn
from glassnet.verification import exact_max
from glassnet.verification.branch import branch_and_bound
from glassnet.verification.linear import layer_bounds, linear_spec_bounds
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
