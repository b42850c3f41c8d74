"""What a run trains: its data and its compiled models and trainer, made from a
recipe; :func:`~gan_cookbook.cook.prepare` and :func:`~gan_cookbook.bench.benchmark`
both start here."""

from __future__ import annotations

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
) -> tuple[GANModel, GANTrainer]:
    """The recipe's compiled models for ``dataset`` and their trainer, checked
    against the images (and labels).

    Args:
        steps: The run's steps, where a recipe's rates decay to 0. Defaults to the
            recipe's epochs over ``dataset``.
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
    )
    trainer.check_images(dataset.images)
    if num_classes is not None:
        trainer.check_labels(dataset.labels, len(dataset.images))
    return gan_model, trainer
