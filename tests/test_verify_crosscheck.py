"""verify against an exact MILP and a dense grid on small ReLU networks."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet.verification import exact_max


def small_net(seed, n_in, widths):
    layers, k = [], n_in
    for w in widths:
        layers.append(gn.Dense(k, w, "relu"))
        k = w
    layers.append(gn.Dense(k, 2))
    net = gn.Sequential(*layers, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        layer.b = rng.normal(scale=0.3, size=layer.b.shape)
    return net


def grid(box, n_in):
    axes = [
        np.linspace(lo, hi, 41 if n_in == 2 else 13)
        for lo, hi in zip(box.lower, box.upper, strict=True)
    ]
    return np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, n_in)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    n_in=st.integers(2, 3),
    widths=st.lists(st.integers(2, 12), min_size=1, max_size=3),
    offset=st.sampled_from([-0.2, -0.02, -0.002, 0.002, 0.02, 0.2]),
)
def test_verify_agrees_with_milp_and_grid(seed, n_in, widths, offset):
    net = small_net(seed, n_in, widths)
    rng = np.random.default_rng(seed)
    centre = rng.uniform(-1, 1, n_in)
    box = gn.Box(centre - 0.5, centre + 0.5)
    c = rng.normal(size=2)
    best, _ = exact_max(net, box, c)
    threshold = best + offset  # unsafe: c . y >= threshold
    prop = gn.Property(box, gn.LinearConstraints([-c], [-threshold]))
    result = gn.verify(net, prop, timeout=20.0, seed=seed)
    on_grid = net.predict(grid(box, n_in)) @ c
    if offset > 0:
        assert result.status == "holds", (result, best, threshold)
        assert on_grid.max() < threshold
        assert np.all(result.bounds > 0)
    else:
        assert result.status == "violated", (result, best, threshold)
        x, y = result.counterexample
        assert np.all(box.lower <= x) and np.all(x <= box.upper)
        np.testing.assert_array_equal(net.predict(x[None])[0], y)  # as reported
        assert c @ y >= threshold


def test_exact_max_is_attained_and_beats_every_grid_point():
    net = small_net(7, 2, [10, 10])
    box = gn.Box([-1.0, -1.0], [1.0, 1.0])
    c = np.array([1.0, -1.0])
    best, x = exact_max(net, box, c)
    np.testing.assert_allclose(net.predict(x[None])[0] @ c, best, atol=1e-7)
    assert (net.predict(grid(box, 2)) @ c).max() <= best + 1e-9


def test_the_relaxation_lies_above_the_exact_maximum_and_tightens_with_the_bounds():
    from glassnet.verification import relaxed_max
    from glassnet.verification.linear import layer_bounds
    from glassnet.verification.network import read_network

    gaps = []
    for seed in range(6):
        net = small_net(seed, 3, [10, 10])
        box = gn.Box(-np.ones(3), np.ones(3))
        c = np.random.default_rng(seed).normal(size=2)
        best, _ = exact_max(net, box, c)
        loose, _ = relaxed_max(net, box, c)  # on the interval bounds
        bounds, _ = layer_bounds(read_network(net), box.lower[None], box.upper[None])
        tight, _ = relaxed_max(net, box, c, bounds)
        assert best - 1e-7 <= tight <= loose + 1e-7
        gaps.append(loose - best)
    assert max(gaps) > 1e-3  # the relaxation is a relaxation: somewhere it is loose
