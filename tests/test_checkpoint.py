"""Checkpoints: optimizer state, history, generator state and position survive
exactly; training resumed in a fresh process continues bit for bit; the newest good
checkpoint in a folder is found, skipping corrupt ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import safetensors.numpy

import glassnet as gn
from glassnet.io import container
from glassnet.io.checkpoint import checkpoint_bytes, checkpoint_from_bytes
from glassnet.optim import get_optimizer
from glassnet.training import checkpoint as training_checkpoint

OPTIMIZERS = [
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "amsgrad": True}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.05}),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
]


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.sin(X @ np.array([1.0, -2.0, 0.5]))[:, None]
    return X, y


def _net(dtype="float32", seed=0):
    return gn.Sequential(
        gn.Dense(3, 8, activation="tanh"),
        gn.Dropout(0.2),  # draws from net.rng: the generator state matters
        gn.Dense(8, 1),
        dtype=dtype,
        seed=seed,
    )


def manual_steps(net, optimizer, X, y, steps):
    """A minimal training loop whose batches and dropout masks come from net.rng;
    returns the loss of each step."""
    loss = gn.get_loss("mse")
    X = X.astype(net.dtype)
    Y = net.prepare_targets(y, loss)
    losses = []
    for _ in range(steps):
        idx = net.rng.choice(len(X), size=8, replace=False)
        A = net._forward(X[idx], training=True)
        losses.append(net._backward(loss, A, Y[idx]))
        optimizer.step(net.flat_params, net.flat_grads)
    return losses


# -- exact state -------------------------------------------------------------------------
@pytest.mark.parametrize("name, config", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optimizer_state_round_trips_bitwise(name, config, dtype):
    net = _net(dtype)
    optimizer = get_optimizer(name, **config)
    X, y = _data()
    manual_steps(net, optimizer, X, y, 5)
    data = checkpoint_bytes(net, optimizer, None, net.rng.bit_generator.state, 0, 5)
    ckpt = checkpoint_from_bytes(data)
    assert ckpt.optimizer.config() == optimizer.config()
    assert type(ckpt.optimizer) is type(optimizer)
    saved, restored = optimizer.state_dict(), ckpt.optimizer.state_dict()
    assert saved.keys() == restored.keys()
    for key, value in saved.items():
        if isinstance(value, np.ndarray):
            assert restored[key].dtype == value.dtype
            assert restored[key].tobytes() == value.tobytes(), key
        else:
            assert type(restored[key]) is type(value) and restored[key] == value, key
    assert ckpt.net.flat_params.tobytes() == net.flat_params.tobytes()
    assert ckpt.rng_state == net.rng.bit_generator.state
    assert ckpt.net.rng.bit_generator.state == net.rng.bit_generator.state
    assert (ckpt.epoch, ckpt.step) == (0, 5)


@pytest.mark.parametrize("name, config", OPTIMIZERS[::2])
def test_resumed_steps_are_bitwise_equal_in_process(name, config):
    X, y = _data()
    straight = _net()
    opt = get_optimizer(name, **config)
    curve = manual_steps(straight, opt, X, y, 12)

    first = _net()
    opt1 = get_optimizer(name, **config)
    part1 = manual_steps(first, opt1, X, y, 5)
    ckpt = checkpoint_from_bytes(
        checkpoint_bytes(first, opt1, None, first.rng.bit_generator.state, 0, 5)
    )
    part2 = manual_steps(ckpt.net, ckpt.optimizer, X, y, 7)
    assert part1 + part2 == curve
    assert ckpt.net.flat_params.tobytes() == straight.flat_params.tobytes()


def test_resume_in_a_fresh_process_is_bitwise(tmp_path):
    """Save after 5 steps, continue 7 steps in a new Python process: the weights and
    the loss curve equal 12 uninterrupted steps, for SGD with momentum and Adam."""
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    jobs = []
    for name, config in (OPTIMIZERS[0], OPTIMIZERS[2]):
        straight = _net()
        opt = get_optimizer(name, **config)
        curve = manual_steps(straight, opt, X, y, 12)
        first = _net()
        opt1 = get_optimizer(name, **config)
        part1 = manual_steps(first, opt1, X, y, 5)
        path = tmp_path / f"{name}.safetensors"
        gn.save_checkpoint(path, first, opt1, None, first.rng.bit_generator.state, 0, 5)
        jobs.append((path, straight, curve, part1))
    helper = textwrap.dedent(manual_steps_source())
    script = helper + textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import glassnet as gn
        X = np.load({str(tmp_path / "X.npy")!r}); y = np.load({str(tmp_path / "y.npy")!r})
        out = {{}}
        for path in sys.argv[1:]:
            ckpt = gn.load_checkpoint(path)
            losses = manual_steps(ckpt.net, ckpt.optimizer, X, y, 7)
            gn.save(ckpt.net, path + ".final")
            out[path] = [repr(v) for v in losses]
        print(json.dumps(out))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *(str(job[0]) for job in jobs)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for path, straight, curve, part1 in jobs:
        part2 = [float(v) for v in out[str(path)]]
        assert part1 + part2 == curve
        final = gn.load(str(path) + ".final")
        assert final.flat_params.tobytes() == straight.flat_params.tobytes()


def manual_steps_source() -> str:
    import inspect

    return "import glassnet as gn\n" + inspect.getsource(manual_steps)


def test_history_round_trips():
    from glassnet.training.history import History

    history = History({"epochs": 3, "seed": 11})
    history.append(0, {"loss": 0.5, "lr": 0.1})
    history.append(1, {"loss": float("nan"), "lr": 0.1})
    history.next_epoch, history.next_step = 2, 0
    data = checkpoint_bytes(_net(), None, history, None, 2, 0)
    # io keeps the history as plain data; gn.load_checkpoint's layer makes it a History
    assert checkpoint_from_bytes(data).history == history.to_dict()
    restored = training_checkpoint.checkpoint_from_bytes(data).history
    assert isinstance(restored, History)
    assert restored.to_dict() == history.to_dict()
    assert restored.history["loss"] == [0.5, None]  # NaN is written as null
    assert restored.seed == 11 and (restored.next_epoch, restored.next_step) == (2, 0)


def test_checkpoint_metadata_and_optional_parts(tmp_path):
    path = gn.save_checkpoint(
        tmp_path / "c.safetensors",
        _net(),
        None,
        None,
        None,
        4,
        40,
        metadata={"run": "a"},
    )
    ckpt = gn.load_checkpoint(path)
    assert ckpt.optimizer is None and ckpt.history is None
    assert ckpt.metadata == {"run": "a"} and ckpt.glassnet_version == gn.__version__


# -- save-side and load-side errors -------------------------------------------------------
def test_save_checkpoint_rejects_bad_arguments(tmp_path):
    net = _net()
    path = tmp_path / "c.safetensors"
    with pytest.raises(
        ValueError, match="epoch must be a non-negative integer, got -1"
    ):
        gn.save_checkpoint(path, net, None, None, None, -1, 0)
    with pytest.raises(
        ValueError, match="step must be a non-negative integer, got 1.5"
    ):
        gn.save_checkpoint(path, net, None, None, None, 0, 1.5)
    mt = np.random.Generator(np.random.MT19937(0)).bit_generator.state
    with pytest.raises(ValueError, match="rng_state must be a PCG64 state"):
        gn.save_checkpoint(path, net, None, None, mt, 0, 0)
    with pytest.raises(TypeError, match="history must be a History"):
        gn.save_checkpoint(path, net, None, 5, None, 0, 0)
    with pytest.raises(ValueError, match="history JSON must be an object"):
        gn.save_checkpoint(path, net, None, "[1, 2]", None, 0, 0)
    assert os.listdir(tmp_path) == []


def _edit(data: bytes, training=None, tensors=None, meta=None) -> bytes:
    n = int.from_bytes(data[:8], "little")
    m = json.loads(data[8 : 8 + n])["__metadata__"]
    t = dict(safetensors.numpy.load(data))
    if training is not None:
        m["training"] = json.dumps(training(json.loads(m["training"])))
    if tensors is not None:
        t = tensors(t)
    if meta is not None:
        m = meta(m)
    return container.encode(t, m)


def _message(data: bytes) -> str:
    with pytest.raises(gn.ModelFormatError) as info:
        checkpoint_from_bytes(data)
    return str(info.value)


def test_checkpoint_errors_are_specific():
    net = _net()
    opt = get_optimizer("adam", lr=0.01)
    X, y = _data()
    manual_steps(net, opt, X, y, 2)
    data = checkpoint_bytes(net, opt, None, None, 1, 2)
    ckpt_of = lambda **kw: _message(_edit(data, **kw))  # noqa: E731
    assert "training epoch must be a non-negative integer, got -3" in ckpt_of(
        training=lambda t: {**t, "epoch": -3}
    )
    assert "missing 'training'" in ckpt_of(
        meta=lambda m: {k: v for k, v in m.items() if k != "training"}
    )
    assert "optimizer tensor 'optimizer.m' is float32 of shape (5,)" in ckpt_of(
        tensors=lambda t: {**t, "optimizer.m": np.zeros(5, np.float32)}
    )
    assert "do not match those the training record lists" in ckpt_of(
        tensors=lambda t: {k: v for k, v in t.items() if k != "optimizer.v"}
    )
    assert "optimizer state 't'" in ckpt_of(
        training=lambda t: {
            **t,
            "optimizer_scalars": {**t["optimizer_scalars"], "t": ["int", "x"]},
        }
    )
    assert "cannot rebuild optimizer 'adam'" in ckpt_of(
        training=lambda t: {**t, "optimizer": {**t["optimizer"], "lr": -1.0}}
    )
    assert "cannot rebuild optimizer 'nadam'" in ckpt_of(
        training=lambda t: {**t, "optimizer": {"name": "nadam"}}
    )
    assert "rejected its saved state" in ckpt_of(
        training=lambda t: {
            **t,
            "optimizer_scalars": {
                k: v for k, v in t["optimizer_scalars"].items() if k != "t"
            },
        }
    )
    assert "not a valid PCG64 state" in ckpt_of(
        training=lambda t: {
            **t,
            "rng_state": {**t["rng_state"], "state": {"state": "x"}},
        }
    )
    assert "history: 'history' must map names to lists" in ckpt_of(
        meta=lambda m: {**m, "history": json.dumps({"history": [1], "epoch": []})}
    )
    assert "history is not valid JSON" in ckpt_of(
        meta=lambda m: {**m, "history": "/etc/passwd"}
    )
    nan_state = _edit(
        data, tensors=lambda t: {**t, "optimizer.v": t["optimizer.v"] * np.nan}
    )
    assert "'optimizer.v' holds nan" in _message(nan_state)
    assert checkpoint_from_bytes(nan_state, allow_nonfinite=True).optimizer is not None


# -- latest_checkpoint --------------------------------------------------------------------
def test_latest_checkpoint_skips_corrupt_model_and_temp_files(tmp_path):
    net = _net()
    for epoch, step in ((1, 0), (2, 0), (2, 3)):
        gn.save_checkpoint(
            tmp_path / f"e{epoch}s{step}.safetensors",
            net,
            None,
            None,
            None,
            epoch,
            step,
        )
    assert gn.io.latest_checkpoint(tmp_path) == tmp_path / "e2s3.safetensors"
    # A newer-looking file whose tensor bytes were corrupted: checksum fails, skipped.
    good = (tmp_path / "e2s3.safetensors").read_bytes()
    (tmp_path / "e2s3.safetensors").write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert gn.io.latest_checkpoint(tmp_path) == tmp_path / "e2s0.safetensors"
    # Truncated, garbage, a plain model file and an orphaned temp file: all skipped.
    (tmp_path / "e9s0.safetensors").write_bytes(good[: len(good) // 2])
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    gn.save(net, tmp_path / "model.safetensors")
    (tmp_path / ".e10.safetensors.abc.tmp").write_bytes(good)
    assert gn.io.latest_checkpoint(tmp_path) == tmp_path / "e2s0.safetensors"
    assert gn.load_checkpoint(gn.io.latest_checkpoint(tmp_path)).epoch == 2


def test_latest_checkpoint_empty_or_missing_folder(tmp_path):
    assert gn.io.latest_checkpoint(tmp_path) is None
    assert gn.io.latest_checkpoint(tmp_path / "nope") is None
    (tmp_path / "bad.safetensors").write_bytes(b"x" * 20)
    assert gn.io.latest_checkpoint(tmp_path) is None


def test_latest_checkpoint_orders_by_position_not_name(tmp_path):
    net = _net()
    gn.save_checkpoint(tmp_path / "zzz.safetensors", net, None, None, None, 1, 0)
    gn.save_checkpoint(tmp_path / "aaa.safetensors", net, None, None, None, 10, 0)
    assert gn.io.latest_checkpoint(tmp_path).name == "aaa.safetensors"


# -- glassnet info on a checkpoint --------------------------------------------------------
def test_cli_info_shows_training_position_and_optimizer(tmp_path, capsys):
    from glassnet.cli import main
    from glassnet.training.history import History

    net = _net()
    opt = get_optimizer("sgd", lr=0.05, momentum=0.9)
    history = History()
    history.append(0, {"loss": 0.3, "lr": 0.05})
    path = gn.save_checkpoint(tmp_path / "c.safetensors", net, opt, history, None, 1, 0)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("glassnet checkpoint (format version 1")
    assert "Training position: epoch 1, step 0" in out
    assert (
        "Optimizer: sgd(lr=0.05, momentum=0.9, nesterov=False, weight_decay=0.0)" in out
    )
    assert "History: loss, lr" in out
    assert net.summary() in out


# -- resuming fit in a fresh process --------------------------------------------------------
FIT = {"epochs": 4, "batch_size": 10, "seed": 5, "verbose": 0}  # 48 rows: 5 steps/epoch
RESUME_OPTIMIZERS = {
    "sgd_momentum": ("sgd", {"lr": 0.05, "momentum": 0.9}),
    "adam": ("adam", {"lr": 0.01}),
}


class _Crash(Exception):
    """Stands for the training process dying right after a checkpoint was written."""


def _batch_recorder(losses):
    from glassnet.training import Callback

    class Record(Callback):
        def on_batch_end(self, step, logs):
            losses.append(logs["loss"])

    return Record()


def _crash_after(global_step, losses, save_path=None):
    """Crashes at the end of batch number ``global_step`` (0-based over the run); with
    ``save_path`` it first saves a checkpoint there (mid-epoch), as a per-batch
    ModelCheckpoint would."""
    from glassnet.training import Callback

    class CrashAt(Callback):
        def on_batch_end(self, step, logs):
            if len(losses) - 1 == global_step:
                if save_path is not None:
                    net, trainer = self.model, self.trainer
                    gn.save_checkpoint(
                        save_path, net, trainer.optimizer, trainer.history,
                        net.rng.bit_generator.state, *trainer.position(),
                    )  # fmt: skip
                raise _Crash

    return CrashAt()


def _straight(name, config, X, y):
    net = _net()
    losses = []
    history = net.fit(
        X,
        y,
        optimizer=get_optimizer(name, **config),
        callbacks=[_batch_recorder(losses)],
        **FIT,
    )
    return net, losses, history.history["loss"]


def test_fit_resumed_in_a_fresh_process_is_bitwise(tmp_path):
    """Train 4 epochs straight; separately train until a crash just after a checkpoint
    (at the end of epoch 2 via ModelCheckpoint, or mid-epoch 2 after its third batch),
    then a new Python process finds the newest checkpoint with latest_checkpoint,
    loads it and finishes: the final weights are bitwise equal and the per-batch loss
    curve is identical, for SGD with momentum and for Adam."""
    from glassnet.training import ModelCheckpoint

    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    cases = {}
    for label, (name, config) in RESUME_OPTIMIZERS.items():
        for where in ("epoch_boundary", "mid_epoch"):
            folder = tmp_path / f"{label}-{where}"
            folder.mkdir()
            losses = []
            if where == "epoch_boundary":  # ModelCheckpoint saves at each epoch's end
                callbacks = [
                    _batch_recorder(losses),
                    ModelCheckpoint(folder),
                    _crash_after(2 * 5 + 1, losses),  # dies in epoch 3, after 1 batch
                ]
            else:
                callbacks = [
                    _batch_recorder(losses),
                    ModelCheckpoint(folder),
                    _crash_after(5 + 2, losses, folder / "mid.safetensors"),
                ]
            net = _net()
            with pytest.raises(_Crash):
                net.fit(
                    X,
                    y,
                    optimizer=get_optimizer(name, **config),
                    callbacks=callbacks,
                    **FIT,
                )
            saved_at = (
                10 if where == "epoch_boundary" else 8
            )  # batches done at the save
            cases[str(folder)] = (label, where, losses[:saved_at])

    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import glassnet as gn
        from glassnet.training import Callback

        X = np.load({str(tmp_path / "X.npy")!r}); y = np.load({str(tmp_path / "y.npy")!r})
        FIT = {FIT!r}
        out = {{}}
        for folder in sys.argv[1:]:
            path = gn.io.latest_checkpoint(folder)
            ckpt = gn.load_checkpoint(path)
            losses = []

            class Record(Callback):
                def on_batch_end(self, step, logs):
                    losses.append(logs["loss"])

            history = ckpt.net.fit(
                X, y, optimizer=ckpt.optimizer, callbacks=[Record()],
                initial_epoch=ckpt.epoch, initial_step=ckpt.step,
                **{{**FIT, "seed": ckpt.history.seed}},
            )
            gn.save(ckpt.net, folder + "/final.model")
            out[folder] = {{
                "path": path.name, "epoch": ckpt.epoch, "step": ckpt.step,
                "losses": [repr(v) for v in losses],
                "epoch_losses": [repr(v) for v in ckpt.history.history["loss"]]
                + [repr(v) for v in history.history["loss"]],
            }}
        print(json.dumps(out))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *cases],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    straight = {
        label: _straight(*RESUME_OPTIMIZERS[label], X, y) for label in RESUME_OPTIMIZERS
    }
    for folder, (label, where, before) in cases.items():
        resumed = out[folder]
        net, curve, epoch_curve = straight[label]
        if where == "epoch_boundary":
            assert (resumed["path"], resumed["epoch"], resumed["step"]) == (
                "epoch-0002.safetensors", 2, 0,
            )  # fmt: skip
            # Whole epochs on both sides of the checkpoint: the epoch losses match too.
            assert [float(v) for v in resumed["epoch_losses"]] == epoch_curve
        else:
            assert (resumed["path"], resumed["epoch"], resumed["step"]) == (
                "mid.safetensors",
                1,
                3,
            )
        after = [float(v) for v in resumed["losses"]]
        assert len(before) + len(after) == 20
        assert before + after == curve, (label, where)
        final = gn.load(folder + "/final.model")
        assert final.flat_params.tobytes() == net.flat_params.tobytes(), (label, where)
