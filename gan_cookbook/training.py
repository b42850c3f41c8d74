"""What a run trains: its data and its compiled models and trainer, made from a
recipe; :func:`~gan_cookbook.cook.prepare` and :func:`~gan_cookbook.bench.benchmark`
both start here."""

from __future__ import annotations

import keras
import numpy as np

from gan_cookbook.average import AveragedGenerator
from gan_cookbook.callbacks import frechet_callback
from gan_cookbook.data import load_path
from gan_cookbook.gan_model import (
    GANModel,
    build_gan_model,
    check_batch_size,
    conditional_classes,
    make_trainer,
)
from gan_cookbook.loaders import Dataset, with_channels
from gan_cookbook.loop import GANTrainer
from gan_cookbook.options import CookOptions
from gan_cookbook.pixels import DEFAULT_RESIZE
from gan_cookbook.recipe import Recipe


def load_training_data(
    recipe: Recipe, options: CookOptions
) -> tuple[Dataset, int | None]:
    """The images a run trains on (the recipe's, or ``options.data``) in the
    recipe's channels and up to ``options.limit``, and a conditional recipe's
    number of classes (else ``None``).

    Raises:
        ValueError: the data cannot be read, lack the labels a conditional recipe
            needs, or hold fewer images than one batch.
    """
    if options.data is not None:
        dataset = load_path(
            options.data,
            channels=recipe.channels,
            resize=options.resize or DEFAULT_RESIZE,
            skip_bad_images=bool(options.skip_bad_images),
        )
    else:
        dataset = with_channels(recipe.load_data(), recipe.channels)
    num_classes = conditional_classes(recipe, dataset)
    dataset = dataset.limit(options.limit)
    check_batch_size(recipe.batch_size * recipe.d_steps, dataset)
    return dataset, num_classes


def build_trainer(
    recipe: Recipe,
    dataset: Dataset,
    num_classes: int | None,
    engine: str = "classic",
    steps: int | None = None,
    steps_per_execution: int = 1,
) -> tuple[GANModel, GANTrainer]:
    """The recipe's compiled models for ``dataset`` and their trainer, checked
    against the images (and labels).

    Args:
        steps: The run's steps, where a recipe's rates decay to 0. Defaults to the
            recipe's epochs over ``dataset``.
        steps_per_execution: Whole steps one compiled call runs (the fused
            engine's). Defaults to 1.
    """
    if steps is None:
        steps = recipe.epochs * (
            len(dataset.images) // (recipe.batch_size * recipe.d_steps)
        )
    gan_model = build_gan_model(
        recipe, dataset.images.shape[1:], num_classes=num_classes, steps=steps
    )
    trainer = make_trainer(
        gan_model,
        recipe.noise,
        recipe.seed,
        engine,
        recipe.real_label,
        num_classes,
        objective=recipe.objective,
        d_steps=recipe.d_steps,
        steps_per_execution=steps_per_execution,
    )
    trainer.check_images(dataset.images)
    if num_classes is not None:
        trainer.check_labels(dataset.labels, len(dataset.images))
    return gan_model, trainer


def sample_noise_of(recipe: Recipe, num_classes: int | None) -> np.ndarray:
    """The fixed noise of a run's epoch grids; a conditional run's grids give each
    class a row of ``grid_size`` images."""
    rows = recipe.grid_size if num_classes is None else num_classes
    noise = recipe.noise.sample(
        (rows * recipe.grid_size, recipe.noise_dim), seed=recipe.seed
    )
    return keras.ops.convert_to_numpy(noise)


def frechet_evaluation(
    gan_model: GANModel,
    averaged: AveragedGenerator | None,
    recipe: Recipe,
    dataset: Dataset,
    options: CookOptions,
    verbose: int,
) -> keras.callbacks.Callback | None:
    """The ``eval_every`` callback, its data loaded and checked before training;
    ``None`` when nothing is evaluated."""
    if options.eval_every is None:
        return None
    # With an average, the average is what is sampled and the trained G is
    # measured beside it.
    sampled = gan_model.generator if averaged is None else averaged.model
    return frechet_callback(
        sampled,
        recipe.noise,
        dataset,
        every=options.eval_every,
        count=options.eval_count_or_default,
        seed=recipe.seed,
        verbose=verbose,
        raw_generator=None if averaged is None else gan_model.generator,
    )


def steps_per_execution_of(recipe: Recipe, options: CookOptions) -> int:
    """The steps a compiled call runs: the option when given (a classic engine
    refuses one above 1), else the recipe's for the fused engine, else 1."""
    if options.steps_per_execution is not None:
        return options.steps_per_execution
    return recipe.steps_per_execution if options.engine_or_default == "fused" else 1
