"""Callbacks: the protocol's order, EarlyStopping, ModelCheckpoint, CSVLogger."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import glassnet as gn
from glassnet.training import CallbackList


def problem(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X, y


def net(seed=0):
    return gn.Sequential(
        gn.Dense(4, 16, "tanh"), gn.Dense(16, 2, "softmax"), dtype="float64", seed=seed
    )


class Log(gn.Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_begin(self, step, logs):
        self.calls.append(("batch_begin", step))

    def on_batch_end(self, step, logs):
        self.calls.append(("batch_end", step, self.trainer.step))
        assert set(logs) == {"loss", "size"}

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs):
        self.calls.append(("train_end",))


def test_hooks_are_called_in_order_with_the_position():
    X, y = problem(n=30)
    log = Log()
    history = net().fit(X, y, epochs=2, batch_size=10, callbacks=[log], verbose=0)
    keys = ["epoch_time", "loss", "lr"]
    expected = [("train_begin",)]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        for step in range(3):
            expected += [("batch_begin", step), ("batch_end", step, step + 1)]
        expected.append(("epoch_end", epoch, keys))
    expected.append(("train_end",))
    assert log.calls == expected
    assert log.model is not None and log.trainer.history is history
    assert log.params["steps"] == 3 and log.params["epochs"] == 2


def test_callbacks_see_the_model_optimizer_and_params():
    X, y = problem()
    seen = {}
    opt = gn.SGD(lr=0.1)

    def on_train_begin(logs):
        seen.update(model=cb.model, optimizer=cb.trainer.optimizer, params=cb.params)

    cb = gn.LambdaCallback(on_train_begin=on_train_begin)
    model = net()
    model.fit(X, y, optimizer=opt, epochs=1, seed=7, verbose=0, callbacks=[cb])
    assert seen["model"] is model and seen["optimizer"] is opt
    assert seen["params"]["seed"] == 7 and seen["params"]["batch_size"] == 32


def test_only_overridden_hooks_are_called(monkeypatch):
    """A hook a callback does not define is never called (the base class's hook
    is replaced by a recorder here: it must stay silent through a whole fit)."""
    inherited = []
    monkeypatch.setattr(
        gn.Callback, "on_batch_end", lambda self, step, logs: inherited.append(step)
    )

    class OnlyEpochs(gn.Callback):
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, epoch, logs):
            self.epochs.append(epoch)

    only = OnlyEpochs()
    X, y = problem()
    net().fit(X, y, epochs=2, batch_size=20, callbacks=[only], verbose=0)
    assert len(only.epochs) == 2 and inherited == []
    own = []
    lambdas = gn.LambdaCallback(on_batch_end=lambda step, logs: own.append(step))
    CallbackList([OnlyEpochs(), lambdas]).on_batch_end(5, {})
    assert own == [5] and inherited == []  # the hook given as an attribute only


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(TypeError, match=r"unknown callback hooks \['on_step'\]"):
        gn.LambdaCallback(on_step=print)


# -- EarlyStopping -------------------------------------------------------------------
class Snapshots(gn.Callback):
    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs):
        self.weights.append(self.model.flat_params.copy())


def overfitting_run(metrics=None, **early):
    """A net that overfits 40 noisy points: val_loss falls, then rises."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    y = rng.integers(0, 2, size=40)
    Xv, yv = rng.normal(size=(40, 4)), rng.integers(0, 2, size=40)
    model = gn.Sequential(
        gn.Dense(4, 64, "tanh"), gn.Dense(64, 2, "softmax"), dtype="float64", seed=0
    )
    snaps = Snapshots()
    stopper = gn.EarlyStopping(**early)
    history = model.fit(
        X, y, optimizer=gn.Adam(lr=0.01), epochs=100, batch_size=8,
        validation_data=(Xv, yv), early_stopping=stopper, callbacks=[snaps], verbose=0,
        metrics=metrics,
    )  # fmt: skip
    return model, history, snaps, stopper


def test_early_stopping_restores_the_best_epochs_weights():
    model, history, snaps, stopper = overfitting_run(patience=3)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert history.stop_reason == "early_stopping"
    assert len(val) == best + 1 + 3  # stopped after 3 epochs without improvement
    assert stopper.best_epoch == best and stopper.best == val[best]
    assert stopper.stopped_epoch == len(val) - 1
    np.testing.assert_array_equal(model.flat_params, snaps.weights[best])
    assert not np.array_equal(model.flat_params, snaps.weights[-1])


def test_early_stopping_without_restore_keeps_the_last_weights():
    model, history, snaps, _ = overfitting_run(patience=2, restore_best=False)
    np.testing.assert_array_equal(model.flat_params, snaps.weights[-1])


def test_early_stopping_min_delta_and_max_mode():
    _, history, _, stopper = overfitting_run(
        patience=2, monitor="val_loss", min_delta=10.0
    )
    # Nothing improves by 10: the first epoch stays best, stop after 2 more.
    assert len(history.epoch) == 3 and stopper.best_epoch == 0
    model, history, snaps, stopper = overfitting_run(
        patience=4, monitor="val_accuracy", metrics=["accuracy"]
    )
    accuracy = history.history["val_accuracy"]
    best = int(np.argmax(accuracy))  # the first epoch reaching the maximum
    assert stopper._monitor.mode == "max" and stopper.best_epoch == best
    assert len(accuracy) == best + 1 + 4
    np.testing.assert_array_equal(model.flat_params, snaps.weights[best])


def test_monitoring_an_unlisted_metric_says_to_list_it():
    with pytest.raises(
        ValueError,
        match=r"monitor 'val_accuracy' is not among .* \(list the metric in fit\(metrics=\[...\]\)\)",
    ):
        overfitting_run(patience=2, monitor="val_accuracy")


def test_early_stopping_names_a_missing_monitor():
    X, y = problem()
    with pytest.raises(
        ValueError,
        match=r"monitor 'val_loss' is not among the logged values \['epoch_time', 'loss', 'lr'\] \(pass validation_data=",
    ):
        net().fit(X, y, early_stopping=gn.EarlyStopping(), epochs=2, verbose=0)


def test_early_stopping_checks_patience():
    with pytest.raises(
        ValueError, match="patience must be a non-negative integer, got -1"
    ):
        gn.EarlyStopping(patience=-1)


# -- ModelCheckpoint -----------------------------------------------------------------
class FakeSave:
    def __init__(self):
        self.calls = []

    def __call__(self, path, net, optimizer, history, rng_state, epoch, step):
        self.calls.append(
            dict(
                path=path,
                net=net,
                optimizer=optimizer,
                history=history,
                weights=net.flat_params.copy(),
                t=optimizer.t,
                epochs_logged=len(history.epoch),
                rng_state=rng_state,
                rng_now=net.rng.bit_generator.state,
                position=(epoch, step),
            )
        )


def test_checkpoint_every_n_epochs_calls_save_fn_with_the_position(tmp_path):
    X, y = problem()
    save = FakeSave()
    opt = gn.Adam()
    model = net()
    checkpoint = gn.ModelCheckpoint(
        tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.safetensors",
        every_n_epochs=2,
        save_fn=save,
    )
    history = model.fit(
        X, y, optimizer=opt, epochs=5, batch_size=20, callbacks=[checkpoint], verbose=0
    )
    assert [c["position"] for c in save.calls] == [(2, 0), (4, 0)]
    assert [c["t"] for c in save.calls] == [8, 16]  # 4 steps per epoch
    assert [c["epochs_logged"] for c in save.calls] == [2, 4]
    loss = history.history["loss"]
    assert save.calls[0]["path"] == str(tmp_path / f"ckpt-02-{loss[1]:.3f}.safetensors")
    assert checkpoint.saved == [c["path"] for c in save.calls]
    for call in save.calls:
        assert (
            call["net"] is model
            and call["optimizer"] is opt
            and call["history"] is history
        )
        assert call["rng_state"] == call["rng_now"]


def test_checkpoint_save_best_only_saves_when_the_monitor_improves(tmp_path):
    X, y = problem()
    Xv, yv = problem(n=40, seed=1)
    save = FakeSave()
    snaps = Snapshots()
    history = net().fit(
        X, y, validation_data=(Xv, yv), optimizer=gn.Adam(lr=0.05), epochs=12,
        callbacks=[snaps, gn.ModelCheckpoint(tmp_path, save_best_only=True, save_fn=save)],
        verbose=0,
    )  # fmt: skip
    val = history.history["val_loss"]
    improved = [e for e in range(len(val)) if val[e] < min(val[:e], default=np.inf)]
    assert len(improved) < len(val)  # the run has epochs that do not improve
    assert [c["position"][0] - 1 for c in save.calls] == improved
    assert all(c["path"] == str(tmp_path / "best.safetensors") for c in save.calls)
    for call, epoch in zip(save.calls, improved, strict=True):
        np.testing.assert_array_equal(call["weights"], snaps.weights[epoch])


def test_checkpoint_in_a_folder_names_files_by_epoch(tmp_path):
    X, y = problem()
    save = FakeSave()
    folder = tmp_path / "runs"
    net().fit(
        X, y, epochs=2, verbose=0,
        callbacks=[gn.ModelCheckpoint(str(folder) + "/", save_fn=save)],
    )  # fmt: skip
    assert [c["path"] for c in save.calls] == [
        str(folder / "epoch-0001.safetensors"),
        str(folder / "epoch-0002.safetensors"),
    ]


def test_checkpoint_defaults_to_glassnet_io(tmp_path):
    X, y = problem()
    model, opt = net(), gn.SGD(lr=0.1, momentum=0.9)
    model.fit(
        X, y, optimizer=opt, epochs=2, verbose=0,
        callbacks=[gn.ModelCheckpoint(tmp_path / "last.safetensors")],
    )  # fmt: skip
    ckpt = gn.load_checkpoint(tmp_path / "last.safetensors")
    np.testing.assert_array_equal(ckpt.net.flat_params, model.flat_params)
    assert (ckpt.epoch, ckpt.step) == (2, 0)
    assert ckpt.optimizer.t == opt.t
    np.testing.assert_array_equal(
        ckpt.optimizer.state["velocity"], opt.state["velocity"]
    )


def test_checkpoint_path_naming_an_unlogged_value_is_explained(tmp_path):
    X, y = problem()
    checkpoint = gn.ModelCheckpoint(tmp_path / "{val_loss:.2f}.bin", save_fn=FakeSave())
    with pytest.raises(
        ValueError,
        match="names a value that is not logged .*available: epoch, epoch_time, loss, lr",
    ):
        net().fit(X, y, epochs=1, verbose=0, callbacks=[checkpoint])


def test_checkpoint_argument_checks():
    with pytest.raises(
        ValueError, match="every_n_epochs must be a positive integer, got 0"
    ):
        gn.ModelCheckpoint("x", every_n_epochs=0)
    with pytest.raises(TypeError, match="save_fn must be callable"):
        gn.ModelCheckpoint("x", save_fn="save")


# -- CSVLogger -----------------------------------------------------------------------
def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    X, y = problem()
    path = tmp_path / "log.csv"
    model, opt = net(), gn.Adam()
    first = model.fit(
        X, y, optimizer=opt, epochs=2, metrics=["accuracy"], verbose=0,
        callbacks=[gn.CSVLogger(path)],
    )  # fmt: skip
    second = model.fit(
        X, y, optimizer=opt, epochs=3, initial_epoch=2, metrics=["accuracy"],
        verbose=0, callbacks=[gn.CSVLogger(path, append=True)],
    )  # fmt: skip
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    losses = first.history["loss"] + second.history["loss"]
    assert [float(r["loss"]) for r in rows] == losses  # repr() keeps every digit
    assert [float(r["accuracy"]) for r in rows] == (
        first.history["accuracy"] + second.history["accuracy"]
    )
