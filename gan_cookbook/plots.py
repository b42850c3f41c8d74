"""The loss plot of a run, drawn with matplotlib from ``steps.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from gan_cookbook.files import replacing

LOSSES = (("d_loss", "D loss", "tab:blue"), ("g_loss", "G loss", "tab:orange"))


def read_steps(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of ``steps.csv`` as float arrays, one entry per (epoch, step).

    A step recorded twice (an epoch run again after a resume) keeps its last row.
    """
    path = Path(path)
    with path.open(newline="") as file:
        rows = {(row["epoch"], row["step"]): row for row in csv.DictReader(file)}
    if not rows:
        raise ValueError(f"{path}: holds no steps. Received: an empty file")
    ordered = sorted(
        rows.values(), key=lambda row: (int(row["epoch"]), int(row["step"]))
    )
    return {
        key: np.array([float(row[key]) for row in ordered])
        for key in ordered[0]
        if all(row[key] not in ("", None) for row in ordered)
    }


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """A trailing moving average; the first values average what there is so far."""
    if window <= 1:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    starts = np.arange(1, len(values) + 1) - counts
    return (sums[1:] - sums[starts]) / counts


def epoch_axis(
    epochs: np.ndarray, steps: np.ndarray, steps_per_epoch: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Where each step sits on an axis counted in epochs, and the epochs whole.

    Args:
        epochs: Each row's epoch, counted from 1.
        steps: Each row's step within its epoch, counted from 1.
        steps_per_epoch: Steps in a whole epoch. Defaults to the most steps any
            epoch recorded.

    Returns:
        ``epoch - 1 + step / steps_per_epoch`` for each row, and the epochs that
        recorded every step (only those have a mean worth plotting).
    """
    whole = int(steps_per_epoch or steps.max())
    position = epochs - 1 + steps / whole
    counts = {int(epoch): int((epochs == epoch).sum()) for epoch in set(epochs)}
    complete = np.array(sorted(e for e, count in counts.items() if count >= whole))
    return position, complete


def plot_losses(
    steps_path: str | Path, out: str | Path, steps_per_epoch: int | None = None
) -> Path:
    """Draws D's and G's loss per step (raw and smoothed) and per epoch to a PNG.

    The x axis counts epochs in both panels: step ``s`` of an epoch of ``S`` steps
    sits at ``epoch - 1 + s / S``, its epoch's mean at ``epoch``. An epoch that
    stopped part way (a run interrupted there) keeps its steps where they were and
    has no mean.

    Args:
        steps_path: A ``steps.csv`` (:class:`~gan_cookbook.callbacks.StepsCSV`'s).
        out: The PNG to write.
        steps_per_epoch: Steps in a whole epoch. Defaults to the most steps any
            epoch of the file recorded.
    """
    import matplotlib

    # Files only: no display is needed or wanted, on a server or in a test.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = read_steps(steps_path)
    epochs = columns["epoch"].astype(int)
    position, epoch_numbers = epoch_axis(epochs, columns["step"], steps_per_epoch)
    # About 20 points per epoch after smoothing, never under one step.
    window = max(1, int(steps_per_epoch or columns["step"].max()) // 20)

    figure, (per_step, per_epoch) = plt.subplots(
        1, 2, figsize=(11, 4), sharey=True, constrained_layout=True
    )
    for key, label, colour in LOSSES:
        if key not in columns:
            continue
        values = columns[key]
        per_step.plot(position, values, color=colour, alpha=0.2, linewidth=0.7)
        per_step.plot(
            position,
            smooth(values, window),
            color=colour,
            label=label if window == 1 else f"{label} (mean of {window} steps)",
        )
        means = [values[epochs == epoch].mean() for epoch in epoch_numbers]
        if means:
            per_epoch.plot(epoch_numbers, means, "o-", color=colour, label=label)
    per_step.set_title("per step")
    per_epoch.set_title("per epoch (mean)")
    for axes in (per_step, per_epoch):
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend()
    per_step.set_ylabel("loss")
    if len(epoch_numbers) < 15:
        per_epoch.set_xticks(epoch_numbers)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(out) as temporary:
            figure.savefig(temporary, dpi=100)
    finally:
        plt.close(figure)
    return out
