"""FGSM and PGD against the same formulas written in PyTorch on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from glassnet.attacks import FGSM, PGD, default_loss, fgsm, pgd

import glassnet as gn

TORCH_ACT = {
    "identity": lambda Z: Z,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda Z: torch.softmax(Z, dim=1),
}


def torch_forward(net, x):
    """The network written again in torch from its layers' W and b."""
    A = x
    for layer in net.layers:
        W, b = torch.tensor(layer.W), torch.tensor(layer.b)
        A = TORCH_ACT[layer.activation.name](A @ W.T + b)
    return A


def torch_loss(name, A, y):
    if name == "cross_entropy":
        return F.nll_loss(torch.log(A), torch.tensor(np.asarray(y, dtype=np.int64)))
    Y = torch.tensor(np.asarray(y, dtype=np.float64).reshape(A.shape))
    if name == "binary_crossentropy":
        return F.binary_cross_entropy(A, Y)
    return F.mse_loss(A, Y)


def torch_grad(net, x, y, loss):
    x = x.detach().requires_grad_(True)
    torch_loss(loss, torch_forward(net, x), y).backward()
    return x.grad


def torch_fgsm(net, X, y, eps, loss, clip):
    x = torch.tensor(X)
    x_adv = x + eps * torch_grad(net, x, y, loss).sign()
    return (x_adv if clip is None else x_adv.clamp(*clip)).numpy()


def torch_pgd(net, X, y, eps, step, steps, loss, clip, start):
    """Madry et al.'s loop, written independently: ascent, project, clamp."""
    x0 = torch.tensor(X)
    x = x0 + torch.tensor(start)
    if clip is not None:
        x = x.clamp(*clip)
    for _ in range(steps):
        x = x + step * torch_grad(net, x, y, loss).sign()
        x = torch.max(torch.min(x, x0 + eps), x0 - eps)
        if clip is not None:
            x = x.clamp(*clip)
    return x.numpy()


CASES = [  # (hidden, output activation, width, loss)
    ("relu", "softmax", 4, "cross_entropy"),
    ("tanh", "sigmoid", 1, "binary_crossentropy"),
    ("tanh", "sigmoid", 3, "binary_crossentropy"),
    ("relu", "identity", 2, "mse"),
]


def make_case(hidden, out_act, width, loss, seed=0, n=12, d=6):
    """A random float64 network and inputs in [0, 1]."""
    rng = np.random.default_rng(seed)
    net = gn.Sequential(
        gn.Dense(d, 8, hidden), gn.Dense(8, width, out_act), dtype="float64", seed=seed
    )
    for layer in net.layers:
        layer.b = rng.normal(scale=0.3, size=layer.b.shape)
    X = rng.uniform(0.0, 1.0, size=(n, d))
    if loss == "cross_entropy":
        y = rng.integers(0, width, size=n)
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, size=(n, width)).astype(float)
    else:
        y = rng.normal(size=(n, width))
    return net, X, y


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}{c[2]}-{c[3]}")
@pytest.mark.parametrize("clip", [None, (0.0, 1.0)])
def test_fgsm_equals_torch(case, clip):
    net, X, y = make_case(*case)
    for eps in (0.03, 0.1, 0.3):
        expected = torch_fgsm(net, X, y, eps, case[3], clip)
        X_adv = fgsm(net, X, y, eps, loss=case[3], clip=clip)
        np.testing.assert_allclose(X_adv, expected, rtol=0, atol=1e-12)
        assert np.abs(X_adv - X).max() == pytest.approx(eps)  # it really moved


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}{c[2]}-{c[3]}")
def test_pgd_equals_torch_same_random_start(case):
    net, X, y = make_case(*case, seed=1)
    eps, step, steps, clip = 0.1, 0.03, 7, (0.0, 1.0)
    # pgd draws its start as np.random.default_rng(seed).uniform(-eps, eps, X.shape)
    start = np.random.default_rng(42).uniform(-eps, eps, size=X.shape)
    expected = torch_pgd(net, X, y, eps, step, steps, case[3], clip, start)
    X_adv = pgd(
        net, X, y, eps, step=step, steps=steps, loss=case[3], clip=clip, seed=42
    )
    np.testing.assert_allclose(X_adv, expected, rtol=0, atol=1e-12)


def test_pgd_without_random_start_equals_torch_from_x():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=2)
    eps, step, steps = 0.2, 0.05, 10
    expected = torch_pgd(
        net, X, y, eps, step, steps, "cross_entropy", None, np.zeros_like(X)
    )
    X_adv = pgd(net, X, y, eps, step=step, steps=steps, random_start=False)
    np.testing.assert_allclose(X_adv, expected, rtol=0, atol=1e-12)
    # one PGD step of size eps from x is FGSM
    np.testing.assert_array_equal(
        pgd(net, X, y, eps, step=eps, steps=1, random_start=False), fgsm(net, X, y, eps)
    )


def test_attacks_stay_in_the_ball_and_the_box():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=3)
    for X_adv in (
        fgsm(net, X, y, 0.25, clip=(0, 1)),
        pgd(net, X, y, 0.25, steps=5, clip=(0, 1), seed=0),
    ):
        assert np.abs(X_adv - X).max() <= 0.25 + 1e-15
        assert X_adv.min() >= 0.0 and X_adv.max() <= 1.0
    np.testing.assert_array_equal(fgsm(net, X, y, 0.0), X)
    np.testing.assert_array_equal(pgd(net, X, y, 0.0, seed=0), X)


def test_attacks_raise_the_loss():
    net, X, y = make_case("tanh", "softmax", 4, "cross_entropy", seed=4)
    clean = net.loss_value(X, y, "cross_entropy")
    after_fgsm = net.loss_value(fgsm(net, X, y, 0.1), y, "cross_entropy")
    after_pgd = net.loss_value(
        pgd(net, X, y, 0.1, steps=20, seed=0), y, "cross_entropy"
    )
    assert clean < after_fgsm <= after_pgd


def test_pgd_seed_reproducible_and_start_random():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=5)
    a = pgd(net, X, y, 0.1, steps=1, seed=3)
    np.testing.assert_array_equal(a, pgd(net, X, y, 0.1, steps=1, seed=3))
    assert not np.array_equal(a, pgd(net, X, y, 0.1, steps=1, seed=4))
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(a, pgd(net, X, y, 0.1, steps=1, seed=rng))


def test_attacks_leave_parameter_gradients_unchanged():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=6)
    net.loss_and_grad(X[:3], y[:3], loss="cross_entropy")
    before = net.flat_grads.copy()
    fgsm(net, X, y, 0.1)
    pgd(net, X, y, 0.1, seed=0)
    np.testing.assert_array_equal(net.flat_grads, before)


def test_default_loss_follows_the_output_activation():
    softmax = gn.Sequential(gn.Dense(2, 3, "softmax"))
    sigmoid = gn.Sequential(gn.Dense(2, 1), gn.Sigmoid())
    linear = gn.Sequential(gn.Dense(2, 1))
    assert default_loss(softmax).name == "cross_entropy"
    assert default_loss(sigmoid).name == "binary_crossentropy"
    assert default_loss(linear).name == "mse"
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=7)
    np.testing.assert_array_equal(
        fgsm(net, X, y, 0.1), fgsm(net, X, y, 0.1, loss="cross_entropy")
    )


def test_config_objects_run_the_same_attacks():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=8)
    np.testing.assert_array_equal(FGSM(eps=0.1)(net, X, y), fgsm(net, X, y, 0.1))
    attack = PGD(eps=0.1, steps=4)
    assert attack.step == pytest.approx(2.5 * 0.1 / 4)
    np.testing.assert_array_equal(
        attack(net, X, y, seed=1), pgd(net, X, y, 0.1, steps=4, seed=1)
    )
    # adversarial_batch (the training form) draws its start from the generator given
    Y = net.prepare_targets(y, gn.CrossEntropyLoss())
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(
        attack.adversarial_batch(net, X, Y, gn.CrossEntropyLoss(), rng),
        pgd(net, X, y, 0.1, steps=4, seed=1),
    )
    assert FGSM(eps=0.1).mix == 0.5 and PGD(eps=0.1, mix=1).mix == 1.0


# -- bad input: clear messages ---------------------------------------------------------
@pytest.fixture
def small():
    return make_case("relu", "softmax", 4, "cross_entropy", seed=9, n=4)


def test_negative_eps_is_rejected(small):
    net, X, y = small
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\], got -0.1"):
        fgsm(net, X, y, -0.1)
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\], got -0.1"):
        pgd(net, X, y, -0.1)
    with pytest.raises(ValueError, match=r"eps must be in \[0, inf\], got -1"):
        FGSM(eps=-1)
    with pytest.raises(TypeError, match="eps must be a number, got '0.1'"):
        fgsm(net, X, y, "0.1")


def test_bad_steps_and_step_are_rejected(small):
    net, X, y = small
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        pgd(net, X, y, 0.1, steps=0)
    with pytest.raises(TypeError, match="steps must be a positive integer, got 2.5"):
        pgd(net, X, y, 0.1, steps=2.5)
    with pytest.raises(ValueError, match="step must be > 0, got 0"):
        pgd(net, X, y, 0.1, step=0.0)
    with pytest.raises(ValueError, match="step must be > 0, got -0.01"):
        PGD(eps=0.1, step=-0.01)
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        PGD(eps=0.1, steps=0)


def test_bad_clip_is_rejected(small):
    net, X, y = small
    with pytest.raises(
        ValueError, match=r"lo < hi, got \(1, 0\); the bounds are reversed"
    ):
        fgsm(net, X, y, 0.1, clip=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"lo < hi, got \(0.5, 0.5\)"):
        pgd(net, X, y, 0.1, clip=(0.5, 0.5))
    with pytest.raises(
        TypeError, match=r"clip must be None or a pair \(lo, hi\), got 1"
    ):
        fgsm(net, X, y, 0.1, clip=1)
    with pytest.raises(ValueError, match=r"reversed"):
        FGSM(eps=0.1, clip=(1, 0))
    with pytest.raises(
        ValueError,
        match=r"X has values from -0.99\d+ to -0.01\d+, outside clip=\(0, 1\)",
    ):
        fgsm(net, X - 1.0, y, 0.1, clip=(0, 1))


def test_mismatched_inputs_are_rejected(small):
    net, X, y = small
    with pytest.raises(
        ValueError, match="X and y have different numbers of samples: 4 and 3"
    ):
        fgsm(net, X, y[:3], 0.1)
    with pytest.raises(
        ValueError, match="X and y have different numbers of samples: 3 and 4"
    ):
        pgd(net, X[:3], y, 0.1)
    with pytest.raises(ValueError, match="5 features per sample .* in_features=6"):
        fgsm(net, X[:, :5], y, 0.1)
    with pytest.raises(TypeError, match="net must be a glassnet Sequential, got list"):
        fgsm([net], X, y, 0.1)
    with pytest.raises(ValueError, match=r"mix must be in \[0, 1\], got 1.5"):
        FGSM(eps=0.1, mix=1.5)


# -- adversarial training: one fit step computed again by hand -------------------------
def one_sgd_step_by_hand(net, X, y, lr, mix, X_adv, sample_weight=None):
    """theta - lr * [(1 - mix) dL_clean/dtheta + mix dL_adv/dtheta], via loss_and_grad."""
    L_clean, _ = net.loss_and_grad(X, y, "cross_entropy", sample_weight=sample_weight)
    g_clean = net.flat_grads.copy()
    L_adv, _ = net.loss_and_grad(X_adv, y, "cross_entropy", sample_weight=sample_weight)
    g_adv = net.flat_grads.copy()
    theta = net.flat_params - lr * ((1 - mix) * g_clean + mix * g_adv)
    return theta, (1 - mix) * L_clean + mix * L_adv


@pytest.mark.parametrize("mix", [0.5, 0.3, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_adversarial_fgsm_step_is_the_mixed_loss_gradient(mix, weighted):
    net, X, y = make_case("tanh", "softmax", 4, "cross_entropy", seed=11, n=10)
    w = np.linspace(0.5, 2.0, 10) if weighted else None
    X_adv = fgsm(net, X, y, 0.1, clip=(0, 1))  # against the weights before the step
    expected, expected_loss = one_sgd_step_by_hand(net.copy(), X, y, 0.5, mix, X_adv, w)
    history = net.fit(
        X, y, optimizer=gn.SGD(lr=0.5), epochs=1, batch_size=None, shuffle=False,
        sample_weight=w, verbose=0, adversarial=FGSM(eps=0.1, mix=mix, clip=(0, 1)),
    )  # fmt: skip
    np.testing.assert_allclose(net.flat_params, expected, rtol=0, atol=1e-13)
    assert history.history["loss"][0] == pytest.approx(expected_loss, abs=1e-13)
    assert history.params["adversarial"] == {
        "attack": "fgsm", "eps": 0.1, "mix": mix, "clip": [0.0, 1.0]
    }  # fmt: skip


def test_fit_adversarial_pgd_draws_its_start_from_the_network_generator():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=12, n=10)
    twin = net.copy()  # same weights, same rng state
    # what the step will draw: net.rng's next uniform(-eps, eps, X.shape)
    start = twin.copy().rng.uniform(-0.1, 0.1, size=X.shape)
    X_adv = torch_pgd(net, X, y, 0.1, 0.05, 3, "cross_entropy", (0.0, 1.0), start)
    expected, _ = one_sgd_step_by_hand(twin, X, y, 0.5, 0.5, X_adv)
    net.fit(
        X, y, optimizer=gn.SGD(lr=0.5), epochs=1, batch_size=None, shuffle=False,
        verbose=0, adversarial=PGD(eps=0.1, step=0.05, steps=3, clip=(0, 1)),
    )  # fmt: skip
    np.testing.assert_allclose(net.flat_params, expected, rtol=0, atol=1e-13)


def test_fit_adversarial_mix_zero_is_plain_training():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=13)
    twin = net.copy()
    kwargs = {"optimizer": gn.SGD(lr=0.1), "epochs": 2, "batch_size": 4, "verbose": 0}
    net.fit(X, y, adversarial=FGSM(eps=0.3, mix=0.0), **kwargs)
    twin.fit(X, y, **{**kwargs, "optimizer": gn.SGD(lr=0.1)})
    np.testing.assert_array_equal(net.flat_params, twin.flat_params)


def test_fit_adversarial_bad_input():
    net, X, y = make_case("relu", "softmax", 4, "cross_entropy", seed=14)
    with pytest.raises(TypeError, match=r"adversarial must be gn.attacks.FGSM\(eps=...\) "
                       r"or gn.attacks.PGD\(eps=...\), got str"):  # fmt: skip
        net.fit(X, y, verbose=0, adversarial="fgsm")
    before = net.flat_params.copy()
    with pytest.raises(
        ValueError, match=r"X has values from .* outside clip=\(0, 0.5\)"
    ):
        net.fit(X, y, verbose=0, adversarial=FGSM(eps=0.1, clip=(0, 0.5)))
    np.testing.assert_array_equal(net.flat_params, before)  # no step was taken
