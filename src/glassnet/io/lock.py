"""An exclusive lock on a folder for the length of a run, so two runs never write
into the same checkpoint folder at once.

The lock is a small JSON file in the folder (``.glassnet.lock``: hidden, never a
``*.safetensors``) naming its holder: process id, host, start time and command. It is
created whole and exclusively (``atomic.create_exclusive``), so of two runs starting
together exactly one wins, and the other reads who holds it. A lock whose process
is gone (killed with SIGKILL, or the machine restarted) is stale: on the same host,
a process id that no longer runs frees it, and the next run takes it over with a
note. A lock held from another host cannot be checked and is never taken over.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import sys
from pathlib import Path

from ..errors import GlassnetError
from .atomic import create_exclusive

#: The lock file's name inside the locked folder.
LOCK_NAME = ".glassnet.lock"


class FolderLockedError(GlassnetError, OSError):
    """Another live process holds the folder's lock; the message names it."""


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _holder_text(holder: dict) -> str:
    return (
        f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
        f"{holder.get('started', '?')}"
    )


class FolderLock:
    """An exclusive lock on ``folder``, held from ``acquire()`` to ``release()`` (or
    for the ``with`` block).

    Parameters
    ----------
    folder : str or Path
        An existing folder.
    what : str
        Names the folder in messages (default ``"folder"``).

    Attributes
    ----------
    note : str or None
        Set by ``acquire`` when it took over a stale lock: whose, and why.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder) as lock:
    ...     try:
    ...         FolderLock(folder).acquire()
    ...     except FolderLockedError:
    ...         print("refused")
    refused
    >>> FolderLock(folder).acquire().release()  # free again
    """

    def __init__(self, folder, what: str = "folder"):
        self.folder = Path(os.fspath(folder))
        self.path = self.folder / LOCK_NAME
        self.what = what
        self.note: str | None = None
        self._held = False

    def acquire(self) -> FolderLock:
        mine = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now()
            .astimezone()
            .isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }
        data = json.dumps(mine, indent=1).encode("utf-8")
        for _ in range(3):  # a stale lock removed by another run at the same moment
            try:
                create_exclusive(self.path, data)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue  # released between our attempt and our read
                if not self._stale(holder, mine["host"]):
                    raise FolderLockedError(
                        f"{self.what} {str(self.folder)!r} is in use by another run: "
                        f"{_holder_text(holder)} ({holder.get('command', '?')}); wait "
                        "for it to finish or choose another folder"
                    ) from None
                self._remove_stale(holder)
                continue
            self._held = True
            return self
        raise FolderLockedError(
            f"{self.what} {str(self.folder)!r}: could not take the lock "
            f"{str(self.path)!r}, other runs keep taking it"
        )

    def _holder(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            holder = json.loads(text)
        except ValueError:
            holder = None
        if not isinstance(holder, dict):
            return {"pid": -1, "host": "?", "started": "?", "command": "unreadable"}
        return holder

    @staticmethod
    def _stale(holder: dict, host: str) -> bool:
        pid = holder.get("pid")
        if holder.get("command") == "unreadable":
            return True  # created whole by create_exclusive: garbage is not ours
        if holder.get("host") != host:
            return False  # another machine's process cannot be checked from here
        return not isinstance(pid, int) or not _process_alive(pid)

    def _remove_stale(self, holder: dict) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return
        self.note = (
            f"took over the lock of {self.what} {str(self.folder)!r} from "
            f"{_holder_text(holder)}, which is no longer running"
        )

    def release(self) -> None:
        """Removes the lock file if this lock holds it; safe to call twice."""
        if not self._held:
            return
        self._held = False
        holder = self._holder()
        if holder is not None and holder.get("pid") == os.getpid():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False
