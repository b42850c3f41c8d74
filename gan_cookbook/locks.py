"""One process at a time in a folder: an operating-system lock on a file in it.

The lock is ``fcntl.flock`` on the file: the kernel releases it when the process
ends, however it ends (SIGKILL, the out-of-memory killer), so a lock never outlives
its process and nothing is left to clean by hand. The file itself stays; it holds
who locked it last (process ID, command, time), which the refusal quotes. Where
``fcntl`` does not exist (Windows) nothing is locked.

It imports nothing of the package, and no Keras.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None


class LockHeld(Exception):
    """Another process holds the lock.

    Attributes:
        path: The lock file.
        holder: Who holds it, as the holder wrote it: ``"process 1234 (gan-cookbook
            cook mnist ...), since 2026-12-07 14:02:11"``; ``"another process"``
            when it has not written that yet.
    """

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by {holder}")
        self.path = path
        self.holder = holder


def this_process() -> str:
    """How a lock's holder is named: its process ID, command and start."""
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else ""
    if len(command) > 200:
        command = command[:197] + "..."
    since = datetime.datetime.now().isoformat(sep=" ", timespec="seconds")
    return f"process {os.getpid()} ({command}), since {since}"


@contextlib.contextmanager
def held(path: str | Path) -> Iterator[None]:
    """Holds the lock of ``path`` (made if missing) for the block.

    Raises:
        LockHeld: another process (or another open of it in this one) holds it.
    """
    path = Path(path)
    if fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # "a+": opening must not empty the file before the lock is ours, since the
    # holder's name is in it.
    with path.open("a+", encoding="utf-8") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(path, _holder_written(path)) from None
        file.seek(0)
        file.truncate()
        file.write(this_process() + "\n")
        file.flush()
        yield


def holder(path: str | Path) -> str | None:
    """Who holds the lock of ``path`` now, or ``None`` when nobody does (taking it
    for an instant to find out)."""
    path = Path(path)
    if fcntl is None or not path.is_file():
        return None
    with path.open("a+", encoding="utf-8") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_written(path)
        fcntl.flock(file, fcntl.LOCK_UN)
    return None


def _holder_written(path: Path) -> str:
    try:
        written = path.read_text(encoding="utf-8").strip()
    except OSError:
        written = ""
    return written or "another process"
