"""Certified training (IBP, CROWN-IBP) and certified accuracy.

The hand-written bound gradients are checked against central finite differences and
against torch autograd of the same computation; the bounds against sampled points
of the box; the training against standard training on digits; certified accuracy
against PGD and clean accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.training import TrainConfig
from glassnet.training.certified import CertifiedTraining, ibp_bounds, ibp_loss
from glassnet.verification import certified_mask


def small_net(hidden="relu", seed=1, widths=(4, 6, 5, 3)):
    layers = [
        gn.Dense(a, b, hidden) for a, b in zip(widths[:-2], widths[1:-1], strict=True)
    ]
    layers.append(gn.Dense(widths[-2], widths[-1], "softmax"))
    return gn.Sequential(*layers, dtype="float64", seed=seed)


def problem(seed=0, n=7, d=4, k=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, d)), rng.integers(0, k, n), rng.uniform(0.5, 2, n)


def unstable_count(net, X, eps):
    """Hidden neurons whose IBP bounds straddle 0 (where the relaxations matter)."""
    bounds = ibp_bounds(net, np.clip(X - eps, 0, 1), np.clip(X + eps, 0, 1))
    return sum(int(((lo < 0) & (hi > 0)).sum()) for lo, hi in bounds[:-1])


# -- gradients -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hidden", "beta"),
    [
        ("relu", 0.0),
        ("tanh", 0.0),
        ("sigmoid", 0.0),
        ("leaky_relu", 0.0),
        ("relu", 0.4),
        ("relu", 1.0),
    ],
)
def test_bound_loss_gradient_matches_finite_differences(hidden, beta):
    net = small_net(hidden)
    X, y, w = problem()
    assert hidden != "relu" or unstable_count(net, X, 0.1) > 0
    options = dict(clip=(0, 1), sample_weight=w, beta=beta)
    _, grads = ibp_loss(net, X, y, 0.1, **options)
    worst = 0.0
    for layer, (dW, db) in zip(net.layers, grads, strict=True):
        for name, analytic in (("W", dW), ("b", db)):
            P = layer.params[name]
            for index in np.ndindex(P.shape):
                old, h = P[index], 1e-6
                P[index] = old + h
                up, _ = ibp_loss(net, X, y, 0.1, grads=False, **options)
                P[index] = old - h
                down, _ = ibp_loss(net, X, y, 0.1, grads=False, **options)
                P[index] = old
                worst = max(worst, abs((up - down) / (2 * h) - analytic[index]))
    assert worst < 1e-7


def torch_bound_loss(torch, Ws, bs, X, y, eps, w, beta):
    """IBP and CROWN-IBP written again in torch, differentiated by autograd."""
    lo_x = torch.clamp(X - eps, 0, 1)
    hi_x = torch.clamp(X + eps, 0, 1)
    x_mu, x_r = (hi_x + lo_x) / 2, (hi_x - lo_x) / 2
    mu, r, bounds = x_mu, x_r, []
    for W, b in zip(Ws[:-1], bs[:-1], strict=True):
        mu_z, r_z = mu @ W.T + b, r @ W.abs().T
        lo, hi = mu_z - r_z, mu_z + r_z
        bounds.append((lo, hi))
        mu, r = (
            (torch.relu(hi) + torch.relu(lo)) / 2,
            (torch.relu(hi) - torch.relu(lo)) / 2,
        )
    W, b = Ws[-1], bs[-1]
    D = W[y][:, None, :] - W[None, :, :]
    Db = b[y][:, None] - b[None, :]
    m = torch.einsum("nkh,nh->nk", D, mu) + Db - torch.einsum("nkh,nh->nk", D.abs(), r)
    if beta:
        Lam, const = D, Db
        hidden = list(zip(Ws[:-1], bs[:-1], strict=True))
        for (W, b), (lo, hi) in zip(reversed(hidden), reversed(bounds), strict=True):
            unstable, active = (lo < 0) & (hi > 0), (lo >= 0).double()
            width = torch.where(unstable, hi - lo, torch.ones_like(lo))
            s = torch.where(unstable, hi / width, active)
            t = torch.where(unstable, -s * lo, torch.zeros_like(lo))
            alpha = torch.where(unstable, (hi > -lo).double(), active)
            P, N = Lam.clamp(min=0), Lam.clamp(max=0)
            Lz = P * alpha[:, None, :] + N * s[:, None, :]
            const = const + torch.einsum("nkh,nh->nk", N, t) + Lz @ b
            Lam = Lz @ W
        crown = (
            torch.einsum("nki,ni->nk", Lam, x_mu)
            - torch.einsum("nki,ni->nk", Lam.abs(), x_r)
            + const
        )
        m = beta * crown + (1 - beta) * m
    Zw = -m
    per = torch.logsumexp(Zw, dim=1) - Zw[torch.arange(len(y)), y]
    return (per * w).sum() / w.sum()


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_bound_loss_gradient_matches_torch_autograd(beta):
    torch = pytest.importorskip("torch")
    net = small_net("relu", seed=3, widths=(5, 8, 8, 4))
    X, y, w = problem(seed=2, n=9, d=5, k=4)
    assert unstable_count(net, X, 0.15) > 0
    value, grads = ibp_loss(net, X, y, 0.15, clip=(0, 1), sample_weight=w, beta=beta)
    Ws = [torch.tensor(layer.W, requires_grad=True) for layer in net.layers]
    bs = [torch.tensor(layer.b, requires_grad=True) for layer in net.layers]
    loss = torch_bound_loss(
        torch, Ws, bs, torch.tensor(X), torch.tensor(y), 0.15, torch.tensor(w), beta
    )
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    for (dW, db), W, b in zip(grads, Ws, bs, strict=True):
        np.testing.assert_allclose(dW, W.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(db, b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_an_activation_layer_after_dense_is_read_as_its_activation():
    fused = gn.Sequential(
        gn.Dense(4, 6, gn.LeakyReLU(0.2)), gn.Dense(6, 3, "softmax"),
        dtype="float64", seed=1,
    )  # fmt: skip
    split = gn.Sequential(
        gn.Dense(4, 6), gn.ActivationLayer(gn.LeakyReLU(0.2)), gn.Dense(6, 3),
        gn.ActivationLayer("softmax"), dtype="float64", seed=1,
    )  # fmt: skip
    split.layers[0].W, split.layers[2].W = fused.layers[0].W, fused.layers[1].W
    X, y, _ = problem(seed=4)
    a, grads_a = ibp_loss(fused, X, y, 0.2)
    b, grads_b = ibp_loss(split, X, y, 0.2)
    assert a == pytest.approx(b, rel=1e-14)
    for (dWa, _), (dWb, _) in zip(grads_a, grads_b, strict=True):
        np.testing.assert_allclose(dWa, dWb, rtol=1e-12)


# -- the bounds contain what the network computes ---------------------------------------
@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_ibp_bounds_contain_sampled_pre_activations(hidden):
    net = small_net(hidden, seed=5, widths=(4, 10, 10, 3))
    rng = np.random.default_rng(6)
    x = rng.uniform(0.2, 0.8, 4)
    lower, upper = x - 0.1, x + 0.1
    bounds = ibp_bounds(net, lower[None], upper[None])
    samples = rng.uniform(lower, upper, (2000, 4))
    outs = net.forward(samples, return_all=True)
    for (lo, hi), out in zip(bounds, outs, strict=True):
        assert np.all(out["Z"] >= lo - 1e-12)
        assert np.all(out["Z"] <= hi + 1e-12)


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_bound_loss_is_above_the_loss_at_every_sampled_point(beta):
    """CE is decreasing in the margins, so the loss on lower bounds of the margins is
    above the cross-entropy at any point of the box."""
    net = small_net("relu", seed=7, widths=(4, 12, 12, 3))
    rng = np.random.default_rng(8)
    loss = gn.CrossEntropyLoss()
    for _ in range(5):
        x, label = rng.uniform(0, 1, 4), int(rng.integers(3))
        bound, _ = ibp_loss(
            net, x[None], [label], 0.08, clip=(0, 1), grads=False, beta=beta
        )
        pts = np.clip(x + rng.uniform(-0.08, 0.08, (3000, 4)), 0, 1)
        per_point = loss.per_sample(net.predict(pts), np.eye(3)[[label] * len(pts)])
        assert bound >= per_point.max() - 1e-12


def test_crown_ibp_margins_are_tighter_here_than_ibp():
    net = small_net("relu", seed=9, widths=(4, 16, 16, 3))
    X, y, _ = problem(seed=10, n=20)
    ibp, _ = ibp_loss(net, X, y, 0.05, clip=(0, 1), grads=False, beta=0.0)
    crown, _ = ibp_loss(net, X, y, 0.05, clip=(0, 1), grads=False, beta=1.0)
    assert crown < ibp


def test_the_bound_loss_at_eps_zero_is_the_cross_entropy():
    net = small_net("relu", seed=11)
    X, y, _ = problem(seed=12)
    value, _ = ibp_loss(net, X, y, 0.0, grads=False)
    expected = gn.CrossEntropyLoss()(net.predict(X), np.eye(3)[y])
    assert value == pytest.approx(expected, rel=1e-12)


# -- training ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_digits()
    X, y = data.data / 16.0, data.target
    order = np.random.default_rng(0).permutation(len(y))
    return X[order[:600]], y[order[:600]], X[order[600:900]], y[order[600:900]]


def digits_net():
    return gn.Sequential(gn.Dense(64, 48, "relu"), gn.Dense(48, 10, "softmax"), seed=0)


def train(digits, **options):
    X, y, _, _ = digits
    net = digits_net()
    history = net.fit(X, y, epochs=30, batch_size=32, verbose=0, **options)
    return net, history


def test_certified_training_certifies_more_than_standard_training(digits):
    _, _, Xt, yt = digits
    standard, _ = train(digits)
    for method in ("ibp", "crown-ibp"):
        certified, history = train(
            digits, certify=0.05, certify_method=method, certify_clip=(0, 1)
        )
        assert history.params["certify"]["method"] == method
        # measured: 0.0 standard, 0.32 (ibp) and 0.31 (crown-ibp) certified
        before = gn.certified_accuracy(standard, Xt, yt, 0.05, "interval", (0, 1))
        after = gn.certified_accuracy(certified, Xt, yt, 0.05, "interval", (0, 1))
        assert after > before + 0.2, (method, before, after)


def test_certified_below_pgd_below_clean_on_the_same_samples(digits):
    _, _, Xt, yt = digits
    nets = [train(digits)[0], train(digits, certify=0.05, certify_clip=(0, 1))[0]]
    for net in nets:
        clean = float(np.mean(net.predict_classes(Xt) == yt))
        for eps in (0.01, 0.05, 0.1):
            pgd = gn.pgd_accuracy(net, Xt, yt, eps, clip=(0, 1), seed=0)
            for method in ("interval", "linear", "auto"):
                cert = gn.certified_accuracy(net, Xt, yt, eps, method, clip=(0, 1))
                assert cert <= pgd <= clean
            proved = certified_mask(net, Xt, yt, eps, clip=(0, 1))
            X_adv = gn.attacks.pgd(net, Xt, yt, eps, clip=(0, 1), seed=1)
            assert np.all(net.predict_classes(X_adv)[proved] == yt[proved])


def test_auto_proves_what_interval_or_linear_proves(digits):
    _, _, Xt, yt = digits
    net = train(digits, certify=0.05, certify_clip=(0, 1))[0]
    masks = {
        m: certified_mask(net, Xt, yt, 0.05, m, clip=(0, 1))
        for m in ("interval", "linear", "auto")
    }
    assert np.array_equal(masks["auto"], masks["interval"] | masks["linear"])


def test_the_same_seed_gives_the_same_weights(digits):
    a, _ = train(digits, certify=0.05, certify_method="crown-ibp")
    b, _ = train(digits, certify=0.05, certify_method="crown-ibp")
    assert np.array_equal(a.flat_params, b.flat_params)


def test_the_ramp_takes_eps_and_kappa_from_their_start_to_their_end():
    setting = CertifiedTraining(0.1, ramp=(2, 4), kappa=(1.0, 0.5))
    assert setting.schedule(1.0, 10)[:2] == (0.0, 1.0)
    assert setting.schedule(4.0, 10)[:2] == pytest.approx((0.05, 0.75))
    assert setting.schedule(7.0, 10)[:2] == pytest.approx((0.1, 0.5))
    assert CertifiedTraining(0.1).schedule(2.5, 10)[0] == pytest.approx(0.05)
    crown = CertifiedTraining(0.1, method="crown-ibp", ramp=lambda t: min(t / 4, 1))
    assert crown.schedule(1.0, 10) == pytest.approx((0.025, 0.875, 0.75))


def test_the_config_keeps_the_setting():
    config = TrainConfig(certify=0.1, certify_method="crown-ibp", certify_ramp=3)
    assert config.certify == CertifiedTraining(0.1, method="crown-ibp", ramp=(0, 3))
    X, y = gn.datasets.xor()
    net = gn.Sequential(gn.Dense(2, 4, "relu"), gn.Dense(4, 2, "softmax"), seed=0)
    history = net.fit(X, y, epochs=2, verbose=0, certify=0.1, certify_ramp=1)
    assert history.config.certify.ramp == (0.0, 1.0)
    assert history.params["certify"]["eps"] == 0.1


# -- bad arguments -----------------------------------------------------------------------
def xor_net(output="softmax", hidden="relu"):
    return gn.Sequential(gn.Dense(2, 4, hidden), gn.Dense(4, 2, output), seed=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"certify": -0.1}, "certify must be in"),
        ({"certify": "big"}, "certify must be a number"),
        ({"certify": 0.1, "certify_clip": (1, 0)}, "lo < hi"),
        ({"certify": 0.1, "certify_clip": 3}, "certify_clip must be None or a pair"),
        ({"certify": 0.1, "certify_method": "milp"}, "certify_method must be one of"),
        ({"certify": 0.1, "certify_kappa": (1, 2)}, "certify_kappa end"),
        ({"certify": 0.1, "certify_ramp": "slow"}, "certify_ramp must be"),
        ({"certify_clip": (0, 1)}, "certify_clip needs certify=eps"),
        (
            {"certify": 0.1, "adversarial": gn.attacks.FGSM(eps=0.1)},
            "adversarial or certify, not both",
        ),
    ],
)
def test_bad_settings_are_refused_naming_them(options, message):
    X, y = gn.datasets.xor()
    with pytest.raises((ValueError, TypeError), match=message):
        xor_net().fit(X, y, verbose=0, **options)


def test_certify_needs_cross_entropy_and_crown_ibp_relus():
    X, y = gn.datasets.xor()
    with pytest.raises(ValueError, match="certify needs the cross-entropy loss"):
        xor_net("sigmoid").fit(X, np.eye(2)[y], verbose=0, certify=0.1, loss="mse")
    with pytest.raises(ValueError, match="crown-ibp needs ReLU"):
        xor_net(hidden="tanh").fit(
            X, y, verbose=0, certify=0.1, certify_method="crown-ibp"
        )


def test_inputs_outside_the_clip_range_are_refused():
    X, y = gn.datasets.xor()
    with pytest.raises(ValueError, match="outside certify_clip"):
        xor_net().fit(
            X + 2, y, verbose=0, certify=0.1, certify_clip=(0, 1), certify_ramp=0
        )


def test_certified_accuracy_refuses_bad_arguments():
    net = xor_net()
    X, y = gn.datasets.xor()
    with pytest.raises(gn.errors.InputError, match="method must be one of"):
        gn.certified_accuracy(net, X, y, 0.1, method="milp")
    with pytest.raises(ValueError, match="eps must be in"):
        gn.certified_accuracy(net, X, y, -0.1)
    with pytest.raises(ValueError, match="class labels"):
        gn.certified_accuracy(net, X, np.array([0, 1, 2, 7]), 0.1)
    with pytest.raises(ValueError, match="different numbers of samples"):
        gn.certified_accuracy(net, X, [0, 1], 0.1)
