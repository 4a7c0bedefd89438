"""The update overlapped with backpropagation (glassnet._fast.overlap) gives bitwise
the weights and optimizer state of the update after backpropagation, and the fit
loop's guarantees (Ctrl-C, divergence, checkpoints) stay as they are."""

import gc
import threading
import time
import weakref
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet._fast import kernels, overlap
from glassnet.errors import DivergenceError
from glassnet.optim import Optimizer, get_optimizer
from glassnet.training import Callback

OPTIMIZERS = [
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    ("sgd", {"lr": 0.05, "l1": 1e-3}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 1e-3}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.05}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
]


@pytest.fixture(autouse=True)
def _defaults():
    yield
    overlap.enable(None)
    kernels.enable(None)
    gn.set_num_threads(None)


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 96))
    y = (X[:, :4] @ np.array([1.0, -2.0, 0.5, 1.5]) > 0).astype(int) + (X[:, 4] > 1)
    return X, y


def _net(seed=0):
    # 32 x 96 x 128 multiply-adds exceed 2^18: the first product uses the BLAS
    # threads it is given; the activation layer has no parameters (no part)
    return gn.Sequential(
        gn.Dense(96, 128, activation="relu"),
        gn.Dense(128, 16),
        gn.get_activation("tanh"),
        gn.Dense(16, 3, activation="softmax"),
        seed=seed,
    )


def _fit(
    overlapped, name, config, epochs=3, callbacks=None, net=None, scale=1.0, **kwargs
):
    overlap.enable(overlapped)
    X, y = _data()
    X = X * scale
    net = _net() if net is None else net
    optimizer = get_optimizer(name, **config)
    history = net.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=optimizer,
        epochs=epochs,
        batch_size=32,
        verbose=0,
        callbacks=callbacks,
        **kwargs,
    )
    return net, optimizer, history


def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert np.array_equal(sa[key], sb[key]), key


class _Threads:
    """Records which threads applied parts of the update (a spy on update_part)."""

    def __init__(self, monkeypatch):
        self.names = []
        original = Optimizer.update_part

        def spy(opt, params, grads, part):
            self.names.append(threading.current_thread().name)
            return original(opt, params, grads, part)

        monkeypatch.setattr(Optimizer, "update_part", spy)


def _compiled_options():
    try:
        import numba  # noqa: F401
    except ImportError:
        return [False]
    return [False, True]


@pytest.mark.parametrize("compiled", _compiled_options())
@pytest.mark.parametrize("blas_threads", [1, 2])
@pytest.mark.parametrize(("name", "config"), OPTIMIZERS)
def test_overlapped_fit_is_bitwise_the_sequential_one(
    name, config, blas_threads, compiled, monkeypatch
):
    kernels.enable(compiled)
    gn.set_num_threads(blas_threads)  # the same split of every product in both runs
    net_a, opt_a, hist_a = _fit(False, name, config)
    spy = _Threads(monkeypatch)
    net_b, opt_b, hist_b = _fit(True, name, config)
    assert np.array_equal(net_a.flat_params, net_b.flat_params)
    _assert_same_state(opt_a, opt_b)
    assert hist_a.history["loss"] == hist_b.history["loss"]
    # it did overlap: 3 parts a step (5 batches an epoch), the worker took two
    assert len(spy.names) == 3 * 5 * 3
    assert spy.names.count("glassnet-update") == 2 * 5 * 3
    # and training learned something (not a run that changed nothing in both)
    assert not np.array_equal(net_b.flat_params, _net().flat_params)


def test_overlap_learns():
    """An overlapped fit reaches the accuracy of a working optimizer (2 classes)."""
    overlap.enable(True)
    rng = np.random.default_rng(zlib.crc32(b"overlap learns"))
    X = rng.normal(size=(400, 96))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = _net()
    net.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=10, verbose=0)
    assert np.mean(net.predict_classes(X) == y) > 0.95


def test_only_elementwise_updates_overlap():
    overlap.enable(True)
    net = _net()
    assert overlap.layer_updates(net, gn.optim.Adam()) is not None
    # the global norm reads every gradient: one update after backpropagation
    assert overlap.layer_updates(net, gn.optim.Adam(clip_norm=1.0)) is None

    class Own(gn.optim.SGD):  # its own rule: not known to be elementwise
        def _update(self, theta, g):
            theta -= self.lr * g / (np.linalg.norm(g) + 1.0)

    assert overlap.layer_updates(net, Own()) is None

    class Wrapped(gn.optim.SGD):  # its own step (e.g. a penalty added to g first)
        def step(self, params, grads):
            super().step(params, grads + 1e-3 * params)

    assert overlap.layer_updates(net, Wrapped()) is None
    assert overlap.layer_updates(net, object()) is None  # no elementwise at all
    single = gn.Sequential(gn.Dense(3, 2), seed=0)  # one part: nothing to overlap
    assert overlap.layer_updates(single, gn.optim.Adam()) is None
    overlap.enable(False)
    assert overlap.layer_updates(net, gn.optim.Adam()) is None


def test_clipped_fit_runs_sequentially_and_equal():
    config = {"lr": 0.01, "clip_norm": 0.5}
    net_a, opt_a, _ = _fit(False, "adam", config, epochs=2)
    net_b, opt_b, _ = _fit(True, "adam", config, epochs=2)
    assert np.array_equal(net_a.flat_params, net_b.flat_params)
    _assert_same_state(opt_a, opt_b)


def test_switch_and_environment(monkeypatch):
    monkeypatch.delenv("GLASSNET_OVERLAP", raising=False)
    overlap.enable(None)
    assert not overlap.enabled()  # off by default
    monkeypatch.setenv("GLASSNET_OVERLAP", "1")
    overlap.enable(None)  # the variable is read again
    assert overlap.enabled()
    overlap.enable(False)
    assert not overlap.enabled()
    with pytest.raises(TypeError, match="True, False or None"):
        overlap.enable("yes")


class _InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, step, logs):
        if self.trainer.epoch == 1 and step == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize(("name", "config"), [OPTIMIZERS[1], OPTIMIZERS[4]])
def test_interrupt_from_a_callback_keeps_the_same_state(name, config):
    net_a, opt_a, hist_a = _fit(False, name, config, callbacks=[_InterruptAt(2)])
    net_b, opt_b, hist_b = _fit(True, name, config, callbacks=[_InterruptAt(2)])
    assert hist_a.stop_reason == hist_b.stop_reason == "interrupted"
    assert (hist_a.next_epoch, hist_a.next_step) == (
        hist_b.next_epoch,
        hist_b.next_step,
    )
    assert np.array_equal(net_a.flat_params, net_b.flat_params)
    _assert_same_state(opt_a, opt_b)


def _interrupt_in_first_layer_backward(net, at_call):
    """Raise KeyboardInterrupt from layer 0's backward at its call number
    ``at_call``: mid-step, after the later layers' parts were handed over."""
    layer = net.layers[0]
    original = layer.backward
    calls = []

    def backward(dA, need_input_grad=True, *, reuse=False):
        calls.append(1)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        return original(dA, need_input_grad, reuse=reuse)

    layer.backward = backward


@pytest.mark.parametrize("compiled", _compiled_options())
def test_interrupt_mid_step_restores_the_same_weights(compiled):
    """Ctrl-C raised inside a step: the loop puts back the weights from before
    the step, after the worker finished the parts it was given."""
    kernels.enable(compiled)
    nets = []
    for overlapped in (False, True):
        net = _net()
        _interrupt_in_first_layer_backward(net, at_call=8)
        net, _, history = _fit(overlapped, "adam", {"lr": 0.01}, net=net)
        assert history.stop_reason == "interrupted"
        nets.append(net)
    assert np.array_equal(nets[0].flat_params, nets[1].flat_params)
    # and those are the weights after 7 whole steps (interrupted in the 8th)
    seven, _, _ = _fit(False, "adam", {"lr": 0.01}, callbacks=[_InterruptAt(1)])
    assert np.array_equal(nets[1].flat_params, seven.flat_params)


@pytest.mark.parametrize("compiled", _compiled_options())
@pytest.mark.parametrize(
    ("name", "lr", "scale", "what"),
    [
        ("sgd", 3e38, 1e3, "step 1: the update made"),  # in a part of the worker
        ("sgd", 1e37, 1e5, "epoch 9, step 2: the loss is inf"),
        ("adam", 1e37, 1.0, "step 2: the loss is nan"),
    ],
)
def test_divergence_raises_the_same_error_with_the_same_weights(
    name, lr, scale, what, compiled
):
    """An update that overflows, or one whose weights make a later loss inf or
    NaN: the same DivergenceError, the same last finite weights."""
    kernels.enable(compiled)
    outcomes = []
    for overlapped in (False, True):
        net = _net()
        with pytest.raises(DivergenceError, match=what) as caught:
            _fit(overlapped, name, {"lr": lr}, epochs=20, net=net, scale=scale)
        assert np.isfinite(net.flat_params).all()
        outcomes.append((str(caught.value), net.flat_params.copy()))
    assert outcomes[0][0] == outcomes[1][0]
    assert np.array_equal(outcomes[0][1], outcomes[1][1])


def test_checkpoint_resume_equals_straight_training(tmp_path):
    """Overlapped: 2 epochs, a checkpoint, 2 more from it, equal the sequential 4."""
    from glassnet.training import ModelCheckpoint

    straight, opt_straight, _ = _fit(False, "adam", {"lr": 0.01}, epochs=4)
    _fit(True, "adam", {"lr": 0.01}, epochs=2, callbacks=[ModelCheckpoint(tmp_path)])
    ckpt = gn.load_checkpoint(gn.io.latest_checkpoint(tmp_path))
    X, y = _data()
    ckpt.net.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=ckpt.optimizer,
        epochs=4,
        batch_size=32,
        verbose=0,
        initial_epoch=ckpt.epoch,
        initial_step=ckpt.step,
    )
    assert np.array_equal(ckpt.net.flat_params, straight.flat_params)
    _assert_same_state(ckpt.optimizer, opt_straight)


def test_callbacks_see_finished_updates(monkeypatch):
    """What a per-batch callback reads equals the sequential run's weights."""

    class Snapshot(Callback):
        def __init__(self):
            self.weights = []

        def on_batch_end(self, step, logs):
            self.weights.append(self.model.flat_params.copy())

    seen = []
    for overlapped in (False, True):
        snapshot = Snapshot()
        _fit(overlapped, "adam", {"lr": 0.01}, epochs=1, callbacks=[snapshot])
        seen.append(snapshot.weights)
    assert len(seen[0]) == len(seen[1]) == 5
    for a, b in zip(*seen, strict=True):
        assert np.array_equal(a, b)


def _workers() -> int:
    return sum(t.name == "glassnet-update" for t in threading.enumerate())


def test_the_worker_ends_with_its_training_thread():
    """Each training thread has its own worker, which stops when that thread ends
    (no thread left behind per finished fit in a thread)."""
    before = _workers()
    overlap.enable(True)
    results = []

    def train():
        net, _, _ = _fit(True, "adam", {"lr": 0.01}, epochs=1)
        results.append((net.flat_params.copy(), _workers()))

    for _ in range(3):
        thread = threading.Thread(target=train)
        thread.start()
        thread.join()
    assert len(results) == 3 and all(count == before + 1 for _, count in results)
    assert all(np.array_equal(results[0][0], weights) for weights, _ in results)
    gc.collect()
    for _ in range(200):  # the stop reaches the worker through its queue
        if _workers() == before:
            break
        time.sleep(0.01)
    assert _workers() == before


def test_a_network_is_not_kept_alive_by_its_plan():
    overlap.enable(True)
    net, _, _ = _fit(True, "adam", {"lr": 0.01}, epochs=1)
    alive = weakref.ref(net)
    del net
    gc.collect()
    assert alive() is None


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_optimizer_updates_its_own_state(how):
    """A copy of an optimizer that ran in parts updates its own moments, not
    copies of the original's views."""
    import copy
    import pickle

    _, optimizer, _ = _fit(True, "adam", {"lr": 0.01}, epochs=1)
    twin = (
        copy.deepcopy(optimizer)
        if how == "deepcopy"
        else pickle.loads(pickle.dumps(optimizer))
    )
    net_a, net_b = _net(), _net()
    X, y = _data()
    for net, opt, overlapped in ((net_a, optimizer, False), (net_b, twin, True)):
        overlap.enable(overlapped)
        net.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=2, verbose=0)
    assert np.array_equal(net_a.flat_params, net_b.flat_params)
    _assert_same_state(optimizer, twin)
