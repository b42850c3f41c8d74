"""Files that stay whole: every write of a run either completes or leaves the
previous file as it was.

A whole file is written under a temporary name beside its final one (a dot first,
``.epoch_0003.tmp.npz``, so no reader of the folder takes it for a real one) and
renamed over it only once written (:func:`replacing`); a row appended to a CSV file
is cut off again if the append fails (:func:`appending`). A write that fails for
lack of space raises :class:`DiskFullError`, which names the file and the space
left, with the temporary file removed. After a crash, :func:`remove_temporaries`
clears what a killed write left.

It imports nothing of the package, and no Keras.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FULL = (errno.ENOSPC, errno.EDQUOT)
"""The errors of a disk (or a quota) with no room left."""

EXIT_DISK_FULL = 74
"""The exit status of a command stopped by a full disk (``EX_IOERR`` of
``sysexits.h``: an input/output error)."""


class DiskFullError(OSError):
    """A write failed for lack of space; nothing was left under the file's name.

    Attributes:
        path: The file that could not be written.
        free: Bytes free on its disk when the write failed.
    """

    def __init__(self, path: str | Path, error: OSError):
        self.path = Path(path)
        self.free = free_bytes(self.path)
        super().__init__(
            error.errno,
            f"The disk is full: writing {self.path} failed "
            f"({error.strerror or error}); {mebibytes(self.free)} free in "
            f"{self.path.parent}",
            str(self.path),
        )

    def __str__(self) -> str:
        return str(self.strerror)


def mebibytes(count: int) -> str:
    """``"12.3 MiB"``."""
    return f"{count / 2**20:.1f} MiB"


def free_bytes(path: str | Path) -> int:
    """The bytes free on the disk of ``path`` (or of its nearest existing folder)."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return shutil.disk_usage(existing).free
    except OSError:
        return 0


def disk_full_cause(error: BaseException | None) -> OSError | None:
    """The full disk's ``OSError`` behind ``error`` (``error`` itself or one it was
    raised from: libraries, Keras' saving and Pillow, may wrap it), else ``None``."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in FULL:
            return error
        error = error.__cause__ or error.__context__
    return None


def _raise_if_disk_full(path: Path, error: BaseException) -> None:
    """Raises :class:`DiskFullError` for ``path`` when ``error`` is a full disk
    not already named as one."""
    cause = disk_full_cause(error)
    if cause is not None and not isinstance(error, DiskFullError):
        raise DiskFullError(path, cause) from error


def temporary_path(path: str | Path) -> Path:
    """The name a write of ``path`` uses until it is whole: hidden, same suffix
    (Keras and Pillow choose the format by it)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


@contextlib.contextmanager
def replacing(path: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yields a temporary path to write; renames it over ``path`` once the block
    ends, and removes it if the block raises.

    Args:
        path: The final file.
        durable: Flush the file and its folder to the disk before and after the
            rename (a checkpoint), not only to the operating system.

    Raises:
        DiskFullError: the block failed for lack of space.
    """
    path = Path(path)
    temporary = temporary_path(path)
    try:
        yield temporary
        if durable:
            _sync(temporary)
        os.replace(temporary, path)
        if durable:
            _sync(path.parent)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        _raise_if_disk_full(path, error)
        raise


@contextlib.contextmanager
def appending(path: str | Path) -> Iterator[IO[str]]:
    """Yields ``path`` opened to append text; if the block raises, the file is cut
    back to the length it had, so no partial row stays.

    Raises:
        DiskFullError: the block failed for lack of space.
    """
    path = Path(path)
    length = path.stat().st_size if path.exists() else 0
    try:
        with path.open("a", newline="", encoding="utf-8") as file:
            yield file
    except BaseException as error:
        # Cutting a file back needs no space.
        with contextlib.suppress(OSError):
            os.truncate(path, length)
        _raise_if_disk_full(path, error)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Writes ``text`` (UTF-8) whole: a reader sees the old file or the new."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: str | Path, value: Any) -> None:
    """Writes ``value`` as JSON whole: a reader sees the old file or the new."""
    write_text(path, json.dumps(value, indent=2))


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Removes what killed writes left in ``folder`` and its subfolders (files named
    as :func:`temporary_path` names them); returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [path for path in folder.rglob(".*.tmp*") if path.is_file()]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def _sync(path: Path) -> None:
    """Flushes a file or a folder to the disk where the platform allows it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
