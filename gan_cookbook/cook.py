"""Cooking a recipe: a run folder, the models, the loop, and what the run leaves.

``cook(recipe)`` is what ``gan-cookbook cook`` and ``python -m
gan_cookbook.recipes.<name>`` call. A run folder ends up holding::

    recipe.json            resolved settings, Keras version and backend, data
    samples/epoch_0001.png one grid per epoch, from one fixed noise batch
    history.csv            one row per epoch: losses, D's accuracies, timing
    steps.csv              one row per step: losses, D's accuracies
    progress.gif           the epoch grids, one frame each
    losses.png             D's and G's loss per step (smoothed) and per epoch
    generator.keras        loadable with keras.saving.load_model
    discriminator.keras
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gan_cookbook import backend
from gan_cookbook.callbacks import (
    FrechetEvaluation,
    HistoryCSV,
    LossPlot,
    ProgressGIF,
    SampleGrid,
    StepsCSV,
)
from gan_cookbook.data import Dataset, load_npz
from gan_cookbook.loop import GANTrainer, stack
from gan_cookbook.metrics import discriminator_metrics
from gan_cookbook.recipe import Recipe


@dataclasses.dataclass
class Run:
    """A prepared run: validated settings, loaded data, built and compiled models.

    Everything that can be wrong with the input has been checked when a ``Run``
    exists; :meth:`cook` trains and writes the run folder.
    """

    recipe: Recipe
    out: Path
    dataset: Dataset
    generator: keras.Model
    discriminator: keras.Model
    d_on_g: keras.Model
    trainer: GANTrainer
    sample_noise: np.ndarray
    verbose: int = 1
    callbacks: Sequence[keras.callbacks.Callback] = ()
    history: keras.callbacks.History | None = None
    evaluation: FrechetEvaluation | None = None
    tensorboard: Path | None = None

    def cook(self) -> keras.callbacks.History:
        """Trains for the recipe's epochs and writes the run folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "recipe.json").write_text(json.dumps(self.settings(), indent=2))
        grid = SampleGrid(
            self.generator,
            self.sample_noise,
            self.out / "samples",
            columns=self.recipe.grid_size,
        )
        recorders: list[keras.callbacks.Callback] = [grid]
        always = []
        if self.evaluation is not None:
            # Before HistoryCSV: it adds its value to the logs HistoryCSV writes.
            recorders.append(self.evaluation)
            always.append(FrechetEvaluation.KEY)
        recorders += [
            HistoryCSV(self.out / "history.csv", always=always),
            StepsCSV(self.out / "steps.csv"),
            ProgressGIF(self.out / "samples", self.out / "progress.gif"),
            LossPlot(self.out / "steps.csv", self.out / "losses.png"),
        ]
        if self.tensorboard is not None:
            from gan_cookbook.tensorboard import tensorboard_callbacks

            recorders += tensorboard_callbacks(grid, self.tensorboard)
        self.history = self.trainer.fit(
            self.dataset.images,
            batch_size=self.recipe.batch_size,
            epochs=self.recipe.epochs,
            callbacks=[*recorders, *self.callbacks],
            verbose=self.verbose,
        )
        # Saved trainable, so that a loaded D builds its optimizer for its weights.
        self.discriminator.trainable = True
        self.generator.save(self.out / "generator.keras")
        self.discriminator.save(self.out / "discriminator.keras")
        return self.history

    def settings(self) -> dict[str, Any]:
        """What ``recipe.json`` records."""
        return {
            "recipe": self.recipe.to_config(),
            "data": {
                "source": self.dataset.source,
                "images": int(len(self.dataset.images)),
                "image_shape": list(self.dataset.images.shape[1:]),
            },
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "seed": self.recipe.seed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


def default_out(recipe: Recipe) -> Path:
    """``runs/<recipe>-<date>-<time>``: a fresh folder for every run."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{recipe.name}-{stamp}"
    suffix = 2
    while out.exists():
        out = Path("runs") / f"{recipe.name}-{stamp}-{suffix}"
        suffix += 1
    return out


def check_out(out: Path) -> None:
    """Refuses a run folder that is a file or already holds something."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file. Expected a new or empty folder.")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(
            f"--out {out} already holds files; a run never overwrites another. "
            "Choose a new folder or empty this one."
        )


def prepare(
    recipe: Recipe,
    *,
    out: str | Path | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    limit: int | None = None,
    data: str | Path | None = None,
    verbose: int = 1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    eval_every: int | None = None,
    eval_count: int = 10000,
    tensorboard: str | Path | None = None,
) -> Run:
    """Checks every setting, loads the data and builds the models; trains nothing.

    Args:
        recipe: The recipe to cook.
        out: The run folder, new or empty. Defaults to ``runs/<name>-<time>``.
        epochs: Overrides the recipe's epochs.
        batch_size: Overrides the recipe's batch size.
        seed: Overrides the recipe's seed.
        limit: Trains on the first ``limit`` images only. Defaults to all.
        data: An ``.npz`` file (Keras layout) to train on instead of the recipe's data.
        verbose: 0 silent, 1 a progress bar per epoch, 2 a line per epoch.
        callbacks: More Keras callbacks for the loop.
        eval_every: Adds the Fréchet distance of ``eval_count`` samples to
            ``history.csv`` every ``eval_every`` epochs. Defaults to never.
        eval_count: Images per measurement. Defaults to 10,000.
        tensorboard: A folder for TensorBoard: epoch scalars and the sample grid.

    Raises:
        ValueError: a setting, the data or the run folder is not usable; the message
            names it.
    """
    recipe = recipe.replace(epochs=epochs, batch_size=batch_size, seed=seed)
    out = Path(out) if out is not None else default_out(recipe)
    check_out(out)
    dataset = load_npz(data) if data is not None else recipe.load_data()
    dataset = dataset.limit(limit)
    if recipe.batch_size > len(dataset.images):
        raise ValueError(
            f"--batch-size {recipe.batch_size} is larger than the "
            f"{len(dataset.images)} "
            f"training images of {dataset.source}. Use a smaller batch or more images."
        )

    keras.utils.set_random_seed(recipe.seed)
    backend.enable_determinism()
    image_shape = tuple(int(size) for size in dataset.images.shape[1:])
    generator = recipe.build_generator(recipe.noise_dim, image_shape)
    discriminator = recipe.build_discriminator(image_shape)
    discriminator.compile(
        optimizer=recipe.discriminator_optimizer(),
        loss=recipe.loss,
        metrics=discriminator_metrics(),
    )
    d_on_g = stack(generator, discriminator, recipe.generator_optimizer(), recipe.loss)
    # G is compiled with the optimizer that trains it inside d_on_g, so that
    # generator.keras carries that optimizer's state.
    generator.compile(optimizer=d_on_g.optimizer, loss=recipe.loss)
    trainer = GANTrainer(generator, discriminator, d_on_g, recipe.noise, recipe.seed)
    trainer.check_images(dataset.images)
    grid_count = recipe.grid_size**2
    sample_noise = keras.ops.convert_to_numpy(
        recipe.noise.sample((grid_count, recipe.noise_dim), seed=recipe.seed)
    )
    if tensorboard is not None:
        from gan_cookbook.tensorboard import check_installed

        check_installed(tensorboard)
    evaluation = None
    if eval_every is not None:
        evaluation = _frechet_evaluation(
            generator, recipe, dataset, eval_every, eval_count, verbose
        )
    return Run(
        recipe=recipe,
        out=out,
        dataset=dataset,
        generator=generator,
        discriminator=discriminator,
        d_on_g=d_on_g,
        trainer=trainer,
        sample_noise=sample_noise,
        verbose=verbose,
        callbacks=callbacks,
        evaluation=evaluation,
        tensorboard=Path(tensorboard) if tensorboard is not None else None,
    )


def _frechet_evaluation(
    generator: keras.Model,
    recipe: Recipe,
    dataset: Dataset,
    every: int,
    count: int,
    verbose: int,
) -> FrechetEvaluation:
    """The ``--eval-every`` callback, its data loaded and checked before training."""
    from gan_cookbook.classifier import check_labels
    from gan_cookbook.quality import datasets_for_source, evaluation_data

    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(
            f"--eval-every must be an integer of at least 1. Received: {every!r}"
        )
    try:
        training, test = datasets_for_source(dataset.source)
    except ValueError:
        # A source only the recipe knows how to load: measure on what trains.
        training, test = dataset, None
    check_labels(training)
    data = evaluation_data(training, test, count, seed=recipe.seed)
    return FrechetEvaluation(
        generator, recipe.noise, data, every, count, recipe.seed, verbose
    )


def cook(recipe: Recipe, **options: Any) -> Run:
    """Prepares and cooks ``recipe``; options as :func:`prepare` takes them."""
    run = prepare(recipe, **options)
    run.cook()
    return run
