"""Keras callbacks that record a run: sample grids, the loss history per epoch and per
step, the progress GIF, the loss plot, and the Fréchet distance every N epochs
(:func:`frechet_callback` makes that one, its data loaded and checked)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from PIL import Image

from gan_cookbook.checks import check_integer
from gan_cookbook.data import Dataset
from gan_cookbook.evaluation.generation import (
    FRECHET_KEY,
    FRECHET_RAW_KEY,
    LABEL_KEY,
    draw_labels,
    draw_noise,
    noise_size,
    takes_labels,
)
from gan_cookbook.evaluation.measure import Evaluator, evaluator_of
from gan_cookbook.files import appending, write_text
from gan_cookbook.images import save_gif, save_grid
from gan_cookbook.noise import Noise
from gan_cookbook.plots import plot_losses


class SampleGrid(keras.callbacks.Callback):
    """Saves ``folder/epoch_0001.png`` ... at each epoch end, from fixed noise.

    The same noise every epoch, so grids can be compared image for image. G runs in
    inference mode (BatchNorm's moving statistics), as a saved generator will.

    Args:
        generator: The generator to sample.
        noise: The fixed noise batch, ``(columns**2, noise_dim)``.
        folder: Where the PNG files go.
        columns: Images per row. Defaults to a square grid.
        labels: For a conditional generator, the class of each noise vector (the
            run's grids give each class a row). Defaults to ``None``.
    """

    def __init__(
        self,
        generator: keras.Model,
        noise: np.ndarray,
        folder: str | Path,
        columns: int | None = None,
        labels: np.ndarray | None = None,
    ):
        super().__init__()
        self.generator = generator
        self.noise = noise
        self.folder = Path(folder)
        self.columns = columns
        self.labels = labels

    def path_for(self, epoch: int) -> Path:
        """The file of ``epoch`` (counted from 0, as Keras does; named from 1)."""
        return self.folder / f"epoch_{epoch + 1:04d}.png"

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        inputs = self.noise if self.labels is None else [self.noise, self.labels]
        images = self.generator.predict_on_batch(inputs)
        save_grid(images, self.path_for(epoch), columns=self.columns)


class HistoryCSV(keras.callbacks.Callback):
    """Appends one row per epoch to a CSV file: epoch (from 1), losses, timing.

    Columns: ``epoch, d_loss, g_loss``, the other logged values in name order, then
    ``seconds, images_per_second``. Each row is flushed as it is written.
    """

    FIRST = ("d_loss", "g_loss")
    LAST = ("seconds", "images_per_second")

    def __init__(self, path: str | Path, always: Sequence[str] = ()):
        """``always`` names columns to include even when the first epoch's logs lack
        them (a value logged every N epochs); rows without the value leave it empty."""
        super().__init__()
        self.path = Path(path)
        self.always = tuple(always)
        self.columns: list[str] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.columns is None:
            middle = sorted(
                (set(logs) | set(self.always)) - set(self.FIRST) - set(self.LAST)
            )
            keys = [key for key in self.FIRST if key in logs] + middle
            self.columns = ["epoch", *keys, *(key for key in self.LAST if key in logs)]
            write_header = not self.path.exists() or self.path.stat().st_size == 0
        else:
            write_header = False
        row = {
            "epoch": epoch + 1,
            **{key: logs.get(key, "") for key in self.columns[1:]},
        }
        with appending(self.path) as file:
            writer = csv.DictWriter(
                file, fieldnames=self.columns, extrasaction="ignore"
            )
            if write_header:
                writer.writeheader()
            writer.writerow(row)


class StepsCSV(keras.callbacks.Callback):
    """Appends one row per training step to a CSV file: ``epoch, step`` (from 1),
    ``d_loss, g_loss`` and the other values logged at batch end.

    Rows are written at each epoch end (one file operation an epoch, not a step). An
    existing file is appended to under its own header, so a resumed run continues it.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.columns: list[str] | None = None
        self.rows: list[dict[str, Any]] = []
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        self.rows = []

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self.rows.append({"epoch": self.epoch + 1, "step": batch + 1, **(logs or {})})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.rows:
            return
        write_header = not self.path.exists() or self.path.stat().st_size == 0
        if self.columns is None:
            if write_header:
                keys = set(self.rows[0]) - {"epoch", "step"}
                first = [key for key in HistoryCSV.FIRST if key in keys]
                self.columns = ["epoch", "step", *first, *sorted(keys - set(first))]
            else:
                with self.path.open(newline="") as file:
                    self.columns = next(csv.reader(file))
        with appending(self.path) as file:
            writer = csv.DictWriter(
                file, fieldnames=self.columns, extrasaction="ignore"
            )
            if write_header:
                writer.writeheader()
            writer.writerows(self.rows)
        self.rows = []

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        # A run stopped within an epoch keeps the steps it did.
        self.on_epoch_end(self.epoch)

    def truncate(self, epoch: int, step: int) -> None:
        """Keeps the file's rows up to a checkpoint's position: ``epoch`` epochs
        done and ``step`` steps into the next. Rows after it record steps that a
        resumed run is about to redo; a row cut short (a killed write) goes too.
        The file is replaced whole, so a crash now loses no row."""
        if not self.path.is_file():
            return
        with self.path.open(newline="") as file:
            rows = list(csv.reader(file))
        if not rows:
            return
        header = rows[0]
        kept = [
            row
            for row in rows[1:]
            if len(row) == len(header)
            and (
                int(row[0]) <= epoch
                or (int(row[0]) == epoch + 1 and int(row[1]) <= step)
            )
        ]
        text = io.StringIO(newline="")
        csv.writer(text).writerows([header, *kept])
        write_text(self.path, text.getvalue())


class StopOnSignal(keras.callbacks.Callback):
    """Ends training after the step in which ``signals`` (a
    :class:`~gan_cookbook.launch.StopSignals`) noted a signal."""

    def __init__(self, signals: Any):
        super().__init__()
        self.signals = signals

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.signals.received is not None:
            self.model.stop_training = True


class ProgressGIF(keras.callbacks.Callback):
    """At train end, makes ``progress.gif`` from every ``epoch_*.png`` in a folder.

    Built from the files on disk rather than from this run's epochs, so a resumed run's
    GIF shows the epochs before the resume too.

    Args:
        samples: The folder of epoch grids (:class:`SampleGrid`'s).
        path: The GIF to write.
        duration: Milliseconds per epoch frame; the last frame shows for a second more.
    """

    def __init__(self, samples: str | Path, path: str | Path, duration: int = 250):
        super().__init__()
        self.samples = Path(samples)
        self.path = Path(path)
        self.duration = duration

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        files = sorted(self.samples.glob("epoch_*.png"))
        if not files:
            return
        frames = []
        for file in files:
            with Image.open(file) as picture:
                frames.append(
                    np.asarray(
                        picture.convert("L" if picture.mode in ("L", "1") else "RGB")
                    )
                )
        frames = [
            frame[..., np.newaxis] if frame.ndim == 2 else frame for frame in frames
        ]
        durations = [self.duration] * (len(frames) - 1) + [self.duration + 1000]
        save_gif(frames, self.path, duration=durations)


class LossPlot(keras.callbacks.Callback):
    """At train end, draws ``losses.png`` from ``steps.csv`` (:class:`StepsCSV`'s).

    Drawn from the file, so a resumed run's plot covers the whole run.
    """

    def __init__(self, steps: str | Path, path: str | Path):
        super().__init__()
        self.steps = Path(steps)
        self.path = Path(path)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.steps.is_file() and self.steps.stat().st_size > 0:
            plot_losses(self.steps, self.path, steps_per_epoch=self.params.get("steps"))


class FrechetEvaluation(keras.callbacks.Callback):
    """Every ``every`` epochs, puts the Fréchet distance into the epoch's logs.

    Made by :func:`frechet_callback`, which loads and checks its data; the measuring
    is its :class:`~gan_cookbook.evaluation.Evaluator`'s.
    It must come before :class:`HistoryCSV` in the callback list (it writes into the
    ``logs`` dict the later callbacks read), and HistoryCSV must be told the column
    (``always=[FrechetEvaluation.KEY]``), since the first epoch may not be measured.
    The same noise every time, so epochs compare without sampling noise between them;
    a conditional generator draws the same labels every time too, with the training
    labels' class frequencies.

    With ``raw_generator`` (the trained G, when ``generator`` is its average) it
    measures both, the trained one under keys ending ``_raw``. A conditional
    generator is measured on its label accuracy too (:attr:`LABEL_KEY`).

    Args:
        generator: The generator, run in inference mode as a saved one is.
        noise: The distribution of its input.
        evaluator: Measures against the reference images; its classifier and the
            reference statistics are computed when training begins.
        every: Measures after epochs ``every``, ``2 * every``, ...
        count: Generated images per measurement, at most the reference's.
        seed: Seeds the noise.
        raw_generator: A second generator measured the same way, or ``None``.
    """

    KEY = FRECHET_KEY
    RAW_KEY = FRECHET_RAW_KEY
    LABEL_KEY = LABEL_KEY

    def __init__(
        self,
        generator: keras.Model,
        noise: Noise,
        evaluator: Evaluator,
        every: int,
        count: int = 10000,
        seed: int = 0,
        raw_generator: keras.Model | None = None,
    ):
        super().__init__()
        self.generator = generator
        self.noise = noise
        self.evaluator = evaluator
        self.every = check_integer("every", every, 1)
        self.count = min(count, evaluator.size)
        self.seed = seed
        self.raw_generator = raw_generator
        self.noise_vectors: np.ndarray | None = None
        self.labels: np.ndarray | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The columns it fills: :attr:`KEY`, :attr:`LABEL_KEY` for a conditional
        generator, and the same of the trained generator (``_raw``) beside an
        average."""
        keys = [self.KEY]
        if takes_labels(self.generator):
            keys.append(self.LABEL_KEY)
        if self.raw_generator is not None:
            keys += [self.RAW_KEY] + [f"{key}_raw" for key in keys[1:]]
        return tuple(keys)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.evaluator.prepare()
        self.noise_vectors = draw_noise(
            self.noise, self.count, noise_size(self.generator), self.seed
        )
        if takes_labels(self.generator):
            # The training labels' class mix, which the reference images share.
            training_labels = self.evaluator.data.training.labels
            self.labels = draw_labels(training_labels, self.count, self.seed)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every or logs is None:
            return
        logs.update(
            self.evaluator.epoch_scores(self.generator, self.noise_vectors, self.labels)
        )
        if self.raw_generator is not None:
            scores = self.evaluator.epoch_scores(
                self.raw_generator, self.noise_vectors, self.labels
            )
            # FRECHET_RAW_KEY is FRECHET_KEY's name with "_raw".
            logs.update({f"{key}_raw": value for key, value in scores.items()})


def frechet_callback(
    generator: keras.Model,
    noise: Noise,
    dataset: Dataset,
    *,
    every: int,
    count: int = 10000,
    seed: int = 0,
    verbose: int = 1,
    raw_generator: keras.Model | None = None,
) -> FrechetEvaluation:
    """The ``--eval-every`` callback, its data loaded and checked before training.

    The data are the full splits of ``dataset``'s identity
    (:func:`~gan_cookbook.evaluation.splits_of`); the classifier itself is loaded (or
    trained) when training begins.

    Args:
        generator: The generator being trained.
        noise: The distribution of its input.
        dataset: The training data.
        every: Measures after epochs ``every``, ``2 * every``, ...
        count: Generated (and reference) images per measurement.
        seed: Seeds the noise and the choice of real images.
        verbose: Say so when a classifier is trained.
        raw_generator: The trained generator when ``generator`` is its average:
            measured beside it, as ``frechet_distance_raw``. Defaults to ``None``.

    Raises:
        ValueError: ``every`` or ``count`` is not a valid count, the data have no
            labels (the classifier needs them), or the generator's images do not
            have the data's shape.
    """
    every = check_integer("every", every, 1)
    count = check_integer("count", count, 2)
    evaluator = evaluator_of(dataset, count, seed, verbose)
    evaluator.check_generator(generator)
    return FrechetEvaluation(
        generator, noise, evaluator, every, count, seed, raw_generator=raw_generator
    )
