"""Keras callbacks that record a run: sample grids and the loss history."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gan_cookbook.images import save_grid


class SampleGrid(keras.callbacks.Callback):
    """Saves ``folder/epoch_0001.png`` ... at each epoch end, from fixed noise.

    The same noise every epoch, so grids can be compared image for image. G runs in
    inference mode (BatchNorm's moving statistics), as a saved generator will.

    Args:
        generator: The generator to sample.
        noise: The fixed noise batch, ``(columns**2, noise_dim)``.
        folder: Where the PNG files go.
        columns: Images per row. Defaults to a square grid.
    """

    def __init__(
        self,
        generator: keras.Model,
        noise: np.ndarray,
        folder: str | Path,
        columns: int | None = None,
    ):
        super().__init__()
        self.generator = generator
        self.noise = noise
        self.folder = Path(folder)
        self.columns = columns

    def path_for(self, epoch: int) -> Path:
        """The file of ``epoch`` (counted from 0, as Keras does; named from 1)."""
        return self.folder / f"epoch_{epoch + 1:04d}.png"

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        images = self.generator.predict_on_batch(self.noise)
        save_grid(images, self.path_for(epoch), columns=self.columns)


class HistoryCSV(keras.callbacks.Callback):
    """Appends one row per epoch to a CSV file: epoch (from 1), losses, timing.

    Columns: ``epoch, d_loss, g_loss``, the other logged values in name order, then
    ``seconds, images_per_second``. Each row is flushed as it is written.
    """

    FIRST = ("d_loss", "g_loss")
    LAST = ("seconds", "images_per_second")

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.columns: list[str] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.columns is None:
            middle = sorted(set(logs) - set(self.FIRST) - set(self.LAST))
            keys = [key for key in self.FIRST if key in logs] + middle
            self.columns = ["epoch", *keys, *(key for key in self.LAST if key in logs)]
            write_header = not self.path.exists() or self.path.stat().st_size == 0
        else:
            write_header = False
        row = {
            "epoch": epoch + 1,
            **{key: logs.get(key, "") for key in self.columns[1:]},
        }
        with self.path.open("a", newline="") as file:
            writer = csv.DictWriter(
                file, fieldnames=self.columns, extrasaction="ignore"
            )
            if write_header:
                writer.writeheader()
            writer.writerow(row)
