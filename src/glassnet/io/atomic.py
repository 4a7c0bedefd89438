"""Atomic, durable file writes: a crash mid-save never loses the previous file.

The recipe (the one databases use): write the new bytes to a temporary file in the
same folder, flush and fsync it, ``os.replace`` it onto the target (an atomic rename on
POSIX and Windows), then fsync the folder so the rename itself is on disk. A reader
sees either the whole old file or the whole new one, never a mixture; the old file is
never removed before the new one is complete, and the temporary file is removed if
anything fails.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: Temporary files are named ``.<target name>.<random>.tmp`` in the target's folder:
#: hidden, and never matching ``*.safetensors``, so a crash that leaves one behind
#: (a killed process cannot clean up) never looks like a model file.
TEMP_SUFFIX = ".tmp"


def _open_file(path: str, mode: str):
    """Opens the temporary file (a seam for the fault-injection tests)."""
    return open(path, mode)  # noqa: SIM115 - closed by the caller's ``with``


def temp_path_for(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def atomic_write(path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` atomically and durably; returns the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a.bin", b"new").read_bytes()
    b'new'
    """
    target = Path(os.fspath(path))
    if target.is_dir():
        raise IsADirectoryError(f"cannot save to {str(target)!r}: it is a folder")
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot save to {str(target)!r}: folder {str(folder)!r} does not exist"
        )
    temp = temp_path_for(target)
    try:
        with _open_file(str(temp), "xb") as f:  # "x": never clobber an existing file
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename
        os.replace(temp, target)  # atomic: readers see the old file or the new one
    except BaseException:  # also KeyboardInterrupt: never leave a temp file behind
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)  # the rename itself is durable
    return target


def _fsync_folder(folder: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows cannot fsync dirs
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
