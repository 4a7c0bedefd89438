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


# -- what the target is: devices, FIFOs, links, permissions ---------------------------
def _same(a, b) -> bool:
    return a.flat_params.tobytes() == b.flat_params.tobytes()


def test_fifo_target_is_written_through_and_stays_a_fifo(tmp_path):
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    atomic.atomic_write(fifo, b"through the pipe")
    reader.join(timeout=30)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_character_device_is_written_in_place_never_renamed(tmp_path, monkeypatch):
    """A file the writer is told is a character device (as /dev/null is) is opened
    and written like a shell's >, never replaced: same inode, no rename."""
    import stat

    device = tmp_path / "device"
    device.write_bytes(b"old contents")
    inode = os.stat(device).st_ino
    real_stat = os.stat

    def stat_as_device(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if os.fspath(path) == str(device):
            fields = list(result)
            fields[0] = stat.S_IFCHR | 0o666
            return os.stat_result(fields)
        return result

    def no_rename(*args):
        raise AssertionError("a device must never be renamed over")

    monkeypatch.setattr(atomic.os, "stat", stat_as_device)
    monkeypatch.setattr(atomic.os, "replace", no_rename)
    assert atomic.writes_through(device)
    atomic.atomic_write(device, b"new")
    monkeypatch.undo()
    assert device.read_bytes() == b"new" and os.stat(device).st_ino == inode
    assert os.listdir(tmp_path) == ["device"]


def test_symlink_target_is_replaced_atomically_and_the_link_stays(tmp_path):
    real_folder, link_folder = tmp_path / "real", tmp_path / "links"
    real_folder.mkdir()
    link_folder.mkdir()
    real = real_folder / "model.safetensors"
    gn.save(_net(0), real)
    link = link_folder / "current.safetensors"
    link.symlink_to(real)
    gn.save(_net(1), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert _same(gn.load(real), _net(1))
    assert os.listdir(real_folder) == ["model.safetensors"]  # no temp file left
    assert os.listdir(link_folder) == ["current.safetensors"]
    dangling = link_folder / "next.safetensors"
    dangling.symlink_to(real_folder / "new.safetensors")
    gn.save(_net(2), dangling)
    assert dangling.is_symlink()
    assert _same(gn.load(real_folder / "new.safetensors"), _net(2))


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_replacing_a_file_keeps_its_permission_bits(tmp_path, mode):
    path = tmp_path / "secret.safetensors"
    gn.save(_net(0), path)
    os.chmod(path, mode)
    gn.save(_net(1), path)
    assert (os.stat(path).st_mode & 0o7777) == mode
    assert _same(gn.load(path), _net(1))


def test_folder_block_device_or_socket_target_is_a_clear_error(tmp_path):
    import socket

    with pytest.raises(IsADirectoryError, match="it is a folder"):
        atomic.atomic_write(tmp_path, b"x")
    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        with pytest.raises(OSError, match="not a regular file"):
            atomic.atomic_write(sock_path, b"x")
    finally:
        server.close()
    assert sorted(os.listdir(tmp_path)) == ["s.sock"]


def test_dash_writes_to_standard_output(capsysbinary):
    atomic.atomic_write("-", b"a,b\n1,2\n")
    assert capsysbinary.readouterr().out == b"a,b\n1,2\n"


def test_check_writable_names_what_is_wrong_before_anything_is_written(
    tmp_path, monkeypatch
):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic.check_writable(tmp_path / "missing" / "m.safetensors", "--out")
    with pytest.raises(IsADirectoryError, match="--out .* it is a folder"):
        atomic.check_writable(tmp_path, "--out")
    real_access = os.access
    monkeypatch.setattr(
        atomic.os,
        "access",
        lambda p, m: False if str(p) == str(tmp_path) else real_access(p, m),
    )
    with pytest.raises(PermissionError, match="is not writable"):
        atomic.check_writable(tmp_path / "m.safetensors", "--out")
    monkeypatch.undo()
    atomic.check_writable(tmp_path / "m.safetensors", "--out")
    atomic.check_writable("-")
    assert os.listdir(tmp_path) == []


def test_create_exclusive_never_replaces_an_existing_file(tmp_path):
    path = tmp_path / "lock"
    atomic.create_exclusive(path, b"first")
    with pytest.raises(FileExistsError):
        atomic.create_exclusive(path, b"second")
    assert path.read_bytes() == b"first" and os.listdir(tmp_path) == ["lock"]


def test_predict_out_dev_null_and_dev_stdout_leave_the_devices_alone(tmp_path):
    """Renaming over the target made predict --out /dev/null (as root) replace
    /dev/null by a regular file. Run in a child that first checks the writer treats
    /dev/null as a device (so this test can never harm the machine), then /dev/null is
    checked."""
    import stat

    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, X=rng.normal(size=(20, 4)), y=np.arange(20) % 2)
    model = tmp_path / "m.safetensors"
    script = textwrap.dedent(
        f"""
        import sys
        from glassnet.io.atomic import writes_through
        from glassnet.cli import main
        if not (writes_through("/dev/null") and writes_through("/dev/stdout")):
            sys.exit(99)
        code = main(["train", {str(data)!r}, "--target", "y", "--epochs", "1",
                     "--quiet", "--out", {str(model)!r}])
        code = code or main(["predict", {str(model)!r}, {str(data)!r},
                             "--out", "/dev/null", "--quiet"])
        code = code or main(["predict", {str(model)!r}, {str(data)!r},
                             "--out", "/dev/stdout", "--quiet"])
        sys.exit(code)
        """
    )
    before = os.stat("/dev/null")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120
    )
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("model written to")  # train's line; /dev/null got none
    assert lines[1] == "prediction" and len(lines) == 1 + 21


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can chown"
)
def test_replacing_a_file_keeps_its_owner(tmp_path):
    path = tmp_path / "theirs.safetensors"
    gn.save(_net(0), path)
    os.chown(path, 1234, 2345)
    gn.save(_net(1), path)
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (1234, 2345)
