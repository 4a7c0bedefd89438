"""A planned training step (glassnet._fast.plan) gives bitwise the unplanned one.

The plan decides once per batch shape which path each layer takes; every test here
trains the same network twice from the same seed, once with the plan and once with
``plan.for_step`` returning None (the network's own loop, as before plans), and asks
for identical weights. One BLAS thread throughout: thread counts may change a
product's last bits, and both runs must do the same products the same way.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet._fast import kernels, plan, threads
from glassnet.nn.losses import _mean

pytest.importorskip("numba", reason="numba is in the dev extra (glassnet[fast])")


@pytest.fixture(autouse=True)
def one_thread():
    before = threads.get_num_threads()
    threads.set_num_threads(1)
    yield
    threads.set_num_threads(before)
    kernels.enable(None)


def _data(dtype, n=150, d=12, classes=4, seed="plan"):
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X[:, :classes] @ rng.standard_normal(classes) > 0).astype(int)
    y += (X[:, -1] > 0.5).astype(int) * 2  # labels 0..3
    return X, y % classes


def _net(dtype, *hidden_activations, out="softmax", classes=4):
    layers, width = [], 12
    for activation in hidden_activations:
        layers.append(gn.Dense(width, 9, activation))
        width = 9
    layers.append(gn.Dense(width, classes, out))
    return gn.Sequential(*layers, dtype=dtype, seed=3)


def _train(net, X, y, planned, monkeypatch, **kwargs):
    if not planned:
        monkeypatch.setattr(plan, "for_step", lambda *args: None)
    kwargs.setdefault("epochs", 3)
    kwargs.setdefault("batch_size", 32)  # 150 = 4 * 32 + 22: two batch shapes
    history = net.fit(X, y, verbose=0, **kwargs)
    monkeypatch.undo()
    return history


def _twice(make, X, y, monkeypatch, **kwargs):
    """The weights and losses of two fits of ``make()``: planned, then not."""
    runs = []
    for planned in (True, False):
        net = make()
        history = _train(net, X, y, planned, monkeypatch, **kwargs)
        runs.append((net.flat_params.copy(), history.history["loss"]))
    return runs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_after_epochs_equal_with_and_without_the_plan(dtype, monkeypatch):
    X, y = _data(dtype)
    (planned, losses), (unplanned, losses_unplanned) = _twice(
        lambda: _net(dtype, "relu", "relu"), X, y, monkeypatch, optimizer="adam"
    )
    assert planned.dtype == np.dtype(dtype)
    assert np.array_equal(planned, unplanned)
    assert losses == losses_unplanned
    assert losses[-1] < losses[0]  # it learned: the comparison is of a real run


def test_the_plan_runs_the_relu_layers_and_the_network_the_others():
    X, _ = _data("float32")
    net = gn.Sequential(
        gn.Dense(12, 9, "relu"),
        gn.Dropout(0.2),
        gn.Dense(9, 9, "tanh"),
        gn.Dense(9, 1, "relu"),  # one column: numpy's sum, not the loop's
        gn.Dense(1, 4, "softmax"),
        seed=0,
    )
    steps = plan.for_step(net, gn.nn.losses.get_loss("cross_entropy"), X, None).steps
    kinds = [type(step).__name__ for step in steps]
    assert kinds == ["_ReluDense", "_Own", "_Own", "_Own", "_Own"]


def test_mixed_layers_and_a_loss_that_does_not_fuse(monkeypatch):
    X, y = _data("float32")
    Y = np.eye(4, dtype="float32")[y]

    def make():
        return gn.Sequential(
            gn.Dense(12, 9, "relu"),
            gn.Dropout(0.2),  # its mask from the network's seeded generator
            gn.Dense(9, 9, "tanh"),
            gn.Dense(9, 4, "relu"),  # the output layer planned, dL/dA from MSE
            seed=5,
        )

    (planned, losses), (unplanned, _) = _twice(
        make, X, Y, monkeypatch, loss="mse", optimizer="sgd"
    )
    assert np.array_equal(planned, unplanned)
    assert np.isfinite(losses).all()


def test_kernels_off_runs_unplanned_with_the_same_weights(monkeypatch):
    X, y = _data("float32")
    kernels.enable(False)
    assert plan.for_step(_net("float32", "relu"), None, X, None) is None
    (off, _), (off_unplanned, _) = _twice(
        lambda: _net("float32", "relu"), X, y, monkeypatch
    )
    assert np.array_equal(off, off_unplanned)


def test_sample_weights_run_unplanned():
    X, _ = _data("float32")
    net = _net("float32", "relu")
    assert plan.for_step(net, None, X, np.ones(len(X))) is None


def test_a_subclassed_layer_runs_its_own_forward(monkeypatch):
    calls = []

    class Logged(gn.Dense):
        def forward(self, A_prev, training=False, *, reuse=False):
            calls.append(A_prev.shape[0])
            return super().forward(A_prev, training, reuse=reuse)

    X, y = _data("float32")

    def make():
        net = _net("float32", "relu")
        first = net.layers[0]
        logged = Logged(12, 9, "relu")
        net = gn.Sequential(logged, net.layers[1], seed=3)
        assert first.W.shape == logged.W.shape
        return net

    (planned, _), (unplanned, _) = _twice(make, X, y, monkeypatch, epochs=1)
    assert np.array_equal(planned, unplanned)
    assert calls.count(32) == 2 * 4 and calls.count(22) == 2  # both fits, every step


def test_a_method_patched_during_fit_runs_from_the_next_step():
    X, y = _data("float32")
    net = _net("float32", "relu", "relu")
    layer = net.layers[1]
    seen = []

    class Patch(gn.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:  # as a gradcheck lesson patches one layer
                original = layer.forward

                def forward(A_prev, training=False, *, reuse=False):
                    seen.append(batch)
                    return original(A_prev, training, reuse=reuse)

                layer.forward = forward

    net.fit(X, y, epochs=1, batch_size=32, verbose=0, callbacks=[Patch()])
    assert len(seen) == 3  # steps 2, 3 and 4 of 5 ran the patched method


def test_a_new_activation_makes_a_new_plan():
    X, _ = _data("float32")
    net = _net("float32", "relu")
    loss = gn.nn.losses.get_loss("cross_entropy")
    first = plan.for_step(net, loss, X, None)
    assert plan.for_step(net, loss, X, None) is first  # decided once
    net.layers[0].activation = gn.get_activation("tanh")
    assert plan.for_step(net, loss, X, None) is None  # nothing left to plan


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_mean_is_bitwise_numpys(dtype):
    rng = np.random.default_rng(zlib.crc32(b"mean"))
    for case in range(1200):
        n = int(rng.integers(1, 3000))
        scale = 10.0 ** rng.uniform(-30, 30)
        L_i = (rng.exponential(1.0, n) * scale).astype(dtype)
        if case % 50 == 0:
            L_i[rng.integers(n)] = (np.inf, np.nan)[case % 100 // 50]
        expected, got = float(L_i.mean()), _mean(L_i)
        assert got == expected or (np.isnan(got) and np.isnan(expected))
    assert _mean(np.arange(4, dtype=np.int64)) == 1.5  # other dtypes: numpy's mean
