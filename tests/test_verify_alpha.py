"""alpha-CROWN: optimised ReLU slopes give sound bounds, never looser than CROWN."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.verification.alpha import alpha_spec_bounds
from glassnet.verification.linear import _backsubstitute, layer_bounds
from glassnet.verification.milp import relaxed_max
from glassnet.verification.network import read_network


def random_net(seed, n_in, widths, activation="relu", n_out=3):
    layers, k = [], n_in
    for w in widths:
        layers.append(gn.Dense(k, w, activation))
        k = w
    layers.append(gn.Dense(k, n_out))
    net = gn.Sequential(*layers, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        layer.b = rng.normal(scale=0.3, size=layer.b.shape)
    return net


def sampled_min(net, lower, upper, C, d, rng, n=4000):
    """The smallest C y - d seen on random points and corners of each box: (B, m)."""
    out = []
    for lo, hi in zip(lower, upper, strict=True):
        X = rng.uniform(lo, hi, size=(n, lo.size))
        corners = np.where(rng.random((n // 4, lo.size)) < 0.5, lo, hi)
        Y = net.predict(np.concatenate([X, corners]))
        out.append((Y @ C.T - d).min(axis=0))
    return np.array(out)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_alpha_bounds_are_sound_and_at_least_as_tight_as_crown(seed, activation):
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(2, 7))
    net = random_net(
        seed, n_in, [int(rng.integers(4, 20)) for _ in range(2)], activation
    )
    vn = read_network(net)
    centre = rng.uniform(-1, 1, size=(3, n_in))
    radius = rng.uniform(0.05, 0.8, size=(3, 1))
    lower, upper = centre - radius, centre + radius
    C, d = rng.normal(size=(4, 3)), rng.normal(size=4)
    crown = gn.verification.linear.linear_spec_bounds(vn, lower, upper, C, d)
    alpha = alpha_spec_bounds(vn, lower, upper, C, d, steps=25)
    assert np.all(alpha >= crown)
    assert np.all(alpha <= sampled_min(net, lower, upper, C, d, rng))


def test_alpha_tightens_crown_somewhere():
    # over many random boxes the optimised slopes must gain on the fixed ones
    net = random_net(3, 4, [16, 16])
    vn = read_network(net)
    rng = np.random.default_rng(3)
    centre = rng.uniform(-1, 1, size=(20, 4))
    lower, upper = centre - 0.5, centre + 0.5
    C, d = np.array([[1.0, -1.0, 0.0]]), np.zeros(1)
    crown = gn.verification.linear.linear_spec_bounds(vn, lower, upper, C, d)
    alpha = alpha_spec_bounds(vn, lower, upper, C, d, steps=30)
    assert np.mean(alpha - crown) > 1e-3


@pytest.mark.parametrize("seed", range(5))
def test_any_alpha_and_nonnegative_beta_give_a_sound_bound(seed):
    # soundness never rests on the optimisation: random slopes in [0, 1] and random
    # multipliers >= 0 of the phase constraints of stable neurons stay below the
    # sampled minimum
    rng = np.random.default_rng(seed)
    net = random_net(seed, 3, [12, 12])
    vn = read_network(net)
    centre = rng.uniform(-1, 1, size=(2, 3))
    lower, upper = centre - 0.4, centre + 0.4
    C, d = rng.normal(size=(2, 3)), rng.normal(size=2)
    bounds, deltas = layer_bounds(vn, lower, upper)
    alphas = {j: rng.uniform(0, 1, size=(2, 2, 12)) for j in range(2)}
    betas = {j: rng.exponential(1.0, size=(2, 2, 12)) for j in range(2)}
    Lam = np.broadcast_to(C, (2,) + C.shape).copy()
    const = np.broadcast_to(-d, (2, 2)).copy()
    value = _backsubstitute(
        vn, 2, Lam, bounds, deltas, lower, upper, const, np.abs(const),
        alphas=alphas, betas=betas,
    )  # fmt: skip
    assert np.all(value <= sampled_min(net, lower, upper, C, d, rng))


def test_verify_alpha_method_bounds_at_least_the_linear_ones():
    net = random_net(11, 4, [16, 16])
    x = np.zeros(4)
    label = int(np.argmax(net.predict(x[None])[0]))
    for eps in (0.01, 0.2, 0.6):
        linear = gn.verify_robust(net, x, eps, label=label, method="linear")
        alpha = gn.verify_robust(net, x, eps, label=label, method="alpha")
        assert alpha.status in ("holds", "unknown", "violated")
        if linear.status == "holds":
            assert alpha.status == "holds" and alpha.method == linear.method
        elif linear.status == "unknown" and alpha.status != "violated":
            assert np.all(alpha.bounds >= linear.bounds)


def hidden_preactivations(net, X):
    """Each hidden block's z = W a + b at the points X: a list of (n, n_k)."""
    A, out = X, []
    for layer in net.layers[:-1]:
        Z = A @ np.asarray(layer.W).T + np.asarray(layer.b)
        out.append(Z)
        A = np.maximum(Z, 0.0)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_optimised_layer_bounds_are_sound_never_looser_and_tighter_somewhere(seed):
    from glassnet.verification.alpha import optimised_layer_bounds

    rng = np.random.default_rng(seed)
    net = random_net(seed, 5, [24, 24, 24])
    vn = read_network(net)
    centre = rng.uniform(-1, 1, size=(4, 5))
    lower, upper = centre - 0.5, centre + 0.5
    crown, deltas = layer_bounds(vn, lower, upper)
    tight = optimised_layer_bounds(vn, lower, upper, crown, deltas, steps=30)
    gained = 0.0
    for b, (lo, hi) in enumerate(zip(lower, upper, strict=True)):
        X = rng.uniform(lo, hi, size=(3000, 5))
        X = np.concatenate([X, np.where(rng.random((1000, 5)) < 0.5, lo, hi)])
        for k, Z in enumerate(hidden_preactivations(net, X)):
            (L0, U0), (L, U) = crown[k], tight[k]
            assert np.all(L[b] >= L0[b]) and np.all(U[b] <= U0[b])
            assert np.all(Z >= L[b]) and np.all(Z <= U[b])
            gained += float(np.sum(U0[b] - L0[b]) - np.sum(U[b] - L[b]))
    assert gained > 0


@pytest.mark.parametrize("seed", range(6))
def test_alpha_reaches_the_triangle_relaxation_and_never_passes_it(seed):
    # with the layer bounds fixed, every slope choice gives a bound <= the LP over
    # the triangles (the lines lie inside them), and the ascent should get close
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(2, 6))
    net = random_net(seed, n_in, [int(rng.integers(8, 16)) for _ in range(2)])
    vn = read_network(net)
    centre, radius = rng.uniform(-1, 1, size=n_in), rng.uniform(0.2, 0.8)
    lower, upper = (centre - radius)[None], (centre + radius)[None]
    bounds, deltas = layer_bounds(vn, lower, upper)
    for c, d in zip(rng.normal(size=(3, 3)), rng.normal(size=3), strict=True):
        # min of c . y - d over the triangles = -(max of -c . y) - d
        lp = -relaxed_max(net, gn.Box(lower[0], upper[0]), -c, bounds)[0] - d
        alpha = alpha_spec_bounds(
            vn, lower, upper, c[None], [d], bounds=bounds, deltas=deltas, steps=200
        )[0, 0]
        assert alpha <= lp + 1e-9 * (1 + abs(lp))
        assert alpha >= lp - 0.005 * (1 + abs(lp))
