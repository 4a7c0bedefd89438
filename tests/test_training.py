"""The fit loop: learning, reproducibility, resuming, divergence, Ctrl-C, weights,
validation, progress output and the checks at fit's boundary."""

from __future__ import annotations

import io
import os
import re
import signal
import sys
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet.training.data import ArrayBatches, epoch_order, validation_rows


def small_problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def small_net(seed=0, dropout=0.0, dtype="float64"):
    layers = [gn.Dense(3, 8, "tanh")]
    if dropout:
        layers.append(gn.Dropout(dropout))
    layers.append(gn.Dense(8, 3, "softmax"))
    return gn.Sequential(*layers, dtype=dtype, seed=seed)


class StopAfter(gn.Callback):
    """Sets stop_training after batch ``step`` of epoch ``epoch``."""

    def __init__(self, epoch, step, via_model=False):
        self.at, self.via_model = (epoch, step), via_model

    def on_batch_end(self, step, logs):
        if (self.trainer.epoch, step) == self.at:
            if self.via_model:
                self.model.stop_training = True
            else:
                self.trainer.stop_training = True


class Recorder(gn.Callback):
    """Copies of the weights after every batch, keyed (epoch, step)."""

    def __init__(self):
        self.weights = {}

    def on_batch_end(self, step, logs):
        self.weights[(self.trainer.epoch, step)] = self.model.flat_params.copy()


# -- learning ------------------------------------------------------------------------
def test_xor_reaches_full_accuracy():
    X, y = gn.datasets.xor()
    net = gn.Sequential(
        gn.Dense(2, 8, "tanh"), gn.Dense(8, 1, "sigmoid"), dtype="float64", seed=0
    )
    history = net.fit(
        X, y, optimizer=gn.Adam(lr=0.05), epochs=300, batch_size=None,
        metrics=["accuracy"], verbose=0,
    )  # fmt: skip
    assert net.predict_classes(X).tolist() == [0, 1, 1, 0]
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.05


def test_spirals_above_95_percent_on_held_out_points():
    X, y = gn.datasets.spirals(n_samples=600, n_classes=3, noise=0.2, seed=0)
    X_train, X_test, y_train, y_test = gn.datasets.train_test_split(
        X, y, test_size=0.25, stratify=True, seed=0
    )
    net = gn.Sequential(
        gn.Dense(2, 64, "relu"), gn.Dense(64, 64, "relu"), gn.Dense(64, 3, "softmax"),
        seed=0,
    )  # fmt: skip
    net.fit(
        X_train, y_train, optimizer=gn.Adam(lr=0.01), epochs=150, batch_size=32,
        verbose=0,
    )  # fmt: skip
    accuracy = gn.metrics.accuracy(y_test, net.predict_classes(X_test))
    assert accuracy > 0.95, accuracy


def test_digits_above_97_percent_test_accuracy(capsys):
    X, y = gn.datasets.load_digits()
    X_train, X_test, y_train, y_test = gn.datasets.train_test_split(
        X / 16.0, y, test_size=0.25, stratify=True, seed=0
    )
    net = gn.Sequential(
        gn.Dense(64, 256, "relu"), gn.Dropout(0.2), gn.Dense(256, 10, "softmax"), seed=0
    )
    started = time.perf_counter()
    net.fit(
        X_train, y_train, optimizer=gn.AdamW(lr=2e-3, weight_decay=0.05), epochs=40,
        batch_size=32, callbacks=[gn.CosineLR(total_epochs=40)], verbose=0,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    result = net.evaluate(X_test, y_test, metrics=["accuracy"])
    with capsys.disabled():  # reported, never asserted (the machine is shared)
        print(f"\n[digits: test accuracy {result['accuracy']:.4f}, fit {seconds:.2f}s]")
    assert result["accuracy"] > 0.97


def test_full_batch_without_shuffle_is_gradient_descent_step_by_step():
    X, y = small_problem()
    net, manual = small_net(), small_net()
    history = net.fit(
        X, y, optimizer=gn.SGD(lr=0.5), epochs=3, batch_size=None, shuffle=False,
        verbose=0,
    )  # fmt: skip
    losses = []
    for _ in range(3):
        loss, _ = manual.loss_and_grad(X, y, loss="cross_entropy", training=True)
        manual.flat_params -= 0.5 * manual.flat_grads  # theta <- theta - lr dL/dtheta
        losses.append(loss)
    np.testing.assert_array_equal(net.flat_params, manual.flat_params)
    assert history.history["loss"] == losses
    assert history.params["steps"] == 1


# -- reproducibility and resuming ----------------------------------------------------
def fit_kwargs(**extra):
    kwargs = dict(
        epochs=4, batch_size=7, metrics=["accuracy"], validation_split=0.2, seed=3,
        verbose=0,
    )  # fmt: skip
    kwargs.update(extra)
    return kwargs


def test_same_seed_gives_bit_identical_weights():
    X, y = small_problem()
    a, b, c = small_net(dropout=0.3), small_net(dropout=0.3), small_net(dropout=0.3)
    ha = a.fit(X, y, optimizer=gn.Adam(lr=0.01), **fit_kwargs())
    hb = b.fit(X, y, optimizer=gn.Adam(lr=0.01), **fit_kwargs())
    c.fit(X, y, optimizer=gn.Adam(lr=0.01), **fit_kwargs(seed=4))
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert ha.history["loss"] == hb.history["loss"]
    assert not np.array_equal(a.flat_params, c.flat_params)


def test_epoch_order_is_a_function_of_seed_and_epoch():
    Y = np.zeros((10, 1))
    data = ArrayBatches(np.arange(10.0)[:, None], Y, None, 4, True, np.float64)
    for epoch in range(3):
        order = np.random.default_rng([5, epoch]).permutation(10)
        batches = [idx for *_, idx in data.batches(5, epoch)]
        expected = [np.sort(order[i : i + 4]) for i in (0, 4, 8)]
        for got, want in zip(batches, expected, strict=True):
            np.testing.assert_array_equal(got, want)
        tail = [idx for *_, idx in data.batches(5, epoch, start_step=2)]
        np.testing.assert_array_equal(tail[0], expected[2])
    assert not np.array_equal(epoch_order(5, 0, 10), epoch_order(5, 1, 10))


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
@pytest.mark.parametrize(
    "stop_at", [(1, 6), (1, 3), (0, 0)], ids=["epoch_end", "mid_epoch", "first_step"]
)
def test_resume_gives_the_same_weights_as_training_straight(optimizer, stop_at):
    X, y = small_problem()
    make_opt = {
        "adam": lambda: gn.Adam(lr=0.01),
        "momentum": lambda: gn.SGD(lr=0.05, momentum=0.9, nesterov=True),
    }[optimizer]
    straight = small_net(dropout=0.2)
    full = straight.fit(X, y, optimizer=make_opt(), **fit_kwargs())
    assert full.params["steps"] == 7  # 48 training rows in batches of 7

    net, opt = small_net(dropout=0.2), make_opt()
    first = net.fit(
        X, y, optimizer=opt, callbacks=[StopAfter(*stop_at)], **fit_kwargs()
    )
    epoch, step = stop_at
    expected_next = (epoch + 1, 0) if step == 6 else (epoch, step + 1)
    assert (first.next_epoch, first.next_step) == expected_next
    assert first.stop_reason == "callback"
    second = net.fit(
        X, y, optimizer=opt, initial_epoch=first.next_epoch,
        initial_step=first.next_step, **fit_kwargs(),
    )  # fmt: skip
    np.testing.assert_array_equal(net.flat_params, straight.flat_params)
    assert opt.t == 4 * 7
    # The epochs completed after resuming log the same values as the straight run.
    for e, loss in zip(second.epoch, second.history["loss"], strict=True):
        if e > epoch:
            assert loss == full.history["loss"][e]


def test_resume_after_model_stop_training_and_with_recorded_seed():
    X, y = small_problem()
    straight = small_net()
    straight.fit(X, y, optimizer=gn.SGD(lr=0.1), **fit_kwargs(seed=None))
    net, opt = small_net(), gn.SGD(lr=0.1)
    first = net.fit(
        X, y, optimizer=opt, callbacks=[StopAfter(2, 2, via_model=True)],
        **fit_kwargs(seed=None),
    )  # fmt: skip
    assert isinstance(first.seed, int)
    net.fit(
        X, y, optimizer=opt, initial_epoch=first.next_epoch,
        initial_step=first.next_step, **fit_kwargs(seed=first.seed),
    )  # fmt: skip
    # seed=None draws the seed from net.rng: same net seed, same drawn seed.
    np.testing.assert_array_equal(net.flat_params, straight.flat_params)


def test_resume_without_the_seed_is_refused():
    X, y = small_problem()
    with pytest.raises(ValueError, match="needs the seed of the run being continued"):
        small_net().fit(X, y, initial_epoch=1, **fit_kwargs(seed=None))


# -- divergence ----------------------------------------------------------------------
def test_divergence_stops_with_a_message_and_finite_weights(backend):
    rng = np.random.default_rng(0)
    X = rng.normal(scale=100.0, size=(32, 3))  # unscaled inputs ...
    y = X @ np.array([1.0, -2.0, 3.0])
    net = gn.Sequential(
        gn.Dense(3, 16, "relu"), gn.Dense(16, 1), dtype="float32", seed=0
    )
    recorder = Recorder()
    with pytest.raises(gn.DivergenceError) as caught:
        net.fit(
            X, y, optimizer=gn.SGD(lr=1.0), epochs=50, batch_size=8,  # ... and big lr
            callbacks=[recorder], verbose=0,
        )  # fmt: skip
    message = str(caught.value)
    error = caught.value
    assert f"epoch {error.epoch + 1}, step {error.step + 1}" in message
    assert "smaller learning rate" in message and "scale the inputs" in message
    assert "lr is 1" in message
    assert np.isfinite(net.flat_params).all()
    # The weights are those after the last step that completed.
    last = max(recorder.weights)
    np.testing.assert_array_equal(net.flat_params, recorder.weights[last])


def test_divergence_of_the_weights_with_a_finite_loss_is_caught(backend):
    X, y = np.array([[10.0]]), np.array([0.0])
    net = gn.Sequential(gn.Dense(1, 1), dtype="float64", seed=0)
    net.layers[0].W, net.layers[0].b = [[1.0]], [0.0]
    start = net.flat_params.copy()
    with pytest.raises(
        gn.DivergenceError,
        match=r"epoch 1, step 1: the update made 2 weight\(s\) NaN or inf, first in layer 0 W",
    ):
        # dL/dW = 2 (w x) x = 200 and dL/db = 20, times lr 1e307: beyond float64.
        net.fit(
            X, y, loss="mse", optimizer=gn.SGD(lr=1e307), batch_size=None, verbose=0
        )
    np.testing.assert_array_equal(net.flat_params, start)


def test_huge_but_finite_weights_are_not_divergence(backend):
    """Regression: the check summed the weights, and a sum that overflowed
    (float32 weights near 3e38) was reported as divergence although every weight
    was finite. With the numpy code and with the compiled loop alike."""
    net = gn.Sequential(gn.Dense(1, 2), dtype="float32", seed=0)
    net.layers[0].W, net.layers[0].b = [[3e38], [3e38]], [0.0, 0.0]
    X, y = np.zeros((4, 1)), np.zeros((4, 2))  # zero inputs: a finite loss and step
    net.fit(X, y, loss="mse", optimizer=gn.SGD(lr=1e-3), epochs=2, verbose=0)
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(3e38) + np.float32(3e38))  # the old sum overflowed
    np.testing.assert_array_equal(net.layers[0].W, np.float32([[3e38], [3e38]]))


def test_nan_loss_never_reaches_the_weights():
    net = small_net()
    start = net.flat_params.copy()
    opt = gn.Adam()

    def poisoned_step(net, loss, optimizer, X, Y, sample_weight=None):
        return float("nan"), None

    class Poison(gn.Callback):
        def on_train_begin(self, logs):
            self.trainer.step_fn = poisoned_step

    X, y = small_problem()
    with pytest.raises(gn.DivergenceError, match="epoch 1, step 1: the loss is nan"):
        net.fit(X, y, optimizer=opt, callbacks=[Poison()], verbose=0)
    np.testing.assert_array_equal(net.flat_params, start)
    assert opt.t == 0


# -- Ctrl-C --------------------------------------------------------------------------
class InterruptAt(gn.Callback):
    def __init__(self, epoch, step, real_signal=False):
        self.at, self.real_signal = (epoch, step), real_signal

    def on_batch_end(self, step, logs):
        if (self.trainer.epoch, step) == self.at:
            if self.real_signal:
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise KeyboardInterrupt


@pytest.mark.parametrize("real_signal", [False, True], ids=["raised", "sigint"])
def test_ctrl_c_stops_after_the_step_keeping_weights_and_history(real_signal, capsys):
    X, y = small_problem()
    reference = small_net()
    reference.fit(X, y, callbacks=[StopAfter(1, 4)], **fit_kwargs())
    net = small_net()
    history = net.fit(X, y, callbacks=[InterruptAt(1, 4, real_signal)], **fit_kwargs())
    assert history.stop_reason == "interrupted" and history.interrupted
    assert history.epoch == [0]  # the completed epochs
    assert (history.next_epoch, history.next_step) == (1, 5)
    np.testing.assert_array_equal(net.flat_params, reference.flat_params)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if real_signal:
        assert "stopping after the current step" in capsys.readouterr().err


def test_interrupt_inside_a_step_undoes_the_half_done_step():
    X, y = small_problem()
    net = small_net()
    recorder = Recorder()

    def half_step(net, loss, optimizer, X, Y, sample_weight=None):
        if recorder.weights:  # the second step is interrupted half way
            net.flat_params[:5] = 123.0
            raise KeyboardInterrupt
        from glassnet.training import train_step

        return train_step(net, loss, optimizer, X, Y, sample_weight)

    class Hook(gn.Callback):
        def on_train_begin(self, logs):
            self.trainer.step_fn = half_step

    history = net.fit(X, y, callbacks=[Hook(), recorder], **fit_kwargs())
    np.testing.assert_array_equal(net.flat_params, recorder.weights[(0, 0)])
    assert (history.next_epoch, history.next_step) == (0, 1)


# -- weights -------------------------------------------------------------------------
def test_class_weight_equals_the_matching_sample_weight():
    X, y = small_problem()
    by_class, by_sample, plain = small_net(), small_net(), small_net()
    kwargs = fit_kwargs(validation_split=0.0)
    by_class.fit(X, y, class_weight={0: 3.0, 2: 0.5}, **kwargs)
    by_sample.fit(X, y, sample_weight=np.choose(y, [3.0, 1.0, 0.5]), **kwargs)
    plain.fit(X, y, **kwargs)
    np.testing.assert_array_equal(by_class.flat_params, by_sample.flat_params)
    assert not np.array_equal(by_class.flat_params, plain.flat_params)


def test_balanced_class_weight_is_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    X, y = small_problem()
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)[y]
    a, b = small_net(), small_net()
    kwargs = fit_kwargs(validation_split=0.0)
    a.fit(X, y, class_weight="balanced", **kwargs)
    b.fit(X, y, sample_weight=expected, **kwargs)
    np.testing.assert_allclose(a.flat_params, b.flat_params, rtol=0, atol=1e-12)


def test_weighted_loss_is_the_weighted_mean():
    X, y = small_problem()
    w = np.linspace(0.1, 2.0, len(y))
    net = small_net()
    before = net.loss_value(X, y, loss="cross_entropy", sample_weight=w)
    history = net.fit(
        X, y, sample_weight=w, batch_size=None, optimizer=gn.SGD(lr=0.1), verbose=0
    )
    assert history.history["loss"][0] == pytest.approx(before, rel=1e-12)


# -- validation ----------------------------------------------------------------------
def test_validation_split_is_stratified_and_logged():
    X, y = small_problem(n=100)
    train, val = validation_rows(100, 0.2, y, seed=3)
    assert len(val) == 20 and np.intersect1d(train, val).size == 0
    for c in np.unique(y):
        assert abs((y[val] == c).sum() - 0.2 * (y == c).sum()) < 1
    net = small_net()
    history = net.fit(X, y, **fit_kwargs(validation_split=0.2, epochs=2))
    assert history.params["n_samples"] == 80
    result = net.evaluate(X[val], y[val], metrics=["accuracy"])
    assert history.history["val_loss"][-1] == pytest.approx(result["loss"], rel=1e-12)
    assert history.history["val_accuracy"][-1] == result["accuracy"]


def test_validation_data_and_metric_names():
    X, y = small_problem()
    Xv, yv = small_problem(n=30, seed=1)
    net = small_net()
    history = net.fit(
        X, y, validation_data=(Xv, yv), metrics=["accuracy", "top2_accuracy", "f1"],
        epochs=2, verbose=0,
    )  # fmt: skip
    assert list(history.history) == [
        "loss", "accuracy", "top2_accuracy", "f1", "val_loss", "val_accuracy",
        "val_top2_accuracy", "val_f1", "lr", "epoch_time",
    ]  # fmt: skip
    # the loss and metrics of the run, as its History records them
    result = net.evaluate(
        Xv, yv, loss=history.config.loss, metrics=history.config.metrics
    )
    assert history.history["val_loss"][-1] == result["loss"]
    assert history.history["val_f1"][-1] == result["f1"]
    assert result["top2_accuracy"] == gn.metrics.top_k_accuracy(
        yv, net.predict(Xv), k=2
    )


def test_training_metrics_use_the_outputs_before_each_update():
    X, y = small_problem()
    net = small_net()
    before = net.predict_classes(X)
    history = net.fit(
        X, y, metrics=["accuracy"], batch_size=None, optimizer=gn.SGD(lr=1.0), verbose=0
    )
    assert history.history["accuracy"][0] == np.mean(before == y)


# -- inputs --------------------------------------------------------------------------
def test_memmap_and_float32_inputs_train_like_arrays(tmp_path):
    X, y = small_problem()
    mm = np.memmap(tmp_path / "X.dat", dtype=np.float64, mode="w+", shape=X.shape)
    mm[...] = X
    mm.flush()
    a, b = small_net(dtype="float32"), small_net(dtype="float32")
    a.fit(X, y, **fit_kwargs())
    b.fit(
        np.memmap(tmp_path / "X.dat", dtype=np.float64, mode="r", shape=X.shape),
        y,
        **fit_kwargs(),
    )
    np.testing.assert_array_equal(a.flat_params, b.flat_params)


def test_an_iterable_of_batches_trains_like_unshuffled_arrays():
    X, y = small_problem()
    batches = [(X[i : i + 16], y[i : i + 16]) for i in range(0, 60, 16)]
    a, b = small_net(), small_net()
    ha = a.fit(X, y, batch_size=16, shuffle=False, epochs=3, verbose=0)
    hb = b.fit(batches, epochs=3, verbose=0)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert ha.history["loss"] == hb.history["loss"]
    with pytest.raises(
        ValueError, match="gave no batches in epoch 2: pass a re-iterable"
    ):
        small_net().fit(iter(batches), epochs=2, verbose=0)


def test_loss_is_inferred_from_the_output_layer():
    X, y = small_problem()
    assert small_net().fit(X, y, verbose=0).params["loss"] == "cross_entropy"
    binary = gn.Sequential(gn.Dense(3, 1, "sigmoid"), seed=0)
    assert binary.fit(X, y > 0, verbose=0).params["loss"] == "binary_crossentropy"
    regression = gn.Sequential(gn.Dense(3, 1), seed=0)
    assert regression.fit(X, X[:, 0], verbose=0).params["loss"] == "mse"


# -- progress output -----------------------------------------------------------------
class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_one_plain_line_per_epoch_when_not_a_terminal(capsys):
    X, y = small_problem()
    small_net().fit(
        X, y, epochs=3, metrics=["accuracy"], validation_split=0.2, verbose=1
    )
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3 and "\r" not in out
    for i, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {i}/3 - ")
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            assert f" {key} " in line


def test_progress_bar_redraws_in_place_on_a_terminal(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    X, y = small_problem()
    small_net().fit(X, y, epochs=2, batch_size=10, verbose=1)
    out = terminal.getvalue()
    assert out.count("\n") == 2  # one finished line per epoch
    assert "\rEpoch 1/2 [" in out and " 6/6 " in out and "ETA" in out
    assert "========================]" in out  # the full bar at the last step
    finished = out.split("\n")[0].split("\r")[-1]
    assert finished.startswith("Epoch 1/2 - ") and "loss" in finished


def test_verbose_2_prints_lines_even_on_a_terminal_and_0_prints_nothing(
    monkeypatch, capsys
):
    X, y = small_problem()
    small_net().fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    small_net().fit(X, y, epochs=2, verbose=2)
    assert "\r" not in terminal.getvalue() and terminal.getvalue().count("\n") == 2


def test_a_stop_inside_an_epoch_says_how_to_continue(capsys):
    X, y = small_problem()
    small_net().fit(X, y, callbacks=[StopAfter(1, 2)], **fit_kwargs(verbose=1))
    out = capsys.readouterr().out
    assert (
        "Stopped (callback) after step 3 of epoch 2: continue with fit(..., initial_epoch=1, initial_step=3, seed=3)"
        in out
    )


# -- history -------------------------------------------------------------------------
def test_history_round_trips_through_json(tmp_path):
    X, y = small_problem()
    history = small_net().fit(X, y, **fit_kwargs())
    path = tmp_path / "history.json"
    history.to_json(path)
    again = gn.History.from_json(path)
    assert again.history == history.history and again.epoch == [0, 1, 2, 3]
    assert again.seed == 3 and again.params["steps"] == 7
    assert len(history.history["lr"]) == len(history.history["epoch_time"]) == 4
    assert gn.History.from_json(history.to_json()).to_dict() == history.to_dict()


def test_history_from_bad_json_names_the_problem():
    with pytest.raises(
        ValueError, match="needs a dict with 'history' and 'epoch' keys"
    ):
        gn.History.from_dict([1, 2])
    with pytest.raises(
        ValueError, match=r"one entry per epoch \(2\), got lengths \[1\]"
    ):
        gn.History.from_dict({"history": {"loss": [1.0]}, "epoch": [0, 1]})


# -- evaluate and predict -------------------------------------------------------------
def test_predict_in_batches_equals_forward(tmp_path):
    X, y = small_problem(n=50)
    net = small_net()
    # Equal up to rounding: BLAS may sum in another order for another batch shape.
    np.testing.assert_allclose(net.predict(X, batch_size=7), net.forward(X), rtol=1e-14)
    probabilities = net.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert net.predict_classes(X).tolist() == probabilities.argmax(axis=1).tolist()
    assert net.predict(X[0]).shape == (1, 3)  # a single sample as a vector


def test_binary_and_logit_outputs_give_scikit_learn_probabilities():
    X, y = small_problem()
    binary = gn.Sequential(gn.Dense(3, 1, "sigmoid"), dtype="float64", seed=0)
    p = binary.forward(X)[:, 0]
    np.testing.assert_allclose(binary.predict_proba(X), np.stack([1 - p, p], axis=1))
    assert binary.predict_classes(X).tolist() == (p >= 0.5).astype(int).tolist()
    logits = gn.Sequential(gn.Dense(3, 3), dtype="float64", seed=0)
    history = logits.fit(X, y, loss=gn.CrossEntropyLoss(from_logits=True), verbose=0)
    Z = logits.forward(X)
    expected = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    # the outputs are logits: the loss the run trained with says so
    probabilities = gn.training.predict_proba(logits, X, loss=history.config.loss)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-12)


def test_evaluate_matches_the_loss_computed_directly():
    X, y = small_problem(n=70)
    net = small_net()
    w = np.linspace(1, 2, 70)
    result = net.evaluate(X, y, loss="cross_entropy", batch_size=16, sample_weight=w)
    direct = net.loss_value(X, y, loss="cross_entropy", sample_weight=w)
    assert result == {"loss": pytest.approx(direct, rel=1e-12)}


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda net: net.evaluate(np.zeros((2, 3)), [0, 1, 2]),
            ValueError,
            "X and y have different numbers of samples: 2 and 3",
        ),
        (
            lambda net: net.predict(np.zeros((2, 4))),
            ValueError,
            r"X has 4 features per sample \(shape \(2, 4\)\) but the first layer expects in_features=3",
        ),
        (lambda net: net.predict(np.zeros((0, 3))), ValueError, "X has no samples"),
        (
            lambda net: gn.Sequential(gn.Dense(3, 1), seed=0).predict_proba(
                np.zeros((2, 3))
            ),
            ValueError,
            "predict_proba needs class scores",
        ),
    ],
)
def test_predict_and_evaluate_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(small_net())


# -- checks at fit's boundary --------------------------------------------------------
X_OK, Y_OK = small_problem()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(X=np.zeros((60, 2))),
            ValueError,
            r"X has 2 features per sample \(shape \(60, 2\)\) but the first layer expects in_features=3",
        ),
        (
            dict(y=Y_OK[:10]),
            ValueError,
            "X and y have different numbers of samples: 60 and 10",
        ),
        (
            dict(X=np.where(np.eye(60, 3) > 0, np.nan, X_OK)),
            ValueError,
            r"Input X contains NaN \(first at index \(0, 0\)\)",
        ),
        (dict(y=Y_OK + 5), ValueError, "cross_entropy class labels must be in 0..2"),
        (dict(epochs=0), ValueError, "epochs must be a positive integer, got 0"),
        (
            dict(batch_size=0),
            ValueError,
            "batch_size must be a positive integer, got 0",
        ),
        (dict(verbose=3), ValueError, "verbose must be 0, 1 or 2, got 3"),
        (
            dict(validation_split=1.0),
            ValueError,
            r"validation_split must be in \[0, 1\), got 1",
        ),
        (
            dict(validation_split=0.2, validation_data=(X_OK, Y_OK)),
            ValueError,
            "give validation_data or validation_split, not both",
        ),
        (
            dict(validation_data=X_OK),
            TypeError,
            r"validation_data must be a tuple \(X_val, y_val\)",
        ),
        (
            dict(initial_epoch=5, epochs=3),
            ValueError,
            "initial_epoch=5 is past epochs=3",
        ),
        (
            dict(initial_step=2, batch_size=None),
            ValueError,
            r"initial_step=2 but an epoch has only 1 steps \(0..0\)",
        ),
        (
            dict(seed=-1),
            ValueError,
            "seed must be a non-negative integer or None, got -1",
        ),
        (dict(metrics=["auc"]), ValueError, "unknown metric 'auc'; expected one of"),
        (
            dict(callbacks=[print]),
            TypeError,
            "callbacks must be glassnet Callback objects",
        ),
        (
            dict(early_stopping=5),
            TypeError,
            "callbacks must be glassnet Callback objects",
        ),
        (dict(optimizer="adagrad"), ValueError, "unknown optimizer 'adagrad'"),
        (
            dict(sample_weight=np.ones(5)),
            ValueError,
            r"sample_weight must have shape \(60,\), one weight per sample, got \(5,\)",
        ),
        (
            dict(sample_weight=-np.ones(60)),
            ValueError,
            "sample_weight must be finite and non-negative",
        ),
        (
            dict(class_weight={7: 1.0}),
            ValueError,
            r"class_weight keys must be class labels 0..2, got 7",
        ),
        (
            dict(class_weight="auto"),
            ValueError,
            "class_weight must be a dict or 'balanced', got 'auto'",
        ),
        (dict(y=None), ValueError, "y is missing: pass fit"),
    ],
)
def test_fit_checks_its_arguments(kwargs, error, message):
    args = {"X": X_OK, "y": Y_OK, "verbose": 0, **kwargs}
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(error, match=message):
        small_net().fit(X, y, **args)


def test_metrics_that_need_classes_are_refused_for_regression():
    net = gn.Sequential(gn.Dense(3, 1), seed=0)
    with pytest.raises(
        ValueError,
        match="metric 'accuracy' needs class outputs .* use 'mse', 'mae' or 'r2'",
    ):
        net.fit(X_OK, X_OK[:, 0], metrics=["accuracy"], verbose=0)
    with pytest.raises(ValueError, match="class_weight needs class targets"):
        net.fit(X_OK, X_OK[:, 0], class_weight={0: 1.0}, verbose=0)
    history = net.fit(X_OK, X_OK[:, 0], metrics=["mae", "r2"], verbose=0)
    assert set(history.history) >= {"mae", "r2"}


# -- glassnet demo -------------------------------------------------------------------
def test_demo_trains_digits_and_prints_accuracy_and_confusion_matrix(capsys, tmp_path):
    from glassnet.cli import main

    assert main(["demo", "--epochs", "3", "--plot-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "L = -[y log a2 + (1 - y) log(1 - a2)] = 0.063181" in out  # seed 003 walk
    assert "8x8 handwritten digits: 1347 training, 450 test samples" in out
    assert "Epoch 3/3 - " in out
    accuracy = float(out.split("Test accuracy: ")[1].split("%")[0])
    rows = out.split("columns: predicted):\n")[1].splitlines()[1:11]
    matrix = np.array([[int(v) for v in row.split("|")[1].split()] for row in rows])
    assert matrix.sum() == 450 and np.trace(matrix) / 450 * 100 == pytest.approx(
        accuracy, abs=0.005
    )
    assert accuracy > 85  # three epochs already learn most digits
    pictures = ["history.png", "network.png", "activations.png", "seed003_network.png"]
    assert f"Pictures written to {tmp_path}" in out
    for name in pictures:
        assert name in out
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_falls_back_to_spirals_without_scikit_learn(monkeypatch, capsys):
    from glassnet.cli import main

    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` fails
    assert main(["demo", "--epochs", "2", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "Pictures" not in out
    assert "load_digits needs scikit-learn" in out and "using generated spirals" in out
    assert "three interleaved spirals: 675 training, 225 test samples" in out
    assert main(["demo", "--dataset", "digits"]) == 1  # asked for digits explicitly
    assert "pip install 'glassnet[datasets]'" in capsys.readouterr().err


def test_the_quickstart_example_runs(capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    accuracy = float(re.search(r"'accuracy': ([0-9.]+)\}", out).group(1))
    assert accuracy > 0.96
    assert "resumed test accuracy" in out and "its weights were restored" in out


def test_an_ignored_sigint_stays_ignored_while_training():
    # a background job starts with SIGINT ignored: training does not take it over
    X, y = small_problem()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    history = small_net().fit(X, y, **fit_kwargs())
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert history.stop_reason != "interrupted"
