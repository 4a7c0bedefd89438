"""Interval and linear bounds: sound on sampled outputs, and how they compare."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.verification.branch import set_bounds
from glassnet.verification.interval import interval_bounds, interval_spec_bounds
from glassnet.verification.linear import linear_spec_bounds
from glassnet.verification.network import model_outputs, read_network
from glassnet.verification.spec import LinearConstraints, Property

ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid"]


def random_case(seed, activation, dtype, n_in=3, width=8):
    rng = np.random.default_rng(seed)
    net = gn.Sequential(
        gn.Dense(n_in, width, activation),
        gn.Dense(width, width, activation),
        gn.Dense(width, 2),
        dtype=dtype,
        seed=seed,
    )
    centre, radius = rng.normal(size=n_in), rng.uniform(0.05, 1.0, n_in)
    C, d = rng.normal(size=(3, 2)), rng.normal(size=3)
    return net, centre - radius, centre + radius, C, d, rng


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_sampled_outputs_lie_inside_interval_and_linear_bounds(activation, dtype):
    for seed in range(6):
        net, lo, hi, C, d, rng = random_case(seed, activation, dtype)
        vn = read_network(net)
        X = rng.uniform(lo, hi, size=(3000, lo.size))
        X[:8] = lo + (hi - lo) * rng.integers(0, 2, size=(8, lo.size))  # corners
        Y = np.asarray(net.predict(X.astype(dtype)), dtype=np.float64)
        lowest = (Y @ C.T - d).min(axis=0)
        _, post, _ = interval_bounds(vn, lo[None], hi[None])
        assert np.all(post[-1][0][0] <= Y.min(axis=0))
        assert np.all(post[-1][1][0] >= Y.max(axis=0))
        assert np.all(interval_spec_bounds(vn, lo[None], hi[None], C, d)[0] <= lowest)
        assert np.all(linear_spec_bounds(vn, lo[None], hi[None], C, d)[0] <= lowest)


def test_linear_bounds_are_tighter_than_intervals_on_relu_networks():
    # back-substitution keeps the correlations intervals lose; it is not tighter on
    # every single row (verify keeps the larger of the two), but it is overall
    tighter = total = 0
    for seed in range(20):
        net, lo, hi, C, d, _ = random_case(seed, "relu", "float64", width=12)
        vn = read_network(net)
        interval = interval_spec_bounds(vn, lo[None], hi[None], C, d)
        linear = linear_spec_bounds(vn, lo[None], hi[None], C, d)
        tighter += int(np.sum(linear >= interval))
        total += linear.size
    assert tighter >= 0.8 * total


def test_bounds_of_many_boxes_at_once_match_one_at_a_time():
    net, lo, hi, C, d, rng = random_case(3, "relu", "float32")
    vn = read_network(net)
    cut = rng.uniform(lo, hi, size=(5, lo.size))
    lows, highs = np.minimum(cut, hi - 0.01), np.full((5, lo.size), hi)
    together = linear_spec_bounds(vn, lows, highs, C, d)
    for i in range(5):
        alone = linear_spec_bounds(vn, lows[i : i + 1], highs[i : i + 1], C, d)
        np.testing.assert_allclose(together[i], alone[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bounds_only_tighten_on_a_smaller_region(activation):
    for seed in range(5):
        net, lo, hi, C, d, rng = random_case(seed, activation, "float64")
        vn = read_network(net)
        inner_lo = lo + rng.uniform(0, 0.4, lo.size) * (hi - lo)
        inner_hi = hi - rng.uniform(0, 0.4, lo.size) * (hi - lo)
        outer = interval_spec_bounds(vn, lo[None], hi[None], C, d)
        inner = interval_spec_bounds(vn, inner_lo[None], inner_hi[None], C, d)
        assert np.all(inner >= outer)
        prop = Property(
            gn.Box(lo, hi),
            tuple(LinearConstraints(c[None], [v]) for c, v in zip(C, d, strict=True)),
        )
        assert np.all(
            set_bounds(vn, prop, inner_lo[None], inner_hi[None], use_linear=False)
            >= set_bounds(vn, prop, lo[None], hi[None], use_linear=False)
        )


def test_a_final_softmax_is_verified_on_its_logits():
    net = gn.Sequential(gn.Dense(2, 4, "relu"), gn.Dense(4, 3, "softmax"), seed=0)
    vn = read_network(net)
    assert vn.dropped_softmax and vn.blocks[-1].activation == "identity"
    X = np.random.default_rng(0).normal(size=(5, 2))
    logits = model_outputs(net, X, True)
    np.testing.assert_allclose(
        np.exp(logits) / np.exp(logits).sum(1, keepdims=True), net.predict(X), rtol=1e-5
    )
    np.testing.assert_allclose(vn.forward(X), logits, rtol=1e-4, atol=1e-5)


@pytest.fixture
def kernels_default():
    from glassnet import kernels

    yield kernels
    kernels.enable(None)


@pytest.mark.parametrize("per_row_slopes", [False, True])
def test_the_compiled_relaxation_step_gives_numpys_coefficients(
    kernels_default, per_row_slopes
):
    pytest.importorskip("numba")
    from glassnet.verification.linear import _relax_step

    rng = np.random.default_rng(4)
    B, m, n = 5, 7, 11
    Lam = rng.normal(size=(B, m, n))
    Lam[0, 0, :3] = 0.0
    Lam[1, 2, 4] = np.nan
    Lam[2, 3, 5], Lam[3, 1, 6] = np.inf, -np.inf  # a coefficient that overflowed
    s_l = rng.uniform(0, 1, size=(B, m if per_row_slopes else 1, n))
    s_u, t_l, t_u = rng.uniform(0, 1, size=(3, B, n))
    out = {}
    for flag in (False, True):
        kernels_default.enable(flag)
        const = np.ones((B, m))
        out[flag] = (_relax_step(Lam, s_l, s_u, t_l, t_u, const), const)
    np.testing.assert_array_equal(out[True][0], out[False][0])  # NaN where NaN
    # the offsets are summed in another order: equal within a few ulps of the sum
    scale = np.einsum("bmn,bn->bm", np.abs(np.nan_to_num(Lam)), t_l + t_u) + 1.0
    with np.errstate(invalid="ignore"):  # inf - inf where a coefficient was inf
        gap = np.abs(out[True][1] - out[False][1])
    assert np.isnan(out[True][1][1, 2]) and np.isnan(out[False][1][1, 2])
    assert out[True][1][2, 3] == out[False][1][2, 3] == np.inf
    assert out[True][1][3, 1] == out[False][1][3, 1] == -np.inf
    assert np.nanmax(gap / scale) < 1e-14


def test_bounds_with_and_without_the_compiled_step_agree(kernels_default):
    pytest.importorskip("numba")
    rng = np.random.default_rng(5)
    net = gn.Sequential(
        gn.Dense(4, 20, "relu"), gn.Dense(20, 20, "relu"), gn.Dense(20, 3),
        dtype="float32", seed=5,
    )  # fmt: skip
    vn = read_network(net)
    centre = rng.uniform(-1, 1, size=(6, 4))
    lower, upper = centre - 0.3, centre + 0.3
    C, d = rng.normal(size=(2, 3)), rng.normal(size=2)
    found = {}
    for flag in (False, True):
        kernels_default.enable(flag)
        found[flag] = linear_spec_bounds(vn, lower, upper, C, d)
    np.testing.assert_allclose(found[True], found[False], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_in", [3, 40])
def test_tightened_layer_bounds_are_the_plain_back_substitution(monkeypatch, n_in):
    """tighten takes the first step's rows of W as they are and the input step in
    cache-sized parts: the bounds are those of the plain recursion, bit for bit,
    and every sampled pre-activation lies inside them."""
    from glassnet.verification import linear

    rng = np.random.default_rng(n_in)
    net = gn.Sequential(
        gn.Dense(n_in, 30, "relu"), gn.Dense(30, 30, "relu"), gn.Dense(30, 2),
        dtype="float32", seed=n_in,
    )  # fmt: skip
    vn = read_network(net)
    centre = rng.uniform(-1, 1, size=(5, n_in))
    lower, upper = centre - 0.4, centre + 0.4
    pre, _, deltas = interval_bounds(vn, lower, upper)
    bounds = [pre[0]]  # the first layer's, as the relaxations are taken from
    L, U = pre[1]  # the second layer's interval bounds, to be tightened
    mask = (L < 0) & (U > 0)
    assert mask.sum() > 10  # enough unstable neurons to bound again
    monkeypatch.setattr(linear, "BOX_ENTRIES", 8 * n_in)  # several parts per call
    got = linear.tighten(vn, 1, L, U, mask, bounds, deltas, lower, upper)
    # the plain recursion: unit rows through every product, all of Lam W at once
    box, neuron = np.nonzero(mask)
    rank = np.arange(len(box)) - np.searchsorted(box, box)
    width = int(rank.max()) + 1
    Lam = np.zeros((5, 2 * width, 30))
    Lam[box, rank, neuron], Lam[box, width + rank, neuron] = 1.0, -1.0
    zero = np.zeros((5, 2 * width))
    monkeypatch.setattr(linear, "BOX_ENTRIES", 10**12)
    lb = linear._backsubstitute(
        vn, 1, Lam, bounds, deltas, lower, upper, zero, zero, row_norms=True
    )
    want_L, want_U = L.copy(), U.copy()
    want_L[box, neuron] = np.maximum(L[box, neuron], lb[box, rank])
    want_U[box, neuron] = np.minimum(U[box, neuron], -lb[box, width + rank])
    np.testing.assert_array_equal(got[0], want_L)
    np.testing.assert_array_equal(got[1], want_U)
    assert np.any(got[0] > L) or np.any(got[1] < U)  # it did tighten
    # sound: sampled inputs' pre-activations of the second layer lie inside
    for b in range(5):
        X = rng.uniform(lower[b], upper[b], size=(2000, n_in)).astype(np.float32)
        Z = np.maximum(X @ net.layers[0].W.T + net.layers[0].b, 0)
        Z = Z @ net.layers[1].W.T + net.layers[1].b
        assert np.all(Z >= got[0][b] - 1e-5) and np.all(Z <= got[1][b] + 1e-5)


@pytest.mark.parametrize("groups", [1, 2, 4, 16])
def test_tighten_gives_each_box_the_same_bounds_in_any_grouping(monkeypatch, groups):
    # boxes are bounded in groups sorted by how many neurons each asks for; a box
    # asking for none keeps its bounds; the grouping changes no box's numbers
    from glassnet.verification import linear

    rng = np.random.default_rng(9)
    net = gn.Sequential(
        gn.Dense(5, 20, "relu"), gn.Dense(20, 20, "relu"), gn.Dense(20, 2),
        dtype="float64", seed=9,
    )  # fmt: skip
    vn = read_network(net)
    centre = rng.uniform(-1, 1, size=(9, 5))
    radius = rng.uniform(0.01, 0.3, size=(9, 1))
    lower, upper = centre - radius, centre + radius
    pre, _, deltas = interval_bounds(vn, lower, upper)
    L, U = pre[1]
    mask = (L < 0) & (U > 0)
    mask[4] = False  # this box asks for nothing
    assert len(set(mask.sum(axis=1))) > 3  # boxes ask for different numbers
    monkeypatch.setattr(linear, "TIGHTEN_GROUPS", 1)
    want = linear.tighten(vn, 1, L, U, mask, [pre[0]], deltas, lower, upper)
    monkeypatch.setattr(linear, "TIGHTEN_GROUPS", groups)
    got = linear.tighten(vn, 1, L, U, mask, [pre[0]], deltas, lower, upper)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[0][4], L[4])  # untouched
    np.testing.assert_array_equal(got[1][4], U[4])
    assert np.any(got[0][mask] > L[mask])  # the others were tightened
