"""Optimizers: trajectories against torch.optim, and the update rules written out by
hand for t = 1, 2, 10 (where bias correction matters most), each with the numpy
update and with the fused loop of glassnet.kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.optim import clip_by_global_norm

torch = pytest.importorskip("torch", reason="torch==2.13.0 is in the dev extra")


@pytest.fixture(autouse=True)
def _every_backend(backend):
    """Every test here runs with the numpy update and with the fused loop."""
    return backend


# -- against torch.optim -------------------------------------------------------------
def make_problem(seed=0):
    """A float64 4-5-3 tanh/softmax network, its torch twin, and a batch."""
    net = gn.Sequential(
        gn.Dense(4, 5, "tanh"), gn.Dense(5, 3, "softmax"), dtype="float64", seed=seed
    )
    rng = np.random.default_rng(seed + 100)
    X = rng.normal(size=(16, 4))
    y = rng.integers(0, 3, size=16)
    # Non-zero biases so weight decay acts on every parameter.
    net.flat_params[...] += rng.normal(scale=0.1, size=net.n_params)
    layers = [torch.nn.Linear(4, 5).double(), torch.nn.Linear(5, 3).double()]
    with torch.no_grad():
        for layer, dense in zip(layers, net.layers, strict=True):
            layer.weight.copy_(torch.from_numpy(dense.W.copy()))
            layer.bias.copy_(torch.from_numpy(dense.b.copy()))
    return net, layers, X, y


def torch_params(layers):
    return [p for layer in layers for p in (layer.weight, layer.bias)]


def torch_flat(layers):
    return np.concatenate([p.detach().numpy().ravel() for p in torch_params(layers)])


def run_both(gn_opt, torch_cls, torch_kwargs, steps=20, clip=None, batches=1, l1=0.0):
    net, layers, X, y = make_problem()
    loss = gn.get_loss("cross_entropy")
    Y = net.prepare_targets(y, loss)
    opt_t = torch_cls(torch_params(layers), **torch_kwargs)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    parts = np.array_split(np.arange(len(y)), batches)
    for step in range(steps):
        idx = parts[step % batches]
        # glassnet
        A = net._forward(X[idx], training=True)
        net._backward(loss, A, Y[idx])
        gn_opt.step(net.flat_params, net.flat_grads)
        # torch
        opt_t.zero_grad()
        logits = layers[1](torch.tanh(layers[0](Xt[idx])))
        torch.nn.functional.cross_entropy(logits, yt[idx]).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(torch_params(layers), clip)
        if l1:  # torch.optim has no L1 option: its subgradient added by hand
            with torch.no_grad():
                for p in torch_params(layers):
                    p.grad.add_(l1 * torch.sign(p))
        opt_t.step()
    return net.flat_params.copy(), torch_flat(layers), net


TORCH_CASES = [
    ("sgd", gn.SGD(lr=0.1), torch.optim.SGD, {"lr": 0.1}),
    (
        "momentum",
        gn.SGD(lr=0.1, momentum=0.9),
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9},
    ),
    (
        "nesterov",
        gn.SGD(lr=0.1, momentum=0.9, nesterov=True),
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    ),
    (
        "sgd_weight_decay",
        gn.SGD(lr=0.1, weight_decay=0.05),
        torch.optim.SGD,
        {"lr": 0.1, "weight_decay": 0.05},
    ),
    (
        "nesterov_weight_decay",
        gn.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
    ),
    ("adam", gn.Adam(lr=0.01), torch.optim.Adam, {"lr": 0.01}),
    (
        "adam_betas_eps",
        gn.Adam(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6),
        torch.optim.Adam,
        {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6},
    ),
    (
        "amsgrad",
        gn.Adam(lr=0.01, amsgrad=True),
        torch.optim.Adam,
        {"lr": 0.01, "amsgrad": True},
    ),
    (
        "adam_weight_decay",
        gn.Adam(lr=0.01, weight_decay=0.1),
        torch.optim.Adam,
        {"lr": 0.01, "weight_decay": 0.1},
    ),
    ("adamw", gn.AdamW(lr=0.01), torch.optim.AdamW, {"lr": 0.01}),
    (
        "adamw_amsgrad_strong_decay",
        gn.AdamW(lr=0.01, weight_decay=0.5, amsgrad=True),
        torch.optim.AdamW,
        {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True},
    ),
    ("rmsprop", gn.RMSprop(), torch.optim.RMSprop, {}),
    (
        "rmsprop_momentum",
        gn.RMSprop(lr=0.005, momentum=0.9),
        torch.optim.RMSprop,
        {"lr": 0.005, "momentum": 0.9},
    ),
    (
        "rmsprop_centered",
        gn.RMSprop(lr=0.005, centered=True),
        torch.optim.RMSprop,
        {"lr": 0.005, "centered": True},
    ),
    (
        "rmsprop_all",
        gn.RMSprop(lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
        torch.optim.RMSprop,
        {
            "lr": 0.005,
            "alpha": 0.9,
            "momentum": 0.5,
            "centered": True,
            "weight_decay": 0.01,
        },
    ),
]


@pytest.mark.parametrize(
    "gn_opt, torch_cls, torch_kwargs",
    [case[1:] for case in TORCH_CASES],
    ids=[case[0] for case in TORCH_CASES],
)
def test_twenty_steps_match_torch_optim(gn_opt, torch_cls, torch_kwargs):
    gn_opt = gn.get_optimizer(**gn_opt.config())  # fresh: the cases are shared
    ours, theirs, _ = run_both(gn_opt, torch_cls, torch_kwargs, steps=20, batches=3)
    start = make_problem()[0].flat_params
    assert np.abs(ours - start).max() > 1e-3  # the weights really moved
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_clip_norm_matches_torch_clip_grad_norm():
    # lr and clip chosen so that the gradient norm exceeds the clip in most steps.
    opt = gn.SGD(lr=0.5, momentum=0.9, clip_norm=0.05)
    ours, theirs, _ = run_both(
        opt, torch.optim.SGD, {"lr": 0.5, "momentum": 0.9}, steps=20, clip=0.05
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_torch_defaults_are_ours():
    """Each default hyperparameter equals torch.optim's (lr excepted for SGD, whose
    default here is 0.01, as in Keras, where torch's is 1e-3)."""
    p = [torch.nn.Parameter(torch.zeros(1))]
    adam = torch.optim.Adam(p).defaults
    assert gn.Adam().config() == {
        "name": "adam",
        "lr": adam["lr"],
        "beta1": adam["betas"][0],
        "beta2": adam["betas"][1],
        "eps": adam["eps"],
        "weight_decay": adam["weight_decay"],
        "amsgrad": adam["amsgrad"],
    }
    assert gn.AdamW().weight_decay == torch.optim.AdamW(p).defaults["weight_decay"]
    rms = torch.optim.RMSprop(p).defaults
    ours = gn.RMSprop().config()
    for key in ("lr", "alpha", "eps", "weight_decay", "momentum", "centered"):
        assert ours[key] == rms[key], key


# -- the update rules written out by hand --------------------------------------------
def grad_of(theta):
    """g(theta) for f(theta) = theta^2 / 2 + sin(3 theta): gradients change with theta."""
    return [t + 3.0 * math.cos(3.0 * t) for t in theta]


THETA0 = [0.5, -1.0, 2.0]


def hand_sgd(T, lr, momentum=0.0, nesterov=False, wd=0.0):
    theta, v = list(THETA0), [0.0] * 3
    for _ in range(T):
        g = grad_of(theta)
        for i in range(3):
            gi = g[i] + wd * theta[i]
            v[i] = momentum * v[i] + gi
            d = gi + momentum * v[i] if nesterov else (v[i] if momentum else gi)
            theta[i] -= lr * d
    return theta


def hand_adam(
    T, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False, amsgrad=False
):
    theta, m, v, vmax = list(THETA0), [0.0] * 3, [0.0] * 3, [0.0] * 3
    for t in range(1, T + 1):
        g = grad_of(theta)
        for i in range(3):
            gi = g[i]
            if decoupled:
                theta[i] *= 1 - lr * wd
            else:
                gi += wd * theta[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            vmax[i] = max(vmax[i], v[i])
            m_hat = m[i] / (1 - b1**t)
            v_hat = (vmax[i] if amsgrad else v[i]) / (1 - b2**t)
            theta[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return theta


def hand_rmsprop(T, lr, alpha=0.99, eps=1e-8, wd=0.0, momentum=0.0, centered=False):
    theta, s, c, b = list(THETA0), [0.0] * 3, [0.0] * 3, [0.0] * 3
    for _ in range(T):
        g = grad_of(theta)
        for i in range(3):
            gi = g[i] + wd * theta[i]
            s[i] = alpha * s[i] + (1 - alpha) * gi * gi
            c[i] = alpha * c[i] + (1 - alpha) * gi
            denom = math.sqrt(s[i] - c[i] ** 2 if centered else s[i]) + eps
            if momentum:
                b[i] = momentum * b[i] + gi / denom
                theta[i] -= lr * b[i]
            else:
                theta[i] -= lr * gi / denom
    return theta


def run_ours(opt, T):
    theta = np.array(THETA0)
    grads = np.empty(3)
    for _ in range(T):
        grads[...] = grad_of(theta.tolist())
        opt.step(theta, grads)
    return theta


HAND_CASES = [
    ("sgd", lambda: gn.SGD(lr=0.1), lambda T: hand_sgd(T, 0.1)),
    ("momentum", lambda: gn.SGD(lr=0.1, momentum=0.9), lambda T: hand_sgd(T, 0.1, 0.9)),
    (
        "nesterov",
        lambda: gn.SGD(lr=0.1, momentum=0.9, nesterov=True),
        lambda T: hand_sgd(T, 0.1, 0.9, nesterov=True),
    ),
    (
        "sgd_wd",
        lambda: gn.SGD(lr=0.1, momentum=0.5, weight_decay=0.1),
        lambda T: hand_sgd(T, 0.1, 0.5, wd=0.1),
    ),
    ("adam", lambda: gn.Adam(lr=0.1), lambda T: hand_adam(T, 0.1)),
    (
        "adam_wd",
        lambda: gn.Adam(lr=0.1, weight_decay=0.2),
        lambda T: hand_adam(T, 0.1, wd=0.2),
    ),
    (
        "amsgrad",
        lambda: gn.Adam(lr=0.1, amsgrad=True),
        lambda T: hand_adam(T, 0.1, amsgrad=True),
    ),
    (
        "adamw",
        lambda: gn.AdamW(lr=0.1, weight_decay=0.2),
        lambda T: hand_adam(T, 0.1, wd=0.2, decoupled=True),
    ),
    ("rmsprop", lambda: gn.RMSprop(lr=0.01), lambda T: hand_rmsprop(T, 0.01)),
    (
        "rmsprop_centered_momentum",
        lambda: gn.RMSprop(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1),
        lambda T: hand_rmsprop(T, 0.01, centered=True, momentum=0.9, wd=0.1),
    ),
]


@pytest.mark.parametrize("T", [1, 2, 10])
@pytest.mark.parametrize(
    "make, hand", [c[1:] for c in HAND_CASES], ids=[c[0] for c in HAND_CASES]
)
def test_update_rule_by_hand(make, hand, T):
    np.testing.assert_allclose(run_ours(make(), T), hand(T), rtol=0, atol=1e-12)


@pytest.mark.parametrize("T", [1, 2, 10])
def test_adam_bias_correction_makes_early_steps_full_size(T):
    """With a constant gradient g, m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so the
    corrected step is lr g / (|g| + eps) at every t; uncorrected, the first step would
    be lr (1 - b1) / sqrt(1 - b2) = 3.16 lr."""
    lr, g = 0.01, 0.3
    opt = gn.Adam(lr=lr)
    theta = np.array([1.0])
    for _ in range(T):
        opt.step(theta, np.array([g]))
    assert opt.t == T
    np.testing.assert_allclose(opt.state["m"], [(1 - 0.9**T) * g], rtol=1e-14)
    np.testing.assert_allclose(opt.state["v"], [(1 - 0.999**T) * g * g], rtol=1e-12)
    np.testing.assert_allclose(
        theta, [1.0 - T * lr * g / (g + 1e-8)], rtol=0, atol=1e-13
    )


def test_rmsprop_has_no_bias_correction():
    """First step: s = (1 - alpha) g^2, so the step is lr g / sqrt(0.01 g^2) = 10 lr."""
    theta = np.array([0.0])
    gn.RMSprop(lr=0.001, eps=0.0).step(theta, np.array([5.0]))
    np.testing.assert_allclose(theta, [-0.01], rtol=1e-12)


# -- state, config, in place ----------------------------------------------------------
@pytest.mark.parametrize("case", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_state_dict_round_trip_continues_exactly(case):
    make = lambda: gn.get_optimizer(**case[1].config())  # noqa: E731
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=7) for _ in range(8)]
    straight, theta = make(), np.linspace(-1, 1, 7)
    for g in grads:
        straight.step(theta, g.copy())
    first, theta2 = make(), np.linspace(-1, 1, 7)
    for g in grads[:3]:
        first.step(theta2, g.copy())
    state = first.state_dict()
    assert all(
        isinstance(v, (np.ndarray, int, float, bool, str)) for v in state.values()
    )
    second = gn.get_optimizer(**first.config())
    second.load_state_dict(state)
    for g in grads[3:]:
        second.step(theta2, g.copy())
    assert second.t == straight.t == 8
    np.testing.assert_array_equal(theta2, theta)  # bitwise


def test_state_dict_is_a_copy_and_names_the_moments():
    opt = gn.Adam(amsgrad=True)
    theta = np.zeros(3)
    opt.step(theta, np.ones(3))
    state = opt.state_dict()
    assert sorted(state) == ["initial_lr", "lr", "m", "t", "v", "v_max"]
    state["m"][:] = 99
    assert opt.state["m"][0] != 99


def test_step_updates_in_place_without_rebinding_state():
    net = gn.Sequential(gn.Dense(3, 2), dtype="float32", seed=0)
    W_view = net.layers[0].W
    opt = gn.Adam(lr=0.1)
    net.flat_grads[...] = 1.0
    opt.step(net.flat_params, net.flat_grads)
    m = opt.state["m"]
    opt.step(net.flat_params, net.flat_grads)
    assert opt.state["m"] is m and m.dtype == np.float32
    assert np.shares_memory(W_view, net.flat_params)
    np.testing.assert_allclose(W_view, net.flat_params[:6].reshape(2, 3))


def test_lr_is_settable_and_used():
    opt = gn.SGD(lr=0.1)
    theta = np.array([1.0])
    opt.lr = 0.5
    opt.step(theta, np.array([1.0]))
    assert theta[0] == 0.5
    assert opt.initial_lr == 0.1


def test_clip_by_global_norm_scales_the_whole_vector():
    g = np.array([3.0, 4.0])
    norm = clip_by_global_norm(g, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(g, [3.0 / (5 + 1e-6), 4.0 / (5 + 1e-6)])
    small = np.array([0.3, 0.4])
    clip_by_global_norm(small, 1.0)
    np.testing.assert_array_equal(small, [0.3, 0.4])  # under the limit: untouched


def test_get_optimizer_names_and_objects():
    assert isinstance(gn.get_optimizer("SGD", lr=0.1, momentum=0.9), gn.SGD)
    opt = gn.RMSprop()
    assert gn.get_optimizer(opt) is opt
    rebuilt = gn.get_optimizer(**gn.AdamW(lr=0.003, amsgrad=True).config())
    assert rebuilt.config() == gn.AdamW(lr=0.003, amsgrad=True).config()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: gn.get_optimizer("adagrad"),
            ValueError,
            "unknown optimizer 'adagrad'; expected one of",
        ),
        (lambda: gn.get_optimizer(3), TypeError, "optimizer must be a name"),
        (
            lambda: gn.get_optimizer(gn.SGD(), lr=1),
            TypeError,
            r"hyperparameters \['lr'\] were given",
        ),
        (lambda: gn.get_optimizer("sgd", betas=1), TypeError, "SGD: .*betas"),
        (lambda: gn.SGD(lr=0), ValueError, r"lr must be in \(0, inf\], got 0"),
        (lambda: gn.SGD(lr=-1), ValueError, r"lr must be in \(0, inf\], got -1"),
        (lambda: gn.SGD(nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
        (
            lambda: gn.SGD(momentum=1.5),
            ValueError,
            r"momentum must be in \[0, 1\], got 1.5",
        ),
        (lambda: gn.Adam(beta1=1.0), ValueError, r"beta1 must be in \[0, 1\), got 1"),
        (lambda: gn.Adam(clip_norm=0), ValueError, r"clip_norm must be in \(0, inf\]"),
        (lambda: gn.RMSprop(alpha=-0.1), ValueError, r"alpha must be in \[0, 1\)"),
        (lambda: gn.Adam(lr="fast"), TypeError, "lr must be a number, got 'fast'"),
    ],
)
def test_bad_arguments_have_clear_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_state_for_another_network_is_refused():
    opt = gn.Adam()
    opt.step(np.zeros(4), np.ones(4))
    other = gn.Adam()
    other.load_state_dict(opt.state_dict())
    with pytest.raises(
        ValueError,
        match=r"state 'm' has shape \(4,\) but the parameters have shape \(5,\)",
    ):
        other.step(np.zeros(5), np.ones(5))


def test_load_state_dict_checks_keys():
    with pytest.raises(
        ValueError, match=r"missing \['initial_lr', 'lr'\], unknown \['velocity'\]"
    ):
        gn.Adam().load_state_dict({"t": 1, "velocity": np.zeros(2)})
    with pytest.raises(ValueError, match="state 't' must be a non-negative integer"):
        gn.Adam().load_state_dict({"t": -1, "lr": 0.1, "initial_lr": 0.1})


def test_step_needs_flat_arrays():
    with pytest.raises(
        ValueError, match=r"flat 1-D arrays .* got params of shape \(2, 2\)"
    ):
        gn.SGD().step(np.zeros((2, 2)), np.zeros((2, 2)))


# -- L1 ----------------------------------------------------------------------------
L1_CASES = [
    ("sgd", gn.SGD, {"lr": 0.1}, torch.optim.SGD, {"lr": 0.1}),
    (
        "sgd_momentum_l2",
        gn.SGD,
        {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01},
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01},
    ),
    (
        "adam_l2",
        gn.Adam,
        {"lr": 0.01, "weight_decay": 0.01},
        torch.optim.Adam,
        {"lr": 0.01, "weight_decay": 0.01},
    ),
    (
        "adamw",
        gn.AdamW,
        {"lr": 0.01, "weight_decay": 0.1},
        torch.optim.AdamW,
        {"lr": 0.01, "weight_decay": 0.1},
    ),
    (
        "rmsprop_centered",
        gn.RMSprop,
        {"centered": True, "momentum": 0.5},
        torch.optim.RMSprop,
        {"centered": True, "momentum": 0.5},
    ),
]


@pytest.mark.parametrize(
    "cls, kwargs, torch_cls, torch_kwargs",
    [case[1:] for case in L1_CASES],
    ids=[case[0] for case in L1_CASES],
)
def test_l1_matches_torch_with_the_sign_added_to_the_gradient(
    cls, kwargs, torch_cls, torch_kwargs
):
    ours, theirs, _ = run_both(
        cls(**kwargs, l1=0.02), torch_cls, torch_kwargs, steps=20, batches=3, l1=0.02
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    plain, _, _ = run_both(cls(**kwargs), torch_cls, torch_kwargs, steps=20, batches=3)
    assert np.abs(ours - plain).max() > 1e-3  # the penalty changed the trajectory


def test_l1_with_clipping_matches_torch():
    opt = gn.SGD(lr=0.5, momentum=0.9, clip_norm=0.05, l1=0.01)
    ours, theirs, _ = run_both(
        opt, torch.optim.SGD, {"lr": 0.5, "momentum": 0.9}, clip=0.05, l1=0.01
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_l1_step_by_hand_and_the_gradient_left_alone():
    theta = np.array([1.0, -2.0, 0.0])
    g = np.array([0.5, 0.5, 0.5])
    gn.SGD(lr=0.1, l1=0.2).step(theta, g)
    # theta - lr (g + l1 sign(theta)), sign(0) = 0
    expected = [1.0 - 0.1 * (0.5 + 0.2), -2.0 - 0.1 * (0.5 - 0.2), 0.0 - 0.1 * 0.5]
    np.testing.assert_allclose(theta, expected, rtol=1e-15)
    np.testing.assert_array_equal(g, [0.5, 0.5, 0.5])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_l1_equals_the_plain_rule_on_the_penalised_gradient(dtype):
    """l1 > 0 runs the numpy rule on g + l1 sign(theta): bitwise the result of an
    optimizer without l1 given that gradient (which may take the compiled loop)."""
    rng = np.random.default_rng(0)
    theta = rng.normal(size=50).astype(dtype)
    plain_theta = theta.copy()
    with_l1, plain = gn.Adam(0.01, l1=0.05), gn.Adam(0.01)
    for _ in range(5):
        g = rng.normal(size=50).astype(dtype)
        penalised = g + 0.05 * np.sign(plain_theta)
        with_l1.step(theta, g)
        plain.step(plain_theta, penalised)
        assert theta.tobytes() == plain_theta.tobytes()


def test_l1_config_round_trip_and_validation():
    opt = gn.RMSprop(0.01, l1=0.003)
    assert opt.config()["l1"] == 0.003
    assert gn.get_optimizer(**opt.config()).l1 == 0.003
    assert "l1" not in gn.SGD(0.1).config()
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="l1"):
            gn.SGD(0.1, l1=bad)
    with pytest.raises(TypeError, match="l1"):
        gn.Adam(0.1, l1="0.1")


def test_l1_is_kept_in_a_checkpoint(tmp_path):
    net = gn.Sequential(gn.Dense(2, 3, "tanh"), gn.Dense(3, 1, "sigmoid"), seed=0)
    opt = gn.Adam(0.01, l1=0.02)
    opt.step(net.flat_params, np.ones_like(net.flat_params))
    path = gn.save_checkpoint(tmp_path / "run.gnck", net, opt, None, None, 1, 1)
    loaded = gn.load_checkpoint(path).optimizer
    assert loaded.l1 == 0.02 and loaded.t == 1
    theta, g = np.array([0.5, -0.5, 0.0]), np.zeros(3)
    gn.SGD(1.0, l1=loaded.l1).step(theta, g)
    np.testing.assert_array_equal(theta, [0.48, -0.48, 0.0])


# -- keeping theta before the update (the fit loop's divergence guard) ---------------
KEEPING_CASES = [
    ("sgd", lambda: gn.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", lambda: gn.Adam(lr=0.1, amsgrad=True, weight_decay=0.01)),
    ("adamw", lambda: gn.AdamW(lr=0.1, weight_decay=0.1)),
    ("rmsprop", lambda: gn.RMSprop(lr=0.1, centered=True, momentum=0.5)),
    ("l1", lambda: gn.Adam(lr=0.1, l1=0.01)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", KEEPING_CASES, ids=[c[0] for c in KEEPING_CASES])
def test_keep_previous_keeps_theta_and_changes_no_update(case, dtype):
    rng = np.random.default_rng(zlib_seed(case[0]))
    theta0 = rng.normal(size=50).astype(dtype)
    plain, keeping = case[1](), case[1]()
    a, b = theta0.copy(), theta0.copy()
    previous = np.full_like(theta0, np.nan)
    keeping.keep_previous(previous)
    for _ in range(3):
        g = rng.normal(size=50).astype(dtype)
        before = b.copy()
        plain.step(a, g.copy())
        keeping.step(b, g.copy())
        np.testing.assert_array_equal(a, b)  # bitwise the same update
        np.testing.assert_array_equal(previous, before)
        assert keeping.update_finite in (True, None)  # None: numpy's code ran
    keeping.keep_previous(None)
    previous[...] = 0.0
    keeping.step(b, g.copy())
    assert not previous.any()  # no longer written


@pytest.mark.parametrize(
    "case", KEEPING_CASES[:4], ids=[c[0] for c in KEEPING_CASES[:4]]
)
def test_a_compiled_update_says_whether_theta_stayed_finite(case):
    from glassnet import kernels

    opt = case[1]()
    theta = np.ones(40)
    opt.step(theta, np.full(40, 0.5))
    if kernels.get() is None:
        assert opt.update_finite is None  # the numpy code: the fit loop checks
        return
    assert opt.update_finite is True
    g = np.full(40, 0.5)
    g[7] = np.inf  # its moments and theta[7] become inf or NaN
    with np.errstate(invalid="ignore", over="ignore"):
        opt.step(theta, g)
    assert not np.isfinite(theta[7]) and opt.update_finite is False


def test_keep_previous_refuses_an_array_of_another_shape():
    opt = gn.SGD(lr=0.1)
    opt.keep_previous(np.zeros(3))
    with pytest.raises(ValueError, match=r"keeps theta in an array of shape \(3,\)"):
        opt.step(np.zeros(4), np.zeros(4))


def zlib_seed(name: str) -> int:
    import zlib

    return zlib.crc32(name.encode())
