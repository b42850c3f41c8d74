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

import dataclasses
import sys
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
    StopOnSignal,
)
from gan_cookbook.checkpoint import (
    newest_readable,
    restore_trainer_state,
    save_checkpoint,
    save_model,
    trainer_state,
)
from gan_cookbook.files import (
    EXIT_DISK_FULL,
    DiskFullError,
    mebibytes,
)
from gan_cookbook.gan_model import (
    GANModel,
    averaged_generator,
)
from gan_cookbook.launch import StopSignals
from gan_cookbook.loaders import Dataset
from gan_cookbook.loop import GANTrainer, NonFiniteLossError
from gan_cookbook.options import CookOptions
from gan_cookbook.recipe import Recipe
from gan_cookbook.run_folder import (
    DataRecord,
    RunFolder,
    RunRecord,
    now,
    open_run_folder,
)
from gan_cookbook.training import (
    build_trainer,
    frechet_evaluation,
    load_training_data,
    sample_noise_of,
    steps_per_execution_of,
)


class RunStopped(RuntimeError):
    """A run ended before its last epoch; the message says how to go on.

    Attributes:
        checkpoint: The checkpoint to resume from, or ``None`` if there is none.
        exit_code: The exit status a command line should end with (130 for SIGINT,
            143 for SIGTERM, 1 for a NaN loss, 74 for a full disk).
    """

    def __init__(self, message: str, checkpoint: Path | None, exit_code: int):
        super().__init__(message)
        self.checkpoint = checkpoint
        self.exit_code = exit_code


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
        folder: The run folder.
        dataset: The training images.
        gan_model: The compiled models.
        trainer: Their trainer, restored from ``resumed_from`` when resuming.
        sample_noise: The fixed noise of the epoch grids.
        options: The options :func:`prepare` was given, merged with a resumed run's.
        resumed_from: The checkpoint restored, or ``None`` for a new run.
        resumed_history: The epoch logs saved in that checkpoint.
        evaluation: The ``eval_every`` callback, or ``None``.
        averaged: The averaged copy of G when the recipe averages, else ``None``.
        num_classes: The data's number of classes for a conditional recipe, else
            ``None``.
        notes: What a resume found and did about it (a damaged checkpoint set
            aside, a run begun again), printed when cooking starts.
        damaged: The checkpoints newer than ``resumed_from`` that did not read;
            :meth:`cook` renames each to ``<name>.damaged``.
    """

    recipe: Recipe
    folder: RunFolder
    dataset: Dataset
    gan_model: GANModel
    trainer: GANTrainer
    sample_noise: np.ndarray
    options: CookOptions = dataclasses.field(default_factory=CookOptions)
    verbose: int = 1
    callbacks: Sequence[keras.callbacks.Callback] = ()
    overwrite: bool = False
    resumed_from: Path | None = None
    resumed_history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    evaluation: keras.callbacks.Callback | None = None
    averaged: AveragedGenerator | None = None
    num_classes: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    damaged: list[Path] = dataclasses.field(default_factory=list)

    @classmethod
    def build(
        cls,
        recipe: Recipe,
        folder: RunFolder,
        dataset: Dataset,
        options: CookOptions,
        **settings: Any,
    ) -> Run:
        """A run of ``recipe`` on ``dataset``: its compiled models and trainer, its
        grids' noise, the average of G when the recipe keeps one and the
        ``eval_every`` measurement, each checked.

        Args:
            **settings: The other fields: ``num_classes``, ``verbose``,
                ``callbacks``, ``overwrite``.
        """
        num_classes = settings.get("num_classes")
        # A run repeats exactly: resumed, it equals the straight run.
        backend.enable_determinism()
        gan_model, trainer = build_trainer(
            recipe,
            dataset,
            num_classes,
            options.engine_or_default,
            steps_per_execution=steps_per_execution_of(recipe, options),
        )
        if options.tensorboard is not None:
            from gan_cookbook.tensorboard import check_installed

            check_installed(options.tensorboard)
        averaged = averaged_generator(gan_model, recipe.noise, recipe.seed, num_classes)
        evaluation = frechet_evaluation(
            gan_model, averaged, recipe, dataset, options, settings.get("verbose", 1)
        )
        return cls(
            recipe=recipe,
            folder=folder,
            dataset=dataset,
            gan_model=gan_model,
            trainer=trainer,
            sample_noise=sample_noise_of(recipe, num_classes),
            options=options,
            evaluation=evaluation,
            averaged=averaged,
            **settings,
        )

    @property
    def out(self) -> Path:
        return self.folder.path

    @property
    def checkpoint_every(self) -> int:
        return self.options.checkpoint_every_or_default

    @property
    def keep_checkpoints(self) -> int:
        return self.options.keep_checkpoints_or_default

    @property
    def tensorboard(self) -> Path | None:
        tensorboard = self.options.tensorboard
        return None if tensorboard is None else Path(tensorboard)

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
        """Trains up to the recipe's epochs and writes the run folder, holding its
        lock (:meth:`~gan_cookbook.run_folder.RunFolder.hold`) all the while.

        Raises:
            RunStopped: a signal, a NaN loss or a full disk ended the run early.
            ValueError: another process cooks in the folder.
        """
        with self.folder.hold():
            try:
                return self._cook()
            except DiskFullError as error:
                raise self._disk_full(error) from None

    def _cook(self) -> RunResult:
        folder = self.folder
        for note in self.notes:
            print(note, file=sys.stderr, flush=True)
        if self.overwrite:
            folder.clear()
        for path in self.damaged:
            path.replace(path.with_name(path.name + ".damaged"))
        record = self.record()
        if self.resumed_from is not None:
            record = dataclasses.replace(record, created=folder.read_record().created)
        folder.write_record(record)
        epoch_history = list(self.resumed_history)
        always = [] if self.evaluation is None else list(self.evaluation.keys)
        history_csv = HistoryCSV(folder.history_csv, always=always)
        steps_csv = StepsCSV(folder.steps_csv)
        if self.resumed_from is not None:
            # Rows after the checkpoint belong to work that is about to be redone.
            history_csv.path.unlink(missing_ok=True)
            for row in epoch_history:
                logs = {key: value for key, value in row.items() if key != "epoch"}
                history_csv.on_epoch_end(row["epoch"] - 1, logs)
            progress = self.trainer.progress
            steps_csv.truncate(progress.epoch, progress.step)
        grid = SampleGrid(
            self.sampled_generator,
            self.sample_noise,
            folder.samples,
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
            ProgressGIF(folder.samples, folder.progress_gif),
            LossPlot(folder.steps_csv, folder.losses_png),
        ]
        if self.tensorboard is not None:
            from gan_cookbook.tensorboard import tensorboard_callbacks

            recorders += tensorboard_callbacks(grid, self.tensorboard)
        with StopSignals() as signals:
            try:
                history = self.trainer.fit(
                    self.dataset.images,
                    self.dataset.labels if self.num_classes is not None else None,
                    batch_size=self.recipe.batch_size,
                    epochs=self.recipe.epochs,
                    callbacks=[*recorders, StopOnSignal(signals), *self.callbacks],
                    verbose=self.verbose,
                )
            except NonFiniteLossError as error:
                raise self._diverged(error) from None
        if signals.received is not None:
            # Written after the handlers are restored: a second Ctrl-C now quits at
            # once, and the atomic writes leave the previous files whole.
            checkpoint = self.save_checkpoint(epoch_history)
            raise RunStopped(
                f"Stopped by {signals.received.name} {self.position()}. Checkpoint "
                f"written: {checkpoint}; the models in {self.out} are from it.",
                checkpoint,
                128 + int(signals.received),
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

    def _disk_full(self, error: DiskFullError) -> RunStopped:
        checkpoint = self.folder.newest_checkpoint()
        kept = (
            f"Every file already written is whole; the newest checkpoint is "
            f"{checkpoint}."
            if checkpoint
            else "No checkpoint was written yet."
        )
        return RunStopped(
            f"{error}; the run needs about {mebibytes(self.bytes_needed())} for its "
            f"checkpoints, models and samples. {kept} Free some space, then resume: "
            "the run goes on from that checkpoint exactly.",
            checkpoint,
            EXIT_DISK_FULL,
        )

    def _diverged(self, error: NonFiniteLossError) -> RunStopped:
        checkpoint = self.folder.newest_checkpoint()
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
        block = self.recipe.batch_size * self.recipe.d_steps
        steps = len(self.dataset.images) // block
        return f"in epoch {progress.epoch + 1}, after step {progress.step} of {steps}"

    def save_checkpoint(
        self, epoch_history: list[dict[str, Any]], refresh_average: bool = True
    ) -> Path:
        """Writes the models (:meth:`save_models`), then the trainer's state, the
        sample noise and the epoch logs so far: a checkpoint exists only once its
        models are written, so a process killed between the two redoes them."""
        state = trainer_state(self.trainer)
        metadata = {"progress": state["progress"], "history": epoch_history}
        arrays = {**state["arrays"], "sample_noise": self.sample_noise}
        self.save_models(refresh_average)
        return save_checkpoint(self.out, arrays, metadata, keep=self.keep_checkpoints)

    def restore(self, epochs_given: bool = True) -> None:
        """Continues from the run folder's newest readable checkpoint: its trainer
        state, sample noise and epoch logs. Newer checkpoints that do not read
        (truncated, damaged) are skipped, and set aside by :meth:`cook`; a run
        with no checkpoint yet is cooked again from its first step.

        Raises:
            ValueError: the settings differ from the saved run's, no checkpoint
                reads, the checkpoint does not fit the models, or the run has
                trained its epochs already.
        """
        self.folder.check_same_run(self.record())
        checkpoints = self.folder.checkpoints()
        if not checkpoints:
            self.notes.append(
                f"{self.out} holds no checkpoint yet (the run stopped in its first "
                "epoch): cooking it again from its first step."
            )
            self.overwrite = True
            return
        try:
            checkpoint, arrays, metadata, skipped = newest_readable(checkpoints)
        except ValueError as error:
            raise ValueError(f"`out` {self.out}: {error}") from None
        for path, reason in skipped:
            self.notes.append(
                f"Skipped the checkpoint {path} ({reason}): it is renamed "
                f"{path.name}.damaged; resuming from {checkpoint.name}."
            )
            self.damaged.append(path)
        self.sample_noise = arrays.pop("sample_noise")
        try:
            restore_trainer_state(
                self.trainer, {"arrays": arrays, "progress": metadata["progress"]}
            )
        except ValueError as error:
            raise ValueError(f"{checkpoint}: {error}") from None
        self.resumed_from = checkpoint
        self.resumed_history = list(metadata["history"])
        trained = self.trainer.progress.epoch
        if trained >= self.recipe.epochs:
            received = (
                f"epochs={self.recipe.epochs}"
                if epochs_given
                else f"epochs=None (the run's own, {self.recipe.epochs})"
            )
            raise ValueError(
                f"The run in {self.out} has already trained "
                f"{epochs_phrase(trained)}. Pass `epochs` above {trained} to train "
                f"further. Received: {received}"
            )

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
            save_model(self.generator, self.folder.raw_generator_path)
        save_model(sampled, self.folder.generator_path)
        save_model(self.discriminator, self.folder.discriminator_path)

    def record(self) -> RunRecord:
        """What ``recipe.json`` records: the resolved recipe, the options given, the
        data and the versions."""
        identity = self.dataset.identity
        return RunRecord(
            recipe=self.recipe.to_config(),
            options=self.options.recorded(),
            data=DataRecord(
                source=self.dataset.source,
                identity=None if identity is None else identity.to_config(),
                images=int(len(self.dataset.images)),
                image_shape=list(self.dataset.images.shape[1:]),
                num_classes=self.num_classes,
            ),
            keras_version=keras.__version__,
            backend=keras.backend.backend(),
            seed=self.recipe.seed,
            created=now(),
        )

    def state_bytes(self) -> int:
        """The size of one checkpoint's arrays (float32), optimizer slots included."""
        groups = self.trainer.state_variables().values()
        return sum(int(np.prod(v.shape)) * 4 for group in groups for v in group)

    def bytes_needed(self) -> int:
        """About what the run writes: its checkpoints and models, a grid an epoch."""
        samples = self.recipe.epochs * 2**20 // 4  # a grid PNG is well under 256 KiB
        return self.state_bytes() * (self.keep_checkpoints + 3) + samples + 2**20


def epochs_phrase(count: int) -> str:
    """``"1 epoch"``, ``"3 epochs"``."""
    return f"{count} epoch" if count == 1 else f"{count} epochs"


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
    steps_per_execution: int | None = None,
    eval_every: int | None = None,
    eval_count: int | None = None,
    tensorboard: str | Path | None = None,
) -> Run:
    """Checks every setting, loads the data and builds the models; writes nothing.

    Args:
        recipe: The recipe to cook.
        out: The run folder, new or empty. Defaults to ``runs/<name>-<time>``.
        resume: Continue the run in ``out`` from its newest checkpoint, with the
            run's own options (its ``recipe.json``) where none is given.
        overwrite: Replace the run already in ``out``.
        verbose: 0 silent, 1 a progress bar per epoch, 2 a line per epoch.
        callbacks: More Keras callbacks for the loop.
        epochs, batch_size, ...: The options, each with its default, as
            :class:`~gan_cookbook.options.CookOptions` describes them.

    Raises:
        ValueError: a setting, the data or the run folder is not usable; the message
            names the argument, Keras style.
    """
    arguments = locals()
    given = CookOptions.given(**{name: arguments[name] for name in CookOptions.names()})
    folder, options = open_run_folder(recipe.name, out, given, resume, overwrite)
    recipe = recipe.replace(**options.recipe_overrides())
    dataset, num_classes = load_training_data(recipe, options)
    run = Run.build(  # the models, their trainer, the average and the measurement
        recipe,
        folder,
        dataset,
        options,
        num_classes=num_classes,
        verbose=verbose,
        callbacks=callbacks,
        overwrite=overwrite,
    )
    if resume:
        run.restore(epochs_given=epochs is not None)
    folder.check_disk(run.bytes_needed())
    return run


def cook(recipe: Recipe, **options: Any) -> RunResult:
    """Prepares and cooks ``recipe``; options as :func:`prepare` takes them."""
    return prepare(recipe, **options).cook()
