"""Cooking a recipe: a run folder, its data, the loop, and what the run leaves.

``cook(recipe)`` is what ``gan-cookbook cook`` and ``python -m
gan_cookbook.recipes.<name>`` call. It keeps the run's policy (the folder, the data,
resume, checkpoints, the disk); the models come from
:func:`~gan_cookbook.gan_model.build_gan_model`. A run folder ends up holding::

    recipe.json            resolved settings, the options given, Keras version and
                           backend, the data's identity
    samples/epoch_0001.png one grid per epoch, from one fixed noise batch
    history.csv            one row per epoch: losses, D's accuracies, timing
    checkpoints/           the newest checkpoint(s): everything a resume needs
    steps.csv              one row per step: losses, D's accuracies
    progress.gif           the epoch grids, one frame each
    losses.png             D's and G's loss per step (smoothed) and per epoch
    generator.keras        loadable with keras.saving.load_model
    discriminator.keras

A run stopped by Ctrl-C (SIGINT) or SIGTERM finishes its step and writes a checkpoint;
a NaN loss stops it with the last good checkpoint kept; ``resume=True`` continues
from the newest checkpoint exactly as the run would have gone on.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gan_cookbook import backend
from gan_cookbook.average import AveragedGenerator, UpdateAverage
from gan_cookbook.callbacks import (
    HistoryCSV,
    LossPlot,
    ProgressGIF,
    SampleGrid,
    StepsCSV,
)
from gan_cookbook.checkpoint import (
    SETTINGS_FILE,
    list_checkpoints,
    load_checkpoint,
    read_settings,
    restore_trainer_state,
    save_checkpoint,
    save_model,
    trainer_state,
    write_json,
)
from gan_cookbook.data import DEFAULT_RESIZE, Dataset, load_path, with_channels
from gan_cookbook.gan_model import (
    GANModel,
    averaged_generator,
    build_gan_model,
    check_batch_size,
    conditional_classes,
    make_trainer,
)
from gan_cookbook.loop import GANTrainer, NonFiniteLossError
from gan_cookbook.recipe import Recipe
from gan_cookbook.sampling import DISCRIMINATOR_FILE, GENERATOR_FILE, RAW_GENERATOR_FILE

DEFAULT_OPTIONS: dict[str, Any] = {
    "epochs": None,
    "batch_size": None,
    "seed": None,
    "precision": None,
    "limit": None,
    "data": None,
    "resize": None,
    "skip_bad_images": False,
    "engine": "classic",
    "checkpoint_every": 1,
    "keep_checkpoints": 1,
    "eval_every": None,
    "eval_count": 10000,
    "tensorboard": None,
}
"""The options of :func:`prepare` a new run takes when they are not given (``None``:
the recipe's setting, or none); a resumed run takes the run's own first."""

# Settings a resumed run must share with the saved one (epochs and the optimizers'
# settings may change: more epochs, or a lower learning rate after a NaN).
RESUME_SETTINGS = (
    ("recipe", "name"),
    ("recipe", "build_generator"),
    ("recipe", "build_discriminator"),
    ("recipe", "noise_dim"),
    ("recipe", "noise"),
    ("recipe", "channels"),
    ("recipe", "precision"),
    ("recipe", "loss"),
    ("recipe", "batch_size"),
    ("recipe", "grid_size"),
    ("recipe", "seed"),
    ("recipe", "average"),
    ("recipe", "conditional"),
    ("data", "source"),
    ("data", "identity"),
    ("data", "images"),
    ("data", "image_shape"),
    ("data", "num_classes"),
)


class RunStopped(RuntimeError):
    """A run ended before its last epoch; the message says how to go on.

    Attributes:
        checkpoint: The checkpoint to resume from, or ``None`` if there is none.
        exit_code: The exit status a command line should end with (130 for SIGINT,
            143 for SIGTERM, 1 for a NaN loss).
    """

    def __init__(self, message: str, checkpoint: Path | None, exit_code: int):
        super().__init__(message)
        self.checkpoint = checkpoint
        self.exit_code = exit_code


class _StopOnSignals(keras.callbacks.Callback):
    """First SIGINT or SIGTERM: stop after the current step. A second: stop now."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        super().__init__()
        self.received: signal.Signals | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopOnSignals:
        # Python lets only the main thread set signal handlers.
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(number)
        print(
            f"\n{self.received.name} received: finishing the current step and writing "
            "a checkpoint (press Ctrl-C again to quit at once).",
            flush=True,
        )

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.received is not None:
            self.model.stop_training = True


class _Checkpointer(keras.callbacks.Callback):
    """Records each epoch's logs and writes a checkpoint every ``every`` epochs."""

    def __init__(self, run: Run, history: list[dict[str, Any]]):
        super().__init__()
        self.run = run
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.history.append({"epoch": epoch + 1, **(logs or {})})
        done = epoch + 1
        if done % self.run.checkpoint_every == 0 or done == self.run.recipe.epochs:
            # UpdateAverage, earlier in the callbacks, refreshed the average at this
            # epoch's end already.
            self.run.save_checkpoint(self.history, refresh_average=False)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What :meth:`Run.cook` leaves, besides the files in the run folder.

    Attributes:
        out: The run folder.
        history: The epochs trained by this call, as ``keras.callbacks.History``.
        epoch_history: Every epoch's logs since the run began, resumed ones included.
        resumed_from: The checkpoint this call continued from, or ``None``.
        generator: The trained generator.
        discriminator: The trained discriminator.
        averaged_generator: The copy of G holding the average of its weights (what
            ``generator.keras`` holds), or ``None`` when the recipe keeps no average.
    """

    out: Path
    history: keras.callbacks.History
    epoch_history: list[dict[str, Any]]
    resumed_from: Path | None
    generator: keras.Model
    discriminator: keras.Model
    averaged_generator: keras.Model | None = None


@dataclasses.dataclass
class Run:
    """A prepared run: validated settings, loaded data, built and compiled models.

    Everything that can be wrong with the input has been checked when a ``Run``
    exists; :meth:`cook` trains, writes the run folder and returns a
    :class:`RunResult`. Made by :func:`prepare`.

    Attributes:
        recipe: The recipe, with the overrides applied.
        out: The run folder.
        dataset: The training images.
        gan_model: The compiled models.
        trainer: Their trainer, restored from ``resumed_from`` when resuming.
        sample_noise: The fixed noise of the epoch grids.
        options: The options :func:`prepare` was given (``None`` values left out),
            as ``recipe.json`` records them.
        resumed_from: The checkpoint restored, or ``None`` for a new run.
        resumed_history: The epoch logs saved in that checkpoint.
        evaluation: The ``eval_every`` callback, or ``None``.
        averaged: The averaged copy of G when the recipe averages, else ``None``.
        num_classes: The data's number of classes for a conditional recipe, else
            ``None``.
    """

    recipe: Recipe
    out: Path
    dataset: Dataset
    gan_model: GANModel
    trainer: GANTrainer
    sample_noise: np.ndarray
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    verbose: int = 1
    callbacks: Sequence[keras.callbacks.Callback] = ()
    checkpoint_every: int = 1
    keep_checkpoints: int = 1
    overwrite: bool = False
    resumed_from: Path | None = None
    resumed_history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    evaluation: keras.callbacks.Callback | None = None
    tensorboard: Path | None = None
    averaged: AveragedGenerator | None = None
    num_classes: int | None = None

    @property
    def generator(self) -> keras.Model:
        return self.gan_model.generator

    @property
    def discriminator(self) -> keras.Model:
        return self.gan_model.discriminator

    @property
    def sampled_generator(self) -> keras.Model:
        """The generator the grids and ``generator.keras`` come from: the averaged
        copy when the recipe averages, else the trained G."""
        return self.generator if self.averaged is None else self.averaged.model

    @property
    def sample_labels(self) -> np.ndarray | None:
        """The classes of the epoch grids' images for a conditional recipe: one
        row of ``grid_size`` images per class."""
        if self.num_classes is None:
            return None
        return np.repeat(
            np.arange(self.num_classes, dtype="int32"), self.recipe.grid_size
        )

    def cook(self) -> RunResult:
        """Trains up to the recipe's epochs and writes the run folder.

        Raises:
            RunStopped: a signal or a NaN loss ended the run early.
        """
        if self.overwrite and self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        always = [] if self.evaluation is None else list(self.evaluation.keys)
        history_csv = HistoryCSV(self.out / "history.csv", always=always)
        steps_csv = StepsCSV(self.out / "steps.csv")
        settings = self.settings()
        if self.resumed_from is not None:
            settings["created"] = read_settings(self.out).get("created")
        write_json(self.out / SETTINGS_FILE, settings)
        epoch_history = list(self.resumed_history)
        if self.resumed_from is not None:
            # Rows after the checkpoint belong to work that is about to be redone.
            history_csv.path.unlink(missing_ok=True)
            for row in epoch_history:
                logs = {key: value for key, value in row.items() if key != "epoch"}
                history_csv.on_epoch_end(row["epoch"] - 1, logs)
            progress = self.trainer.progress
            truncate_steps(steps_csv.path, progress.epoch, progress.step)
        grid = SampleGrid(
            self.sampled_generator,
            self.sample_noise,
            self.out / "samples",
            columns=self.recipe.grid_size,
            labels=self.sample_labels,
        )
        recorders: list[keras.callbacks.Callback] = [grid]
        if self.averaged is not None:
            # First: the grid and the measurement read the refreshed average.
            recorders.insert(0, UpdateAverage(self.averaged))
        if self.evaluation is not None:
            # Before HistoryCSV: it adds its value to the logs HistoryCSV writes.
            recorders.append(self.evaluation)
        recorders += [
            history_csv,
            steps_csv,
            _Checkpointer(self, epoch_history),
            ProgressGIF(self.out / "samples", self.out / "progress.gif"),
            LossPlot(self.out / "steps.csv", self.out / "losses.png"),
        ]
        if self.tensorboard is not None:
            from gan_cookbook.tensorboard import tensorboard_callbacks

            recorders += tensorboard_callbacks(grid, self.tensorboard)
        with _StopOnSignals() as stopper:
            try:
                history = self.trainer.fit(
                    self.dataset.images,
                    self.dataset.labels if self.num_classes is not None else None,
                    batch_size=self.recipe.batch_size,
                    epochs=self.recipe.epochs,
                    callbacks=[*recorders, stopper, *self.callbacks],
                    verbose=self.verbose,
                )
            except NonFiniteLossError as error:
                raise self._diverged(error) from None
        if stopper.received is not None:
            # Written after the handlers are restored: a second Ctrl-C now quits at
            # once, and the atomic writes leave the previous files whole.
            checkpoint = self.save_checkpoint(epoch_history)
            raise RunStopped(
                f"Stopped by {stopper.received.name} {self.position()}. Checkpoint "
                f"written: {checkpoint}; the models in {self.out} are from it.",
                checkpoint,
                128 + int(stopper.received),
            )
        # The last epoch's checkpoint has written the models.
        return RunResult(
            out=self.out,
            history=history,
            epoch_history=epoch_history,
            resumed_from=self.resumed_from,
            generator=self.generator,
            discriminator=self.discriminator,
            averaged_generator=None if self.averaged is None else self.averaged.model,
        )

    def _diverged(self, error: NonFiniteLossError) -> RunStopped:
        checkpoints = list_checkpoints(self.out)
        checkpoint = checkpoints[-1] if checkpoints else None
        kept = (
            f"The last good checkpoint is kept: {checkpoint}. Resume from it with "
            "`resume=True`; if the losses diverge again, lower the learning rates (a "
            "recipe file with other optimizers may resume this run)."
            if checkpoint
            else "No epoch had finished, so there is no checkpoint: start again with "
            "`overwrite=True` and lower learning rates."
        )
        return RunStopped(f"{error} {kept}", checkpoint, 1)

    def position(self) -> str:
        """Where training stands, counted from 1 as the progress bar counts:
        ``"after epoch 3"`` or ``"in epoch 4, after step 54 of 469"``."""
        progress = self.trainer.progress
        if progress.step == 0:
            return f"after epoch {progress.epoch}"
        steps = len(self.dataset.images) // self.recipe.batch_size
        return f"in epoch {progress.epoch + 1}, after step {progress.step} of {steps}"

    def save_checkpoint(
        self, epoch_history: list[dict[str, Any]], refresh_average: bool = True
    ) -> Path:
        """Writes the trainer's state, the sample noise and the epoch logs so far,
        then the models (:meth:`save_models`)."""
        state = trainer_state(self.trainer)
        metadata = {"progress": state["progress"], "history": epoch_history}
        arrays = {**state["arrays"], "sample_noise": self.sample_noise}
        path = save_checkpoint(self.out, arrays, metadata, keep=self.keep_checkpoints)
        self.save_models(refresh_average)
        return path

    def save_models(self, refresh_average: bool = True) -> None:
        """Writes ``generator.keras`` (the generator sampled: the average when the
        recipe averages), ``generator_raw.keras`` (the trained G, beside an
        average) and ``discriminator.keras``, each atomically, so every command
        works on a run that is training, stopped or crashed.

        Args:
            refresh_average: Copy the average into the averaged G first (and
                recompute its BatchNorm statistics). Only a caller that has just
                done so, at an epoch's end, passes False; a run stopped within an
                epoch has moved on since.
        """
        sampled = self.generator
        if self.averaged is not None:
            sampled = self.averaged.update() if refresh_average else self.averaged.model
            save_model(self.generator, self.out / RAW_GENERATOR_FILE)
        save_model(sampled, self.out / GENERATOR_FILE)
        save_model(self.discriminator, self.out / DISCRIMINATOR_FILE)

    def settings(self) -> dict[str, Any]:
        """What ``recipe.json`` records: the resolved recipe, the options given, the
        data and the versions."""
        identity = self.dataset.identity
        return {
            "recipe": self.recipe.to_config(),
            "options": json_ready(self.options),
            "data": {
                "source": self.dataset.source,
                "identity": None if identity is None else identity.to_config(),
                "images": int(len(self.dataset.images)),
                "image_shape": list(self.dataset.images.shape[1:]),
                "num_classes": self.num_classes,
            },
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "seed": self.recipe.seed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def state_bytes(self) -> int:
        """The size of one checkpoint's arrays (float32), optimizer slots included."""
        groups = self.trainer.state_variables().values()
        return sum(int(np.prod(v.shape)) * 4 for group in groups for v in group)


def json_ready(value: Any) -> Any:
    """``value`` with paths as strings, as JSON holds it."""
    return json.loads(json.dumps(value, default=str))


def truncate_steps(path: Path, epoch: int, step: int) -> None:
    """Keeps the rows of ``steps.csv`` up to a checkpoint's position.

    The position is ``epoch`` epochs done and ``step`` steps into the next; rows
    after it record steps a resumed run is about to redo.
    """
    if not path.is_file():
        return
    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    if not rows:
        return
    kept = [
        row
        for row in rows[1:]
        if int(row[0]) <= epoch or (int(row[0]) == epoch + 1 and int(row[1]) <= step)
    ]
    with path.open("w", newline="") as file:
        csv.writer(file).writerows([rows[0], *kept])


def default_out(recipe: Recipe) -> Path:
    """``runs/<recipe>-<date>-<time>``: a fresh folder for every run."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{recipe.name}-{stamp}"
    suffix = 2
    while out.exists():
        out = Path("runs") / f"{recipe.name}-{stamp}-{suffix}"
        suffix += 1
    return out


def check_out(out: Path, overwrite: bool = False) -> None:
    """Refuses a run folder that is a file or already holds something.

    With ``overwrite``, a folder that holds a previous run (it has ``recipe.json``)
    may be replaced; any other non-empty folder is still refused.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"`out` {out} is a file. Expected a new or empty folder. "
            f"Received: out={str(out)!r}"
        )
    if not (out.is_dir() and any(out.iterdir())):
        return
    if not overwrite and (out / SETTINGS_FILE).is_file() and not list_checkpoints(out):
        raise ValueError(
            f"`out` {out} holds a run that stopped before its first checkpoint: "
            "nothing was trained that could be kept. Start it again with "
            f"`overwrite=True`, or choose a new folder. Received: out={str(out)!r}"
        )
    if not overwrite:
        raise ValueError(
            f"`out` {out} already holds files; a run never overwrites another. "
            "Choose a new folder, continue that run with `resume=True`, or replace "
            f"it with `overwrite=True`. Received: out={str(out)!r}"
        )
    if not (out / SETTINGS_FILE).is_file():
        raise ValueError(
            f"`overwrite=True` replaces only a run folder (one holding recipe.json); "
            f"{out} holds other files and is left alone. Received: out={str(out)!r}"
        )


def check_disk(out: Path, needed: int) -> None:
    """Checks that the run folder can be written and has ``needed`` bytes free."""
    existing = out
    while not existing.exists():
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ValueError(
            f"`out` {out}: cannot write in {existing} ({error.strerror}). "
            f"Expected a writable folder. Received: out={str(out)!r}"
        ) from None
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise ValueError(
            f"`out` {out}: {free / 2**20:.0f} MiB free on its disk, about "
            f"{needed / 2**20:.0f} MiB needed for checkpoints, models and samples. "
            f"Received: out={str(out)!r}"
        )


def check_resumable(out: Path) -> list[Path]:
    """The checkpoints of the run in ``out``; a clear error when it has none."""
    received = f"Received: out={str(out)!r}, resume=True"
    if not (out / SETTINGS_FILE).is_file():
        what = "does not exist" if not out.exists() else "holds no recipe.json"
        raise ValueError(
            f"`out` {out} {what}: it is not a run folder, so there is nothing to "
            f"resume. Start a new run instead. {received}"
        )
    checkpoints = list_checkpoints(out)
    if not checkpoints:
        raise ValueError(
            f"`out` {out} holds a run that stopped before its first checkpoint: "
            "nothing was trained that could be resumed. Start it again with "
            f"`overwrite=True` (in place of `resume=True`). {received}"
        )
    return checkpoints


def differences(saved: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """The resume-relevant settings that differ, one line each."""
    given = json_ready(given)
    lines = []
    for section, key in RESUME_SETTINGS:
        before = saved.get(section, {}).get(key)
        after = given.get(section, {}).get(key)
        if before != after:
            lines.append(f"{section}.{key}: {before!r} in the run, {after!r} given")
    return lines


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 1):
        raise ValueError(f"`{name}` must be at least 1. Received: {name}={value!r}")


def _restore(
    trainer: GANTrainer, checkpoint: Path
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Loads a checkpoint into the trainer; returns its sample noise and history."""
    arrays, metadata = load_checkpoint(checkpoint)
    sample_noise = arrays.pop("sample_noise")
    try:
        restore_trainer_state(
            trainer, {"arrays": arrays, "progress": metadata["progress"]}
        )
    except ValueError as error:
        raise ValueError(f"{checkpoint}: {error}") from None
    return sample_noise, list(metadata["history"])


def prepare(
    recipe: Recipe,
    *,
    out: str | Path | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    precision: str | None = None,
    limit: int | None = None,
    data: str | Path | None = None,
    resize: str | None = None,
    skip_bad_images: bool | None = None,
    verbose: int = 1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int | None = None,
    keep_checkpoints: int | None = None,
    engine: str | None = None,
    eval_every: int | None = None,
    eval_count: int | None = None,
    tensorboard: str | Path | None = None,
) -> Run:
    """Checks every setting, loads the data and builds the models; writes nothing.

    With ``resume=True`` every option left at ``None`` is the resumed run's own (its
    ``recipe.json``), so ``prepare(recipe, out=folder, resume=True)`` continues a run
    as it was cooked; an option given that differs from the run's in what training
    depends on is refused with the list of differences.

    Args:
        recipe: The recipe to cook.
        out: The run folder, new or empty. Defaults to ``runs/<name>-<time>``.
        epochs: Overrides the recipe's epochs (with ``resume``: the epoch to
            continue to; defaults to the run's).
        batch_size: Overrides the recipe's batch size.
        seed: Overrides the recipe's seed.
        precision: Overrides the recipe's precision: ``"float32"`` or
            ``"mixed_bfloat16"``.
        limit: Trains on the first ``limit`` images only. Defaults to all.
        data: A file or folder to train on instead of the recipe's data: anything
            :func:`~gan_cookbook.data.load_path` reads.
        resize: How ``data`` images of another size become 28x28 (a
            :data:`~gan_cookbook.data.RESIZE_METHODS` name; ``"none"``: an error).
            Defaults to Lanczos.
        skip_bad_images: Leave out images in ``data`` that Pillow cannot read.
            Defaults to False.
        verbose: 0 silent, 1 a progress bar per epoch, 2 a line per epoch.
        callbacks: More Keras callbacks for the loop.
        resume: Continue the run in ``out`` from its newest checkpoint.
        overwrite: Replace the run already in ``out``.
        checkpoint_every: Write a checkpoint every this many epochs (and at the
            last). Defaults to 1.
        keep_checkpoints: How many checkpoints to keep, newest first. Defaults to 1.
        engine: ``"classic"`` or ``"fused"`` (JAX only): see
            :func:`~gan_cookbook.gan_model.make_trainer`. Defaults to
            ``"classic"``.
        eval_every: Adds the Fréchet distance of ``eval_count`` samples to
            ``history.csv`` every ``eval_every`` epochs. Defaults to never.
        eval_count: Images per measurement. Defaults to 10,000.
        tensorboard: A folder for TensorBoard: epoch scalars and the sample grid.

    Raises:
        ValueError: a setting, the data or the run folder is not usable; the message
            names the argument, Keras style.
    """
    given = {
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "precision": precision,
        "limit": limit,
        "data": None if data is None else str(Path(data).resolve()),
        "resize": resize,
        "skip_bad_images": skip_bad_images or None,
        "engine": engine,
        "checkpoint_every": checkpoint_every,
        "keep_checkpoints": keep_checkpoints,
        "eval_every": eval_every,
        "eval_count": eval_count,
        "tensorboard": tensorboard,
    }
    if resume and overwrite:
        raise ValueError(
            "`resume` and `overwrite` exclude each other: choose one. "
            "Received: resume=True, overwrite=True"
        )
    checkpoints: list[Path] = []
    if resume:
        if out is None:
            raise ValueError(
                "`out` is required when `resume=True`: the folder of the run to "
                "resume. Received: out=None"
            )
        out = Path(out)
        checkpoints = check_resumable(out)
        recorded = read_settings(out).get("options", {})
        given = {
            name: recorded.get(name) if value is None else value
            for name, value in given.items()
        }
    else:
        out = Path(out) if out is not None else default_out(recipe)
        check_out(out, overwrite)
    if given["eval_every"] is None:
        given["eval_count"] = None
    options = {name: value for name, value in given.items() if value is not None}
    chosen = {**DEFAULT_OPTIONS, **options}
    checkpoint_every = chosen["checkpoint_every"]
    keep_checkpoints = chosen["keep_checkpoints"]
    _check_count("checkpoint_every", checkpoint_every)
    _check_count("keep_checkpoints", keep_checkpoints)
    recipe = recipe.replace(
        **{key: chosen[key] for key in ("epochs", "batch_size", "seed", "precision")}
    )
    if data is None:
        data = chosen["data"]  # a resumed run's, made absolute when it was cooked
    limit, resize, tensorboard = (
        chosen["limit"],
        chosen["resize"],
        chosen["tensorboard"],
    )
    skip_bad_images, engine = chosen["skip_bad_images"], chosen["engine"]
    eval_every, eval_count = chosen["eval_every"], chosen["eval_count"]
    if data is not None:
        dataset = load_path(
            data,
            channels=recipe.channels,
            resize=resize or DEFAULT_RESIZE,
            skip_bad_images=skip_bad_images,
        )
    else:
        dataset = with_channels(recipe.load_data(), recipe.channels)
    num_classes = conditional_classes(recipe, dataset)
    dataset = dataset.limit(limit)
    check_batch_size(recipe.batch_size, dataset)

    backend.enable_determinism()
    gan_model = build_gan_model(
        recipe,
        dataset.images.shape[1:],
        num_classes=num_classes,
        steps=recipe.epochs * (len(dataset.images) // recipe.batch_size),
    )
    trainer = make_trainer(
        gan_model, recipe.noise, recipe.seed, engine, recipe.real_label, num_classes
    )
    trainer.check_images(dataset.images)
    if num_classes is not None:
        trainer.check_labels(dataset.labels, len(dataset.images))
    # A conditional run's grids give each class a row of grid_size images.
    rows = recipe.grid_size if num_classes is None else num_classes
    sample_noise = keras.ops.convert_to_numpy(
        recipe.noise.sample(
            (rows * recipe.grid_size, recipe.noise_dim), seed=recipe.seed
        )
    )
    if tensorboard is not None:
        from gan_cookbook.tensorboard import check_installed

        check_installed(tensorboard)
    averaged = averaged_generator(gan_model, recipe.noise, recipe.seed, num_classes)
    evaluation = None
    if eval_every is not None:
        evaluation = _frechet_evaluation(
            gan_model.generator,
            averaged,
            recipe,
            dataset,
            eval_every,
            eval_count,
            verbose,
        )
    run = Run(
        recipe=recipe,
        out=out,
        dataset=dataset,
        gan_model=gan_model,
        trainer=trainer,
        sample_noise=sample_noise,
        options=options,
        averaged=averaged,
        verbose=verbose,
        callbacks=callbacks,
        checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints,
        overwrite=overwrite,
        evaluation=evaluation,
        tensorboard=Path(tensorboard) if tensorboard is not None else None,
        num_classes=num_classes,
    )

    if resume:
        saved = read_settings(out)
        changed = differences(saved, run.settings())
        if changed:
            raise ValueError(
                f"`resume=True`: the settings differ from those of the run in {out}:"
                "\n  " + "\n  ".join(changed)
            )
        run.resumed_from = checkpoints[-1]
        run.sample_noise, run.resumed_history = _restore(trainer, checkpoints[-1])
        progress = trainer.progress
        if progress.epoch >= recipe.epochs:
            raise ValueError(
                f"The run in {out} has already trained {progress.epoch} epochs. "
                f"Pass `epochs` above {progress.epoch} to train further. "
                f"Received: epochs={recipe.epochs}"
            )
    samples = recipe.epochs * 2**20 // 4  # a grid PNG is well under 256 KiB
    check_disk(out, run.state_bytes() * (keep_checkpoints + 3) + samples + 2**20)
    return run


def _frechet_evaluation(
    generator: keras.Model,
    averaged: AveragedGenerator | None,
    recipe: Recipe,
    dataset: Dataset,
    every: int,
    count: int,
    verbose: int,
) -> keras.callbacks.Callback:
    """The ``--eval-every`` callback, its data loaded and checked before training."""
    from gan_cookbook.evaluation import frechet_callback

    # With an average, the average is what is sampled and the trained G is
    # measured beside it.
    sampled = generator if averaged is None else averaged.model
    return frechet_callback(
        sampled,
        recipe.noise,
        dataset,
        every=every,
        count=count,
        seed=recipe.seed,
        verbose=verbose,
        raw_generator=None if averaged is None else generator,
    )


def cook(recipe: Recipe, **options: Any) -> RunResult:
    """Prepares and cooks ``recipe``; options as :func:`prepare` takes them."""
    return prepare(recipe, **options).cook()
