"""Checkpoints of a run: written atomically, found again, read back.

A checkpoint is one ``.npz`` file in ``<run>/checkpoints/``, named for the position
it holds, epochs and steps counted from 1 as the progress bar counts them:
``epoch_0003.npz`` at the end of epoch 3, ``epoch_0004_step_000054.npz`` after step 54
of epoch 4. It holds the arrays of :func:`trainer_state` and, as a JSON string, the
trainer's progress, the fixed sample noise and the epoch history so far;
:func:`restore_trainer_state` puts a state back into a trainer. Keras is imported by
those two only, when they run, so that the command line can read run folders without
starting a backend.
Beside the checkpoints, :func:`save_model` writes the run's ``.keras`` models the
same way, so that a run can be sampled while it trains or after it stopped.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gan_cookbook.files import replacing

if TYPE_CHECKING:
    from gan_cookbook.loop import GANTrainer

FOLDER = "checkpoints"
_NAME = re.compile(r"epoch_(\d+)(?:_step_(\d+))?\.npz")
_METADATA = "metadata.json"


def checkpoint_name(epoch: int, step: int) -> str:
    """The file name of the position ``epoch`` epochs done and ``step`` steps into
    the next (the trainer's :class:`~gan_cookbook.loop.Progress`)."""
    if step == 0:
        return f"epoch_{epoch:04d}.npz"
    return f"epoch_{epoch + 1:04d}_step_{step:06d}.npz"


def position(path: Path) -> tuple[int, int]:
    """The (epochs done, steps into the next) a checkpoint's name stands for."""
    match = _NAME.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path}: not a checkpoint name. Expected epoch_*.npz.")
    epoch, step = match.groups()
    return (int(epoch), 0) if step is None else (int(epoch) - 1, int(step))


def list_checkpoints(run_folder: str | Path) -> list[Path]:
    """The run's checkpoints, oldest first (temporary files of a write are ignored)."""
    folder = Path(run_folder) / FOLDER
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _NAME.fullmatch(path.name)]
    return sorted(found, key=position)


def trainer_state(trainer: GANTrainer) -> dict[str, Any]:
    """Everything the trainer's next step depends on, as NumPy arrays and plain
    values: its :meth:`~gan_cookbook.loop.GANTrainer.state_variables` and its
    :attr:`~gan_cookbook.loop.GANTrainer.progress`.

    Returns:
        A dict: ``arrays``, each variable's value by ``"<group>/<index>"``
        (``"generator/0000"``), and ``progress``, the position as ``epoch``,
        ``step``, ``totals`` and ``seconds``.
    """
    from keras import ops

    arrays = {}
    for group, variables in trainer.state_variables().items():
        for index, variable in enumerate(variables):
            arrays[f"{group}/{index:04d}"] = ops.convert_to_numpy(variable)
    progress = trainer.progress
    return {
        "arrays": arrays,
        "progress": {
            "epoch": progress.epoch,
            "step": progress.step,
            "totals": dict(progress.totals),
            "seconds": progress.seconds,
        },
    }


def restore_trainer_state(
    trainer: GANTrainer, state: dict[str, Any], *, keep_learning_rates: bool = True
) -> None:
    """Restores what :func:`trainer_state` returned, onto a trainer of models of the
    same shapes, so that its next step is the saved trainer's.

    Args:
        trainer: The trainer to restore, its optimizers built (as a new trainer's
            are).
        state: A state from :func:`trainer_state`, or a checkpoint's arrays and
            ``progress``.
        keep_learning_rates: Keep the optimizers' current learning rates rather
            than the saved ones, so a run can resume with a lower rate.
            Defaults to True.

    Raises:
        ValueError: the state holds another number of variables, or variables of
            other shapes: it comes from another architecture or optimizer.
    """

    arrays = state["arrays"]
    for group, variables in trainer.state_variables().items():
        saved = sorted(key for key in arrays if key.startswith(f"{group}/"))
        if len(saved) != len(variables):
            raise ValueError(
                f"The saved state has {len(saved)} {group} variables where the "
                f"models have {len(variables)}: it comes from another "
                "architecture or optimizer. "
                f"Received: {len(saved)} saved {group} variables"
            )
        for key, variable in zip(saved, variables, strict=True):
            if keep_learning_rates and variable.path.endswith("learning_rate"):
                continue
            value = arrays[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"Saved {key} has shape {tuple(value.shape)} where "
                    f"{variable.path} has {tuple(variable.shape)}: it comes from "
                    f"another architecture. Received: shape {tuple(value.shape)}"
                )
            variable.assign(value)
    progress = state["progress"]
    # The trainer's own Progress type, so this module needs not import the loop.
    trainer.progress = type(trainer.progress)(
        epoch=int(progress["epoch"]),
        step=int(progress["step"]),
        totals={key: float(value) for key, value in progress["totals"].items()},
        seconds=float(progress["seconds"]),
    )


def save_checkpoint(
    run_folder: str | Path,
    arrays: dict[str, np.ndarray],
    metadata: dict[str, Any],
    keep: int = 1,
) -> Path:
    """Writes a checkpoint whole, then keeps only the newest ``keep``.

    The file is written under a temporary name, flushed to disk and renamed, so a
    crash, a full disk or a second Ctrl-C during the write leaves the previous
    checkpoint whole (:func:`~gan_cookbook.files.replacing`).

    Raises:
        DiskFullError: no room for it; the older checkpoints are kept.
    """
    folder = Path(run_folder) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    progress = metadata["progress"]
    path = folder / checkpoint_name(progress["epoch"], progress["step"])
    with replacing(path, durable=True) as temporary, temporary.open("wb") as file:
        np.savez(file, **arrays, **{_METADATA: np.array(json.dumps(metadata))})
    for old in list_checkpoints(run_folder)[:-keep]:
        old.unlink()
    return path


def save_model(model: Any, path: str | Path) -> Path:
    """Saves a Keras model to ``path`` (a ``.keras`` file) whole: a reader, even one
    loading it while the run trains, sees the previous file or the new."""
    path = Path(path)
    with replacing(path) as temporary:
        model.save(temporary)
    return path


class UnreadableCheckpoint(ValueError):
    """A checkpoint file that does not read whole.

    Attributes:
        path: The file.
        reason: Why, as the reading library put it.
    """

    def __init__(self, path: Path, reason: str):
        super().__init__(
            f"{path}: not a readable checkpoint ({reason}). Expected a file written "
            "by gan-cookbook; an older checkpoint may sit beside it."
        )
        self.path = path
        self.reason = reason


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the metadata of a checkpoint file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as contents:
            arrays = {name: contents[name] for name in contents.files}
        metadata = json.loads(str(arrays.pop(_METADATA)))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise UnreadableCheckpoint(path, str(error) or type(error).__name__) from None
    return arrays, metadata


def newest_readable(
    checkpoints: list[Path],
) -> tuple[Path, dict[str, np.ndarray], dict[str, Any], list[tuple[Path, str]]]:
    """The newest of ``checkpoints`` (oldest first) that reads whole, its arrays and
    metadata, and those newer that did not read, each with the reason.

    Every array is read, so a file truncated or damaged after it was written (a
    wrong CRC of the zip) is found here, before training resumes from it.

    Raises:
        ValueError: none reads; the message names each file and why.
    """
    skipped: list[tuple[Path, str]] = []
    for path in reversed(checkpoints):
        try:
            arrays, metadata = load_checkpoint(path)
        except UnreadableCheckpoint as error:
            skipped.append((path, error.reason))
            continue
        return path, arrays, metadata, skipped
    listed = "; ".join(f"{path} ({reason})" for path, reason in skipped)
    raise ValueError(
        f"No checkpoint of the run can be read: {listed}. The run must start "
        "again from its first step (`overwrite=True`)."
    )
