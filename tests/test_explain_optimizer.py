"""Optimizer steps in ``explain`` (``explaining/optimizer_steps.py``).

After k full-batch steps the trace's weights and optimizer state are ``fit``'s, bit
for bit (float64 and float32), and torch.optim's within 1e-12 in float64. On the seed
003 network each optimizer's three steps are checked against the update rules written
again here in plain numpy, with the gradients of the 2-2-1 network derived by hand.
The 3-step Adam trace is kept as a snapshot (text and Markdown); its numbers are the
ones ``test_adam_by_hand`` checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from test_explain_render import check_snapshot

OPTIMIZERS = {
    "sgd": lambda: gn.SGD(0.1),
    "sgd_momentum": lambda: gn.SGD(0.1, momentum=0.9, weight_decay=0.01),
    "sgd_nesterov": lambda: gn.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: gn.Adam(0.05, weight_decay=0.01),
    "adamw": lambda: gn.AdamW(0.05, weight_decay=0.1),
    "rmsprop": lambda: gn.RMSprop(0.01),
    "rmsprop_momentum": lambda: gn.RMSprop(0.01, momentum=0.5, weight_decay=0.01),
    "sgd_clip": lambda: gn.SGD(0.1, momentum=0.9, clip_norm=0.3),
    "sgd_l1": lambda: gn.SGD(0.1, momentum=0.9, weight_decay=0.01, l1=0.02),
    "adam_l1": lambda: gn.Adam(0.05, weight_decay=0.01, l1=0.01),
    "adamw_l1": lambda: gn.AdamW(0.05, weight_decay=0.1, l1=0.01),
    "rmsprop_l1_clip": lambda: gn.RMSprop(0.01, l1=0.01, clip_norm=0.3),
    "adam_amsgrad": lambda: gn.Adam(0.05, beta2=0.6, amsgrad=True, clip_norm=0.5),
    "adamw_amsgrad": lambda: gn.AdamW(0.05, weight_decay=0.1, amsgrad=True),
    "rmsprop_centered": lambda: gn.RMSprop(
        0.01, centered=True, momentum=0.5, weight_decay=0.01
    ),
    "rmsprop_centered_clip": lambda: gn.RMSprop(0.01, centered=True, clip_norm=0.2),
}


def problem(dtype):
    """A 3-4-3 tanh/softmax network, 5 samples: every entry of every gradient moves."""
    net = gn.Sequential(
        gn.Dense(3, 4, "tanh"), gn.Dense(4, 3, "softmax"), dtype=dtype, seed=7
    )
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 3)).astype(dtype)
    y = np.array([0, 2, 1, 2, 0])
    return net, X, y


# -- against fit --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_steps_equal_fit_bitwise(name, dtype):
    k = 4
    net, X, y = problem(dtype)
    trace = gn.explain(
        net, X, y, loss="cross_entropy", optimizer=OPTIMIZERS[name](), steps=k
    )
    fitted, opt = net.copy(), OPTIMIZERS[name]()
    fitted.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=k,
        batch_size=None,
        shuffle=False,
        verbose=0,
    )
    assert trace.optimizer["params"].tobytes() == fitted.flat_params.tobytes()
    for j, layer in enumerate(fitted.layers, 1):
        for p in ("W", "b"):
            assert trace[f"t{k}.{j}.{p}"].tobytes() == layer.params[p].tobytes()
    state, expected = trace.optimizer["state"], opt.state_dict()
    assert set(state) == set(expected) and state["t"] == k
    for key, value in expected.items():
        assert np.array_equal(state[key], value), key
        if isinstance(value, np.ndarray):
            assert state[key].tobytes() == value.tobytes(), key
    # the state buffers shown per tensor are slices of the optimizer's own
    buffers = [b for b in expected if isinstance(expected[b], np.ndarray)]
    for b in buffers:
        shown = np.concatenate(
            [trace[f"t{k}.{j}.{b}_{p}"].ravel() for j in (1, 2) for p in ("W", "b")]
        )
        assert shown.tobytes() == expected[b].tobytes(), b
    # losses: before step 1 is fit's first epoch loss; net itself is untouched
    history = net.copy().fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=OPTIMIZERS[name](),
        epochs=k,
        batch_size=None,
        shuffle=False,
        verbose=0,
    )
    assert trace.optimizer["losses"][:k] == pytest.approx(
        history.history["loss"], rel=1e-6
    )
    assert np.array_equal(net.layers[0].W, problem(dtype)[0].layers[0].W)


# -- against torch.optim -------------------------------------------------------------------
def torch_trajectory(net, X, y, name, k):
    torch = pytest.importorskip("torch")
    params = [
        torch.tensor(layer.params[p], dtype=torch.float64, requires_grad=True)
        for layer in net.layers
        for p in ("W", "b")
    ]
    hyper = OPTIMIZERS[name]().config()
    lr, wd = hyper["lr"], hyper.get("weight_decay", 0.0)
    if hyper["name"] == "sgd":
        opt = torch.optim.SGD(
            params,
            lr=lr,
            momentum=hyper["momentum"],
            nesterov=hyper["nesterov"],
            weight_decay=wd,
        )
    elif hyper["name"] in ("adam", "adamw"):
        cls = torch.optim.Adam if hyper["name"] == "adam" else torch.optim.AdamW
        opt = cls(
            params,
            lr=lr,
            betas=(hyper["beta1"], hyper["beta2"]),
            eps=hyper["eps"],
            weight_decay=wd,
            amsgrad=hyper["amsgrad"],
        )
    else:
        opt = torch.optim.RMSprop(
            params,
            lr=lr,
            alpha=hyper["alpha"],
            eps=hyper["eps"],
            momentum=hyper["momentum"],
            weight_decay=wd,
            centered=hyper["centered"],
        )
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(k):
        opt.zero_grad()
        W1, b1, W2, b2 = params
        logits = torch.tanh(Xt @ W1.T + b1) @ W2.T + b2
        torch.nn.functional.cross_entropy(logits, yt).backward()
        if "clip_norm" in hyper:
            torch.nn.utils.clip_grad_norm_(params, hyper["clip_norm"])
        if "l1" in hyper:  # torch.optim has no L1 option: its subgradient by hand
            with torch.no_grad():
                for p in params:
                    p.grad.add_(hyper["l1"] * torch.sign(p))
        opt.step()
    return np.concatenate([p.detach().numpy().ravel() for p in params])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_steps_equal_torch_optim(name):
    k = 5
    net, X, y = problem("float64")
    trace = gn.explain(net, X, y, optimizer=OPTIMIZERS[name](), steps=k)
    expected = torch_trajectory(net, X, y, name, k)
    np.testing.assert_allclose(trace.optimizer["params"], expected, rtol=0, atol=1e-12)


# -- against the rules written by hand, on the seed 003 network -----------------------------
def seed_gradients(W1, b1, W2, b2):
    """Loss and gradients of the 2-2-1 ReLU/sigmoid network on x = [1, 2], y = 1,
    binary cross-entropy, derived by hand."""
    x, y = np.array([1.0, 2.0]), 1.0
    z1 = W1 @ x + b1
    a1 = np.maximum(z1, 0)
    z2 = W2 @ a1 + b2
    a2 = 1 / (1 + np.exp(-z2))
    L = float(-(y * np.log(a2) + (1 - y) * np.log(1 - a2))[0])
    dz2 = a2 - y  # sigmoid with cross-entropy
    dz1 = (W2.T @ dz2) * (z1 > 0)
    return L, {
        "1.W": np.outer(dz1, x),
        "1.b": dz1,
        "2.W": np.outer(dz2, a1),
        "2.b": dz2,
    }


def seed_start():
    ex = gn.worked_example
    return {
        "1.W": np.array(ex.W1),
        "1.b": np.array(ex.b1),
        "2.W": np.array(ex.W2),
        "2.b": np.array(ex.b2),
    }


def hand_steps(update, k=3, clip_norm=None):
    """k steps of ``update(t, key, theta, g, state) -> theta``; yields per step
    (t, theta dict, state dict, loss before the step, gradients). With ``clip_norm``
    the update sees the gradients scaled to that global norm (kept in state)."""
    theta, state = seed_start(), {}
    for t in range(1, k + 1):
        L, grads = seed_gradients(
            theta["1.W"], theta["1.b"], theta["2.W"], theta["2.b"]
        )
        used = grads
        if clip_norm is not None:
            norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
            r = min(1.0, clip_norm / (norm + 1e-6))
            used = {key: r * g for key, g in grads.items()}
            state["norm"], state["r"] = norm, r
            for key, g in used.items():
                state["clipped", key] = g
        theta = {key: update(t, key, theta[key], used[key], state) for key in theta}
        yield t, theta, dict(state), L, grads


def check_against_hand(opt, update, buffers):
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, optimizer=opt, steps=3)
    losses = []
    for t, theta, state, L, grads in hand_steps(update, clip_norm=opt.clip_norm):
        losses.append(L)
        for key in theta:
            layer, p = key.split(".")
            np.testing.assert_allclose(
                trace[f"t{t}.{layer}.{p}"], theta[key], rtol=1e-12, atol=1e-15
            )
            g_key = f"{layer}.dL/d{p}" if t == 1 else f"t{t}.{layer}.dL/d{p}"
            np.testing.assert_allclose(trace[g_key], grads[key], rtol=1e-12)
            for b in buffers:
                np.testing.assert_allclose(
                    trace[f"t{t}.{layer}.{b}_{p}"],
                    state[b, key],
                    rtol=1e-12,
                    atol=1e-18,
                )
    theta_3 = [theta[key] for key in ("1.W", "1.b", "2.W", "2.b")]
    losses.append(seed_gradients(*theta_3)[0])
    np.testing.assert_allclose(trace.optimizer["losses"], losses, rtol=1e-12)
    assert trace.optimizer["losses"][0] == pytest.approx(0.0631807, abs=1e-7)
    return trace


def test_sgd_by_hand():
    def update(t, key, theta, g, state):
        return theta - 0.5 * g

    trace = check_against_hand(gn.SGD(0.5), update, ())
    # step 1 by eye: b2 = 0.2 - 0.5 (-0.0612262)
    assert trace["t1.2.b"][0] == pytest.approx(0.2306131, abs=1e-7)


def test_l1_with_momentum_by_hand():
    def update(t, key, theta, g, state):
        g_l1 = g + 0.03 * np.sign(theta)
        state["g_l1", key] = g_l1
        v = 0.9 * state.get(("velocity", key), 0) + g_l1
        state["velocity", key] = v
        return theta - 0.5 * v

    opt = gn.SGD(0.5, momentum=0.9, l1=0.03)
    trace = check_against_hand(opt, update, ("g_l1", "velocity"))
    # step 1 by eye: b2 = 0.2 - 0.5 (-0.0612262 + 0.03 sign(0.2))
    assert trace["t1.2.b"][0] == pytest.approx(0.2 + 0.5 * (0.0612262 - 0.03), abs=1e-7)
    text = trace.to_text()
    assert "gradient with the L1 penalty" in text and "sign" in text


def test_momentum_by_hand_and_its_textbook_form():
    def update(t, key, theta, g, state):
        v = 0.9 * state.get(("velocity", key), 0) + g
        state["velocity", key] = v
        state["u", key] = 0.9 * state.get(("u", key), 0) + 0.5 * g  # textbook u
        return theta - 0.5 * v

    trace = check_against_hand(gn.SGD(0.5, momentum=0.9), update, ("velocity", "u"))
    for t in (1, 2, 3):  # u = lr v, and theta - u the same step
        np.testing.assert_allclose(
            trace[f"t{t}.2.u_W"], 0.5 * trace[f"t{t}.2.velocity_W"], rtol=1e-14
        )
    assert "textbook form of momentum" in trace.to_text()


def test_nesterov_by_hand():
    def update(t, key, theta, g, state):
        v = 0.9 * state.get(("velocity", key), 0) + g
        state["velocity", key] = v
        return theta - 0.5 * (g + 0.9 * v)

    check_against_hand(gn.SGD(0.5, momentum=0.9, nesterov=True), update, ("velocity",))


def adam_update(lr, b1, b2, eps, wd=0.0, decoupled=False):
    def update(t, key, theta, g, state):
        if decoupled:
            theta = theta * (1 - lr * wd)
        elif wd:
            g = g + wd * theta
        m = b1 * state.get(("m", key), 0) + (1 - b1) * g
        v = b2 * state.get(("v", key), 0) + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        state["m", key], state["v", key] = m, v
        state["m_hat", key], state["v_hat", key] = m_hat, v_hat
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps)

    return update


def test_adam_by_hand():
    trace = check_against_hand(
        gn.Adam(0.1), adam_update(0.1, 0.9, 0.999, 1e-8), ("m", "v", "m_hat", "v_hat")
    )
    # step 1: m_hat = g and v_hat = g^2, so every entry moves by lr (sign of -g)
    np.testing.assert_allclose(trace["t1.1.W"] - trace["1.W"], 0.1, rtol=1e-6)


def test_adam_l2_and_adamw_by_hand():
    check_against_hand(
        gn.Adam(0.1, weight_decay=0.2),
        adam_update(0.1, 0.9, 0.999, 1e-8, wd=0.2),
        ("m", "v"),
    )
    trace = check_against_hand(
        gn.AdamW(0.1, beta1=0.8, beta2=0.99, weight_decay=0.2),
        adam_update(0.1, 0.8, 0.99, 1e-8, wd=0.2, decoupled=True),
        ("m", "v"),
    )
    np.testing.assert_allclose(trace["t1.2.decayed_W"], np.array([[0.7, 0.9]]) * 0.98)


def test_rmsprop_by_hand():
    def update(t, key, theta, g, state):
        s = 0.9 * state.get(("square_avg", key), 0) + 0.1 * g * g
        b = 0.5 * state.get(("momentum_buffer", key), 0) + g / (np.sqrt(s) + 1e-8)
        state["square_avg", key], state["momentum_buffer", key] = s, b
        return theta - 0.01 * b

    check_against_hand(
        gn.RMSprop(0.01, alpha=0.9, momentum=0.5),
        update,
        ("square_avg", "momentum_buffer"),
    )


def test_amsgrad_by_hand():
    # beta2 = 0.6 lets v fall as the gradients shrink, so the maximum matters
    def update(t, key, theta, g, state):
        m = 0.9 * state.get(("m", key), 0) + 0.1 * g
        v = 0.6 * state.get(("v", key), 0) + 0.4 * g * g
        v_max = np.maximum(state.get(("v_max", key), 0), v)
        state["m", key], state["v", key], state["v_max", key] = m, v, v_max
        m_hat, v_hat = m / (1 - 0.9**t), v_max / (1 - 0.6**t)
        state["m_hat", key], state["v_hat", key] = m_hat, v_hat
        return theta - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)

    opt = gn.Adam(0.1, beta2=0.6, amsgrad=True)
    trace = check_against_hand(opt, update, ("m", "v", "v_max", "v_hat"))
    assert np.any(trace["t3.2.v_max_W"] > trace["t3.2.v_W"])  # the max took over
    net, X, y = gn.worked_example.seed003_example()
    plain = gn.explain(net, X, y, optimizer=gn.Adam(0.1, beta2=0.6), steps=3)
    assert not np.array_equal(plain["t3.1.W"], trace["t3.1.W"])
    assert "vW2,max⁽³⁾ = max(vW2,max⁽²⁾, vW2⁽³⁾)" in trace.to_text()


def test_centered_rmsprop_by_hand():
    def update(t, key, theta, g, state):
        s = 0.9 * state.get(("square_avg", key), 0) + 0.1 * g * g
        avg = 0.9 * state.get(("grad_avg", key), 0) + 0.1 * g
        centered = s - avg * avg
        b = 0.5 * state.get(("momentum_buffer", key), 0) + g / (
            np.sqrt(centered) + 1e-8
        )
        state["square_avg", key], state["grad_avg", key] = s, avg
        state["centered", key], state["momentum_buffer", key] = centered, b
        return theta - 0.01 * b

    trace = check_against_hand(
        gn.RMSprop(0.01, alpha=0.9, momentum=0.5, centered=True),
        update,
        ("square_avg", "grad_avg", "centered", "momentum_buffer"),
    )
    # one sample at step 1: s - avg^2 = alpha (1 - alpha) g^2, by hand
    np.testing.assert_allclose(
        trace["t1.2.centered_b"], 0.9 * 0.1 * trace["2.dL/db"] ** 2, rtol=1e-12
    )
    assert "gW1,avg⁽²⁾ = α gW1,avg⁽¹⁾ + (1 − α) ∂L/∂W1" in trace.to_text()


@pytest.mark.parametrize("clip_norm", [0.1, 10.0])
def test_clip_norm_by_hand(clip_norm):
    def update(t, key, theta, g, state):
        v = 0.9 * state.get(("velocity", key), 0) + g
        state["velocity", key] = v
        return theta - 0.5 * v

    opt = gn.SGD(0.5, momentum=0.9, clip_norm=clip_norm)
    trace = check_against_hand(opt, update, ("velocity",))
    for t, _, state, _, grads in hand_steps(update, clip_norm=clip_norm):
        assert trace[f"t{t}.grad_norm"] == pytest.approx(state["norm"], rel=1e-12)
        for key, g in grads.items():  # the terms under the root, tensor by tensor
            layer, p = key.split(".")
            assert trace[f"t{t}.{layer}.sq_norm_{p}"] == pytest.approx(
                float(np.sum(g * g)), rel=1e-12
            )
        assert trace[f"t{t}.clip_scale"] == pytest.approx(state["r"], rel=1e-12)
        for key in ("1.W", "1.b", "2.W", "2.b"):
            layer, p = key.split(".")
            np.testing.assert_allclose(
                trace[f"t{t}.{layer}.clipped_{p}"], state["clipped", key], rtol=1e-12
            )
    # step 1's norm from the seed network's gradients: W1, b1, W2, b2 written out
    g = [-0.0428583, -0.0857166, -0.0551035, -0.110207]
    g += [-0.0428583, -0.0551035, -0.079594, -0.110207, -0.0612262]
    expected = np.sqrt(np.sum(np.square(g)))
    assert float(trace["t1.grad_norm"]) == pytest.approx(expected, rel=1e-5)
    text = " ".join(trace.to_text().split())
    if clip_norm < expected:
        assert "‖g‖ is above c" in text and float(trace["t1.clip_scale"]) < 1
    else:
        assert "r = 1, the gradient is used as it is" in text
        assert float(trace["t1.clip_scale"]) == 1.0


def test_clipping_acts_in_the_fit_and_torch_cases():
    # the clip_norm cases above compare against fit and torch with clipping at work
    for name in ("sgd_clip", "adam_amsgrad", "rmsprop_centered_clip"):
        net, X, y = problem("float64")
        trace = gn.explain(net, X, y, optimizer=OPTIMIZERS[name](), steps=4)
        assert float(trace["t1.clip_scale"]) < 1, name


def test_dropout_is_refused_with_the_reason():
    net = gn.Sequential(
        gn.Dense(2, 3, "relu"), gn.Dropout(0.5), gn.Dense(3, 1, "sigmoid"), seed=1
    )
    with pytest.raises(ValueError, match="random mask at every step.*remove the Drop"):
        gn.explain(net, [[1.0, 2.0]], [1.0], optimizer=gn.SGD(0.1))


# -- snapshots and renderings --------------------------------------------------------------
def adam_trace():
    net, X, y = gn.worked_example.seed003_example()
    return gn.explain(net, X, y, optimizer=gn.Adam(0.1), steps=3)


def test_snapshot_of_three_adam_steps_text():
    check_snapshot("seed003_adam3.txt", adam_trace().to_text())


def test_snapshot_of_three_adam_steps_markdown():
    check_snapshot("seed003_adam3.md", adam_trace().to_markdown())


def test_adam_trace_shows_equations_numbers_and_the_rearranged_form():
    text = adam_trace().to_text()
    assert "mW1⁽³⁾ = β1 mW1⁽²⁾ + (1 − β1) ∂L/∂W1" in text
    assert "rearranged form θ − s m / (√v + ε c)" in text
    assert "Losses before step 1 and after each step: 0.0631807" in text
    html, data = adam_trace().to_html(), adam_trace().to_json()
    assert "<math" in html and "Optimizer steps" in html
    assert '"t3.2.m_hat_W"' in data


def test_plain_lr_step_is_unchanged():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, lr=0.1)
    assert trace.optimizer is None and "2.W_new" in trace.quantities


def test_the_callers_optimizer_and_net_are_left_alone():
    net, X, y = gn.worked_example.seed003_example()
    opt = gn.Adam(0.1)
    gn.explain(net, X, y, optimizer=opt, steps=2)
    assert opt.t == 0 and opt.state == {}
    assert np.array_equal(net.layers[1].W, [[0.7, 0.9]])


def test_optimizer_by_name_with_lr():
    net, X, y = gn.worked_example.seed003_example()
    by_name = gn.explain(net, X, y, optimizer="rmsprop", lr=0.01, steps=2)
    by_object = gn.explain(net, X, y, optimizer=gn.RMSprop(0.01), steps=2)
    assert (
        by_name.optimizer["params"].tobytes() == by_object.optimizer["params"].tobytes()
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(optimizer=gn.Adam(0.1), lr=0.1), "set the learning rate"),
        (dict(steps=2), "needs an optimizer"),
        (dict(optimizer="adam", steps=0), "steps"),
        (dict(optimizer="adam", steps=1.5), "whole number"),
        (dict(optimizer="adam", attack="fgsm", eps=0.1), "not both"),
    ],
)
def test_bad_optimizer_arguments_are_refused(kwargs, message):
    net, X, y = gn.worked_example.seed003_example()
    with pytest.raises(ValueError, match=message):
        gn.explain(net, X, y, **kwargs)


def test_optimizer_without_target_is_refused():
    net, X, _ = gn.worked_example.seed003_example()
    with pytest.raises(ValueError, match="needs a target"):
        gn.explain(net, X, optimizer=gn.SGD(0.1))


# -- the command line ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, shown",
    [
        (["--optimizer", "adam", "--lr", "0.1", "--steps", "3"], "0.00224719"),
        (
            [
                "--optimizer",
                "sgd",
                "--lr",
                "0.5",
                "--momentum",
                "0.9",
                "--nesterov",
                "--steps",
                "2",
            ],
            "Nesterov",
        ),
        (
            [
                "--optimizer",
                "rmsprop",
                "--lr",
                "0.01",
                "--alpha",
                "0.9",
                "--eps",
                "1e-6",
            ],
            "alpha = 0.9, eps = 1e−06",
        ),
        (
            [
                "--optimizer",
                "adamw",
                "--lr",
                "0.1",
                "--beta1",
                "0.8",
                "--beta2",
                "0.99",
                "--weight-decay",
                "0.2",
                "--steps",
                "2",
            ],
            "decoupled weight decay",
        ),
        (["--optimizer", "adam", "--amsgrad", "--steps", "2"], "amsgrad = true"),
        (["--optimizer", "rmsprop", "--centered"], "centered mean square"),
        (["--optimizer", "sgd", "--clip-norm", "0.1"], "the clipping factor"),
    ],
)
def test_cli_optimizer_options(argv, shown, capsys):
    assert main(["explain", *argv]) == 0
    out = " ".join(capsys.readouterr().out.split())  # notes are wrapped
    assert "OPTIMIZER STEPS" in out and shown in out


def test_cli_clip_amsgrad_numbers_equal_the_library(capsys):
    argv = ["explain", "--optimizer", "adam", "--lr", "0.1", "--beta2", "0.6"]
    argv += ["--amsgrad", "--clip-norm", "0.1", "--steps", "3", "--format", "json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)["optimizer"]
    net, X, y = gn.worked_example.seed003_example()
    opt = gn.Adam(0.1, beta2=0.6, amsgrad=True, clip_norm=0.1)
    net.fit(X, y, optimizer=opt, epochs=3, batch_size=None, shuffle=False, verbose=0)
    assert np.array_equal(data["quantities"]["t3.2.W"], net.layers[1].W)
    v_max = np.ravel(data["quantities"]["t3.2.v_max_W"])
    assert np.array_equal(v_max, opt.state["v_max"][6:8])


def test_cli_adam_numbers_equal_the_library(capsys):
    argv = ["explain", "--optimizer", "adam", "--lr", "0.1", "--steps", "3"]
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["optimizer"]
    trace = adam_trace()
    assert data["config"] == gn.Adam(0.1).config() and data["steps"] == 3
    assert data["losses"] == trace.optimizer["losses"]
    for key in ("t3.1.W", "t3.2.b", "t3.1.m_W", "t2.2.v_hat_W", "t3.L"):
        assert np.array_equal(data["quantities"][key], trace[key]), key


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--optimizer", "sgd", "--beta1", "0.9"], "--beta1: not an option of sgd"),
        (["--optimizer", "sgd", "--amsgrad"], "--amsgrad: not an option of sgd"),
        (["--optimizer", "adam", "--centered"], "--centered: not an option of adam"),
        (["--clip-norm", "1"], "only used with --optimizer"),
        (["--optimizer", "sgd", "--clip-norm", "-1"], "clip_norm"),
        (["--momentum", "0.9"], "only used with --optimizer"),
        (["--optimizer", "adam", "--steps", "0"], "steps"),
        (
            ["--optimizer", "adam", "--attack", "fgsm", "--eps", "0.1"],
            "one or the other",
        ),
    ],
)
def test_cli_bad_optimizer_option_is_one_line(argv, message, capsys):
    assert main(["explain", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert message in captured.err


def test_cli_unknown_optimizer_is_a_usage_error(capsys):
    assert main(["explain", "--optimizer", "adamx"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "invalid choice: 'adamx'" in captured.err and "'rmsprop'" in captured.err


def test_docs_option_commands_run(capsys):
    page = Path(__file__).parent.parent / "docs" / "explain.md"
    section = page.read_text(encoding="utf-8").split("**amsgrad, centered RMSprop")[1]
    block = section.split("```\n", 2)[1]
    commands = [line.split()[2:] for line in block.splitlines()]
    assert len(commands) == 2
    for argv in commands:
        assert main(["explain", *argv]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "amsgrad = true" in out and "centered mean square" in out
    assert "the clipping factor" in out
