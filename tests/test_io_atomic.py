"""Atomic, durable saves: an interrupted save never harms the previous file.

Faults are injected where a real save fails: the file write stops after k bytes (disk
full, I/O error, Ctrl-C) for many k, fsync fails, the rename fails, and the process is
killed outright in the middle of a write.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import atomic


def _net(seed):
    return gn.Sequential(
        gn.Dense(4, 8, activation="tanh"),
        gn.Dense(8, 2, activation="softmax"),
        seed=seed,
    )


class _FailingFile:
    """A real file that accepts ``budget`` bytes, writes them, then raises."""

    def __init__(self, path, mode, budget, error):
        self._file = open(path, mode)  # noqa: SIM115 - closed in __exit__
        self._budget = budget
        self._error = error

    def write(self, data):
        data = bytes(data)
        if len(data) > self._budget:
            self._file.write(data[: self._budget])
            self._file.flush()
            self._budget = 0
            raise self._error
        self._budget -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


def _offsets(size):
    """Many byte offsets: every boundary that matters, and a spread in between."""
    points = {0, 1, 7, 8, 9, 100, size // 2, size - 9, size - 1}
    points.update(range(0, size, max(1, size // 40)))
    return sorted(p for p in points if 0 <= p < size)


@pytest.mark.parametrize(
    "error", [OSError(28, "No space left on device"), KeyboardInterrupt()]
)
def test_save_interrupted_at_many_offsets_keeps_the_old_file(
    tmp_path, monkeypatch, error
):
    path = tmp_path / "model.safetensors"
    old_net = _net(0)
    gn.save(old_net, path)
    old_bytes = path.read_bytes()
    new_net = _net(1)
    size = len(gn.io.to_bytes(new_net))
    offsets = _offsets(size)
    assert len(offsets) >= 40
    for k in offsets:
        monkeypatch.setattr(
            atomic,
            "_open_file",
            lambda p, mode, k=k: _FailingFile(p, mode, k, error),
        )
        with pytest.raises(type(error)):
            gn.save(new_net, path)
        assert path.read_bytes() == old_bytes, f"old file changed at offset {k}"
        assert os.listdir(tmp_path) == ["model.safetensors"], f"stray file at {k}"
    monkeypatch.undo()
    loaded = gn.load(path)
    assert loaded.flat_params.tobytes() == old_net.flat_params.tobytes()
    gn.save(new_net, path)  # and an uninterrupted save then replaces it
    assert gn.load(path).flat_params.tobytes() == new_net.flat_params.tobytes()


def test_checkpoint_interrupted_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    net = _net(0)
    gn.save_checkpoint(path, net, None, None, None, 1, 10)
    old_bytes = path.read_bytes()
    for k in (0, 8, 500, 1500):
        monkeypatch.setattr(
            atomic,
            "_open_file",
            lambda p, mode, k=k: _FailingFile(p, mode, k, OSError("EIO")),
        )
        with pytest.raises(OSError, match="EIO"):
            gn.save_checkpoint(path, _net(5), None, None, None, 2, 20)
        assert path.read_bytes() == old_bytes
        assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    monkeypatch.undo()
    assert gn.load_checkpoint(path).epoch == 1
    assert gn.io.latest_checkpoint(tmp_path) == path


def test_fsync_or_rename_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    gn.save(_net(0), path)
    old_bytes = path.read_bytes()

    def failing(*args, **kwargs):
        raise OSError("injected")

    for name in ("fsync", "replace"):
        with monkeypatch.context() as patch:
            patch.setattr(atomic.os, name, failing)
            with pytest.raises(OSError, match="injected"):
                gn.save(_net(1), path)
        assert path.read_bytes() == old_bytes
        assert os.listdir(tmp_path) == ["model.safetensors"]


def test_write_order_is_write_fsync_replace_fsync_folder(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        kind = "folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"
        events.append(("fsync", kind))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.dirname(src) == os.path.dirname(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    gn.save(_net(0), tmp_path / "model.safetensors")
    assert events == [("fsync", "file"), ("replace", True), ("fsync", "folder")]


def test_process_killed_mid_write_leaves_old_file_and_only_a_hidden_temp(tmp_path):
    """os._exit after k bytes: no cleanup code runs, as with kill -9 or power loss
    before the rename. The target still holds the old model; the orphan temp file is
    hidden and never mistaken for a model or checkpoint."""
    path = tmp_path / "ckpt.safetensors"
    net = _net(0)
    gn.save_checkpoint(path, net, None, None, None, 1, 10)
    old_bytes = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, glassnet as gn
        from glassnet.io import atomic
        real_open = atomic._open_file
        class Dying:
            def __init__(self, p, mode):
                self.f = real_open(p, mode)
            def write(self, data):
                self.f.write(bytes(data)[:700]); self.f.flush()
                os._exit(9)
            def __enter__(self): return self
            def __exit__(self, *a): self.f.close()
        atomic._open_file = Dying
        net = gn.Sequential(gn.Dense(4, 8, activation="tanh"), gn.Dense(8, 2), seed=3)
        gn.save_checkpoint({str(path)!r}, net, None, None, None, 2, 20)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120
    )
    assert result.returncode == 9, result.stderr.decode()
    assert path.read_bytes() == old_bytes
    leftovers = [name for name in os.listdir(tmp_path) if name != path.name]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ckpt.safetensors.")
    assert leftovers[0].endswith(".tmp")
    assert gn.io.latest_checkpoint(tmp_path) == path
    assert gn.load_checkpoint(path).epoch == 1


def test_save_keeps_existing_target_when_data_cannot_be_encoded(tmp_path):
    path = tmp_path / "model.safetensors"
    gn.save(_net(0), path)
    old_bytes = path.read_bytes()
    with pytest.raises(TypeError):
        gn.save(_net(1), path, metadata={"bad": np.ones(1)})
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_atomic_write_respects_umask_like_open(tmp_path):
    target = atomic.atomic_write(tmp_path / "a.bin", b"x")
    reference = tmp_path / "b.bin"
    reference.write_bytes(b"x")
    assert (target.stat().st_mode & 0o777) == (reference.stat().st_mode & 0o777)
