"""Atomic, durable file writes: a crash mid-save never loses the previous file.

The recipe (the one databases use): write the new bytes to a temporary file in the
same folder, flush and fsync it, ``os.replace`` it onto the target (an atomic rename on
POSIX and Windows), then fsync the folder so the rename itself is on disk. A reader
sees either the whole old file or the whole new one, never a mixture; the old file is
never removed before the new one is complete, and the temporary file is removed if
anything fails.

What the target is decides how it is written:

- a regular file, or a new name: the recipe above; an existing file keeps its
  permission bits (a 0600 file stays 0600), a new one gets the umask's default;
- a symbolic link: the file it points to is replaced by the recipe, in that file's
  folder; the link itself stays a link;
- a character device (``/dev/null``, a terminal), a FIFO, ``/dev/stdout`` and the like,
  or ``-`` (standard output): the bytes are written through, as a shell's ``>`` would,
  since there is nothing to rename onto and renaming would replace the device;
- a folder, a block device or a socket: an error naming it.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import sys
from pathlib import Path

#: Temporary files are named ``.<target name>.<random>.tmp`` in the target's folder:
#: hidden, and never matching ``*.safetensors``, so a crash that leaves one behind
#: (a killed process cannot clean up) never looks like a model file.
TEMP_SUFFIX = ".tmp"
#: The name that means standard output.
STDOUT = "-"
#: Paths that name a process's own streams (``/dev/stdout``, ``/dev/fd/1``,
#: ``/proc/self/fd/1``): written through even when they lead to a regular file, so
#: ``--out /dev/stdout`` with stdout redirected writes into that open file.
_STREAMS = re.compile(r"^/(dev/(stdout|stderr|fd/\d+)|proc/(self|\d+)/fd/\d+)$")


def _open_file(path: str, mode: str):
    """Opens the temporary file (a seam for the fault-injection tests)."""
    return open(path, mode)  # noqa: SIM115 - closed by the caller's ``with``


def temp_path_for(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def writes_through(path) -> bool:
    """True when ``path`` is written in place rather than replaced: ``-``, a
    character device, a FIFO, or a stream of the process (``/dev/stdout``).

    Examples
    --------
    >>> writes_through("-"), writes_through("/dev/null")
    (True, True)
    """
    text = os.fspath(path)
    if text == STDOUT:
        return True
    try:
        mode = os.stat(text).st_mode  # follows symbolic links
    except OSError:
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    return stat.S_ISREG(mode) and bool(_STREAMS.match(os.path.abspath(text)))


def check_writable(path, what: str = "the output") -> None:
    """Raises ``OSError`` now, naming ``path``, when ``atomic_write`` could not write
    it later: a folder, a missing or read-only folder, a block device or a socket.
    Nothing is written.

    Examples
    --------
    >>> check_writable("/no/such/folder/model.safetensors")
    Traceback (most recent call last):
    ...
    FileNotFoundError: cannot write the output '/no/such/folder/model.safetensors': folder '/no/such/folder' does not exist
    """
    if writes_through(path):
        return
    target = _resolved_target(path, what)
    folder = target.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write {what} {os.fspath(path)!r}: folder {str(folder)!r} is not "
            "writable"
        )


def atomic_write(path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` atomically and durably; returns the path.

    See the module's docstring for symbolic links, devices, FIFOs and ``-``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a.bin", b"new").read_bytes()
    b'new'
    """
    given = Path(os.fspath(path))
    if os.fspath(path) == STDOUT:
        _write_stdout(data)
        return given
    if writes_through(path):
        with open(os.fspath(path), "wb") as f:  # a device or FIFO: no rename, no fsync
            f.write(data)
        return given
    target = _resolved_target(path, "to")
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None  # a new file: the umask decides its mode, as for open()
    folder = target.parent
    temp = temp_path_for(target)
    try:
        with _open_file(str(temp), "xb") as f:  # "x": never clobber an existing file
            f.write(data)
            f.flush()
            if old is not None:
                _keep_owner_and_mode(f.fileno(), old)
            os.fsync(f.fileno())  # the bytes are on disk before the rename
        os.replace(temp, target)  # atomic: readers see the old file or the new one
    except BaseException:  # also KeyboardInterrupt: never leave a temp file behind
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)  # the rename itself is durable
    return given


def create_exclusive(path, data: bytes) -> Path:
    """Creates ``path`` holding ``data``, complete, only if no file of that name
    exists; raises ``FileExistsError`` otherwise. Returns the path.

    The bytes go into a temporary file first, which is then hard-linked to ``path``
    (``link`` fails if the name exists, atomically), so another process that finds
    the file always reads all of it: the recipe of lock files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> create_exclusive(folder / "lock", b"1").read_bytes()
    b'1'
    >>> try:
    ...     create_exclusive(folder / "lock", b"2")
    ... except FileExistsError:
    ...     print("taken")
    taken
    """
    target = Path(os.fspath(path))
    temp = temp_path_for(target)
    try:
        with _open_file(str(temp), "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(temp, target)  # fails if ``target`` exists: the exclusive step
    finally:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
    _fsync_folder(target.parent)
    return target


def _keep_owner_and_mode(fd: int, old: os.stat_result) -> None:
    """The new file gets the old one's owner (where allowed) and permission bits."""
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (
        os.getuid(),
        os.getgid(),
    ):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:
            pass  # only root may give a file away; the mode is still kept
    os.chmod(fd, stat.S_IMODE(old.st_mode))  # a 0600 file stays 0600


def _resolved_target(path, what: str) -> Path:
    """The regular file (existing or new) that ``path`` names, through any symbolic
    links; raises ``OSError`` naming ``path`` for anything that cannot be replaced."""
    text = os.fspath(path)
    verb = "save to" if what == "to" else f"write {what}"
    shown = repr(text)
    target = Path(os.path.realpath(text)) if os.path.islink(text) else Path(text)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(f"cannot {verb} {shown}: it is a folder")
    if mode is not None and not stat.S_ISREG(mode):
        raise OSError(
            f"cannot {verb} {shown}: it is not a regular file, a character device "
            "or a FIFO (a block device or socket is never replaced)"
        )
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot {verb} {shown}: folder {str(folder)!r} does not exist"
        )
    return target


def _write_stdout(data: bytes) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # a text-only stdout (as under doctest): decode
        sys.stdout.write(data.decode("utf-8", errors="replace"))
    else:
        sys.stdout.flush()  # what was printed before comes first
        stream.write(data)
    sys.stdout.flush()


def _fsync_folder(folder: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows cannot fsync dirs
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
