"""What ``glassnet train`` does with its outputs: the checkpoint folder's lock, the
checks made before training, the fallback when the final save fails, checkpoint
writes that fail, pruning with --keep, and SIGTERM treated as Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main, train, train_checkpoints
from glassnet.io.lock import LOCK_NAME, FolderLock, FolderLockedError


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def blobs(path, n=48, seed=0):
    """Two classes of four features, separable by their sum; saved as .npz."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X.sum(axis=1) > 0).astype(np.int64)
    np.savez(path, X=X, y=y)
    return path


def train_args(data, *extra):
    return ["train", data, "--target", "y", "--hidden", "8", "--batch-size", "8",
            "--optimizer", "sgd", "--lr", "0.05", *extra]  # fmt: skip


def checkpoints(folder):
    return sorted(p.name for p in folder.iterdir())


# -- the lock --------------------------------------------------------------------------
PAUSING_TRAIN = textwrap.dedent(
    """
    import sys
    from glassnet.cli import main, train

    class Pausing(train.ModelCheckpoint):
        def on_epoch_end(self, epoch, logs):
            super().on_epoch_end(epoch, logs)
            if epoch == 0:  # after the first checkpoint: hold the folder
                print("paused", flush=True)
                sys.stdin.readline()

    train.ModelCheckpoint = Pausing
    sys.exit(main(sys.argv[1:]))
    """
)


def test_second_run_into_a_locked_checkpoint_dir_is_refused(tmp_path, capsys):
    """Without a lock, two runs sharing --checkpoint-dir both exited 0 and the
    checkpoints held the second run's weights. Now the second is refused, naming the
    first (its PID), and the first run's checkpoints are its own."""
    data = blobs(tmp_path / "d.npz")
    ckpt = tmp_path / "ckpt"
    first_out = tmp_path / "first.safetensors"
    first = subprocess.Popen(
        [sys.executable, "-c", PAUSING_TRAIN,
         *map(str, train_args(data, "--epochs", "2", "--quiet", "--seed", "1",
                              "--checkpoint-dir", ckpt, "--out", first_out))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert first.stdout.readline().strip() == "paused"
        held = (ckpt / "epoch-0001.safetensors").read_bytes()
        holder = json.loads((ckpt / LOCK_NAME).read_text())
        assert holder["pid"] == first.pid
        code, _, err = run(
            train_args(data, "--epochs", "2", "--quiet", "--seed", "2",
                       "--checkpoint-dir", ckpt, "--out", tmp_path / "second"),
            capsys,
        )  # fmt: skip
        assert code == 1
        assert f"is in use by another run: process {first.pid} on " in err
        assert "started" in err and err.count("\n") == 1
        code, _, err = run(
            train_args(data, "--epochs", "3", "--quiet", "--checkpoint-dir", ckpt,
                       "--resume", "--out", tmp_path / "second"),
            capsys,
        )  # fmt: skip
        assert code == 1 and f"process {first.pid}" in err
        assert (ckpt / "epoch-0001.safetensors").read_bytes() == held
        assert not (tmp_path / "second").exists()
        out, err = first.communicate("go\n", timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err
    assert checkpoints(ckpt) == ["epoch-0001.safetensors", "epoch-0002.safetensors"]
    final = gn.load_checkpoint(ckpt / "epoch-0002.safetensors")
    model = gn.load(first_out)
    assert final.net.flat_params.tobytes() == model.flat_params.tobytes()
    assert final.metadata["train"]["seed"] == 1


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / LOCK_NAME).write_text(
        json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                    "started": "2026-01-01T00:00:00+00:00", "command": "glassnet"})
    )  # fmt: skip
    data = blobs(tmp_path / "d.npz")
    code, _, err = run(
        train_args(data, "--epochs", "1", "--quiet", "--checkpoint-dir", ckpt,
                   "--out", tmp_path / "m.safetensors"),
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert f"took over the lock of --checkpoint-dir '{ckpt}' from process {dead.pid}" in err  # fmt: skip
    assert "no longer running" in err
    assert checkpoints(ckpt) == ["epoch-0001.safetensors"]  # the lock released too


def test_lock_of_another_host_or_a_live_process_is_never_taken(tmp_path):
    for holder in (
        {"pid": os.getpid(), "host": socket.gethostname()},
        {"pid": 1, "host": "elsewhere.example"},
    ):
        (tmp_path / LOCK_NAME).write_text(json.dumps({**holder, "started": "x"}))
        with pytest.raises(FolderLockedError, match=f"process {holder['pid']} on"):
            FolderLock(tmp_path).acquire()
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == holder["pid"]
    (tmp_path / LOCK_NAME).unlink()
    with FolderLock(tmp_path) as lock:
        assert lock.note is None and (tmp_path / LOCK_NAME).exists()
    assert os.listdir(tmp_path) == []


def test_lock_is_released_when_the_run_fails(tmp_path, capsys):
    data = blobs(tmp_path / "d.npz")
    ckpt = tmp_path / "ckpt"
    code, _, err = run(
        ["train", data, "--target", "nope", "--checkpoint-dir", ckpt, "--quiet"],
        capsys,
    )
    assert code == 1 and "nope" in err
    assert os.listdir(ckpt) == []


# -- checks before training ------------------------------------------------------------
def test_unwritable_outputs_are_refused_before_training(tmp_path, capsys, monkeypatch):
    """Without these checks, --out into a missing folder failed only after training;
    --checkpoint-dir naming a file gave '[Errno 17]'."""
    data = blobs(tmp_path / "d.npz")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = [
        (["--out", tmp_path / "missing" / "m.safetensors"], "does not exist"),
        (["--out", tmp_path], "it is a folder"),
        (
            ["--checkpoint-dir", a_file],
            f"--checkpoint-dir {a_file} is a file, not a folder",
        ),  # fmt: skip
        (
            ["--checkpoint-dir", a_file / "sub"],
            "is a file, so the folder cannot be created",
        ),  # fmt: skip
    ]
    for extra, message in cases:
        code, out, err = run(train_args(data, "--epochs", "1", *extra), capsys)
        assert code == 1 and message in err, (extra, err)
        assert "Epoch" not in out and "reading" not in out
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m: str(p) != str(readonly) and real_access(p, m)
    )
    for extra in (["--out", readonly / "m.safetensors"], ["--checkpoint-dir", readonly / "c"]):  # fmt: skip
        code, out, err = run(train_args(data, "--epochs", "1", *extra), capsys)
        assert code == 1 and "not writable" in err and "Epoch" not in out
    assert sorted(os.listdir(tmp_path)) == ["a_file", "d.npz", "readonly"]


def test_metadata_that_cannot_be_stored_is_refused_before_training(tmp_path, capsys):
    """Without this check, labels read as bytes from an .npz trained, then failed to
    save."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "b.npz", X=rng.normal(size=(30, 3)), y=np.array([b"a", b"b"] * 15))  # fmt: skip
    code, out, err = run(
        ["train", tmp_path / "b.npz", "--target", "y", "--epochs", "1",
         "--out", tmp_path / "m.safetensors"],
        capsys,
    )  # fmt: skip
    assert code == 1 and "metadata cannot be stored" in err and "bytes" in err
    assert "Epoch" not in out and not (tmp_path / "m.safetensors").exists()


# -- failures while training and saving --------------------------------------------------
def test_failed_final_save_writes_the_model_to_a_fallback_file(
    tmp_path, capsys, monkeypatch
):
    data = blobs(tmp_path / "d.npz")
    args = train_args(data, "--epochs", "2", "--quiet")
    assert run([*args, "--out", tmp_path / "straight.safetensors"], capsys)[0] == 0

    def disk_full(net, path, metadata=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_checkpoints, "save", disk_full)
    ckpt = tmp_path / "ckpt"
    out = tmp_path / "m.safetensors"
    code, _, err = run([*args, "--checkpoint-dir", ckpt, "--out", out], capsys)
    assert code == 1 and "No space left on device" in err
    (fallback,) = [p for p in ckpt.iterdir() if p.name.startswith("m-unsaved-")]
    assert f"the trained model was written to {fallback} instead" in err
    straight = gn.load(tmp_path / "straight.safetensors")
    assert gn.load(fallback).flat_params.tobytes() == straight.flat_params.tobytes()
    monkeypatch.chdir(tmp_path)
    code, _, err = run([*args, "--out", out], capsys)
    assert code == 1
    (second,) = [p for p in tmp_path.iterdir() if p.name.startswith("m-unsaved-")]
    assert f"written to {second} instead" in err


def test_failed_checkpoint_write_warns_and_training_goes_on(
    tmp_path, capsys, monkeypatch
):
    data = blobs(tmp_path / "d.npz")
    real_save = train_checkpoints.save_checkpoint

    def failing_at_epoch_2(path, *args):
        if str(path).endswith("epoch-0002.safetensors"):
            raise OSError(28, "No space left on device")
        return real_save(path, *args)

    monkeypatch.setattr(train_checkpoints, "save_checkpoint", failing_at_epoch_2)
    ckpt = tmp_path / "ckpt"
    code, _, err = run(
        train_args(data, "--epochs", "3", "--quiet", "--checkpoint-dir", ckpt,
                   "--out", tmp_path / "m.safetensors"),
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "warning: checkpoint" in err and "epoch-0002.safetensors not written" in err
    assert "training goes on" in err
    assert checkpoints(ckpt) == ["epoch-0001.safetensors", "epoch-0003.safetensors"]
    final = gn.load_checkpoint(ckpt / "epoch-0003.safetensors").net
    model = gn.load(tmp_path / "m.safetensors")
    assert final.flat_params.tobytes() == model.flat_params.tobytes()


def test_prune_keeps_the_newest_and_the_best_and_nothing_else(tmp_path):
    names = [f"epoch-{e:04d}.safetensors" for e in range(1, 7)]
    names += ["interrupted-epoch-0006-step-000002.safetensors", "notes.txt", "best.safetensors"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    removed = train_checkpoints.prune_checkpoints(tmp_path, 2, best=2)
    assert sorted(p.name for p in removed) == [
        "epoch-0001.safetensors", "epoch-0003.safetensors", "epoch-0004.safetensors",
        "epoch-0005.safetensors",
    ]  # fmt: skip
    assert checkpoints(tmp_path) == [
        "best.safetensors", "epoch-0002.safetensors", "epoch-0006.safetensors",
        "interrupted-epoch-0006-step-000002.safetensors", "notes.txt",
    ]  # fmt: skip


def test_keep_prunes_checkpoints_during_the_run(tmp_path, capsys):
    data = blobs(tmp_path / "d.npz")
    ckpt = tmp_path / "ckpt"
    code, _, err = run(
        train_args(data, "--epochs", "6", "--quiet", "--keep", "2",
                   "--checkpoint-dir", ckpt, "--out", tmp_path / "m.safetensors"),
        capsys,
    )  # fmt: skip
    assert code == 0, err
    history = gn.load_checkpoint(ckpt / "epoch-0006.safetensors").history
    val_loss = history["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    expected = {"epoch-0005.safetensors", "epoch-0006.safetensors"}
    expected.add(f"epoch-{best:04d}.safetensors")
    assert set(checkpoints(ckpt)) == expected
    code, _, err = run(train_args(data, "--keep", "-1"), capsys)
    assert code == 1 and "--keep must be 0 (keep all) or more, got -1" in err


def test_keep_defaults_to_the_newest_three_and_the_best(tmp_path, capsys):
    data = blobs(tmp_path / "d.npz")
    ckpt = tmp_path / "ckpt"
    code, _, err = run(
        train_args(data, "--epochs", "7", "--quiet", "--checkpoint-dir", ckpt,
                   "--out", tmp_path / "m.safetensors"),
        capsys,
    )  # fmt: skip
    assert code == 0, err
    val_loss = gn.load_checkpoint(ckpt / "epoch-0007.safetensors").history["val_loss"]
    expected = {f"epoch-{e:04d}.safetensors" for e in (5, 6, 7)}
    expected.add(f"epoch-{int(np.argmin(val_loss)) + 1:04d}.safetensors")
    assert set(checkpoints(ckpt)) == expected


def test_sigterm_writes_a_checkpoint_like_ctrl_c_and_resume_is_bitwise(
    tmp_path, capsys, monkeypatch
):
    """Without the handler, SIGTERM ended the run with no checkpoint at the current
    step, while Ctrl-C wrote one. Now both do, and exit 130."""
    data = blobs(tmp_path / "d.npz", n=50)  # 45 training rows: 6 steps per epoch
    common = train_args(data, "--epochs", "3", "--quiet")
    assert run([*common, "--out", tmp_path / "straight.safetensors"], capsys)[0] == 0

    class SigtermAtStep(train.ModelCheckpoint):
        batches = 0

        def on_batch_end(self, step, logs):
            SigtermAtStep.batches += 1
            if SigtermAtStep.batches == 9:  # epoch 2, after its third step
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(train, "ModelCheckpoint", SigtermAtStep)
    ckpt = tmp_path / "ckpt"
    args = [*common, "--checkpoint-dir", ckpt, "--out", tmp_path / "resumed.safetensors"]  # fmt: skip
    code, _, err = run(args, capsys)
    assert code == 130, err
    assert "interrupted at epoch 2, step 3" in err
    assert checkpoints(ckpt) == [
        "epoch-0001.safetensors", "interrupted-epoch-0001-step-000003.safetensors"
    ]  # fmt: skip
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    monkeypatch.setattr(train, "ModelCheckpoint", gn.ModelCheckpoint)
    code, _, err = run([*args, "--resume"], capsys)
    assert code == 0, err
    straight = gn.load(tmp_path / "straight.safetensors")
    resumed = gn.load(tmp_path / "resumed.safetensors")
    assert resumed.flat_params.tobytes() == straight.flat_params.tobytes()


def test_predict_out_dash_is_standard_output(tmp_path, capsys):
    data = blobs(tmp_path / "d.npz")
    model = tmp_path / "m.safetensors"
    assert run([*train_args(data, "--epochs", "1", "--quiet"), "--out", model], capsys)[0] == 0  # fmt: skip
    code, plain, _ = run(["predict", model, data], capsys)
    assert code == 0
    code, dashed, _ = run(["predict", model, data, "--out", "-"], capsys)
    assert code == 0 and dashed == plain and plain.startswith("prediction\n")
    assert not (tmp_path / "-").exists()
