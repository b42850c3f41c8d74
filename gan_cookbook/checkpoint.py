"""Checkpoints of a run: written atomically, found again, read back.

A checkpoint is one ``.npz`` file in ``<run>/checkpoints/``, named for the position
it holds (``epoch_0003_step_000000.npz``: 3 epochs and 0 further steps done). It
holds the arrays of :meth:`GANTrainer.get_state` and, as a JSON string, the trainer's
progress, the fixed sample noise and the epoch history so far.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FOLDER = "checkpoints"
_NAME = re.compile(r"epoch_(\d+)_step_(\d+)\.npz")
_METADATA = "metadata.json"


def checkpoint_name(epoch: int, step: int) -> str:
    return f"epoch_{epoch:04d}_step_{step:06d}.npz"


def list_checkpoints(run_folder: str | Path) -> list[Path]:
    """The run's checkpoints, oldest first (temporary files of a write are ignored)."""
    folder = Path(run_folder) / FOLDER
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _NAME.fullmatch(path.name)]
    return sorted(
        found, key=lambda path: tuple(map(int, _NAME.fullmatch(path.name).groups()))
    )


def save_checkpoint(
    run_folder: str | Path,
    arrays: dict[str, np.ndarray],
    metadata: dict[str, Any],
    keep: int = 1,
) -> Path:
    """Writes a checkpoint atomically, then keeps only the newest ``keep``.

    The file is written under a temporary name, flushed to disk and renamed, so a
    crash or a second Ctrl-C during the write leaves the previous checkpoint whole.
    """
    folder = Path(run_folder) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    progress = metadata["progress"]
    path = folder / checkpoint_name(progress["epoch"], progress["step"])
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("wb") as file:
            np.savez(file, **arrays, **{_METADATA: np.array(json.dumps(metadata))})
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_folder(folder)
    for old in list_checkpoints(run_folder)[:-keep]:
        old.unlink()
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the metadata of a checkpoint file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as contents:
            arrays = {name: contents[name] for name in contents.files}
        metadata = json.loads(str(arrays.pop(_METADATA)))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path}: not a readable checkpoint ({error}). Expected a file written by "
            "gan-cookbook; an older checkpoint may sit beside it."
        ) from None
    return arrays, metadata


def _sync_folder(folder: Path) -> None:
    """Makes the rename itself durable where the platform allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
