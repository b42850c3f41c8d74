"""A recipe's three compiled models, built in one place: ``build_gan_model``.

TF-GAN's ``GANModel`` is the pattern: one function turns a recipe (architecture,
noise, optimizers, loss, precision) and an image shape into the compiled generator G,
the compiled sigmoid discriminator D and the stacked ``d_on_g`` that trains G.
Runs (:mod:`gan_cookbook.cook`), the benchmark and anything else that needs the models
call it; none of them needs a run folder to get them.

:func:`stack` builds ``d_on_g`` from any compiled G and D, a recipe's or one's own,
for :class:`~gan_cookbook.loop.GANTrainer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras

from gan_cookbook import objectives
from gan_cookbook.average import AveragedGenerator, average_optimizer, averaging_decay
from gan_cookbook.checks import check_integer
from gan_cookbook.choices import ENGINES
from gan_cookbook.keras_objects import LabelAccuracy
from gan_cookbook.loop import GANTrainer
from gan_cookbook.models import precision_scope
from gan_cookbook.noise import Noise
from gan_cookbook.pair import check_pair, is_auxiliary_classifier
from gan_cookbook.schedule import decaying_optimizer

if TYPE_CHECKING:
    from gan_cookbook.loaders import Dataset
    from gan_cookbook.recipe import Recipe


def stack(
    generator: keras.Model,
    discriminator: keras.Model,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    loss: str | keras.losses.Loss = "binary_crossentropy",
    metrics: Sequence[Any] | None = None,
    name: str = "d_on_g",
) -> keras.Model:
    """Stacks G and D into the compiled model ``d_on_g`` that trains G.

    D is frozen in the returned model; :class:`~gan_cookbook.loop.GANTrainer`
    still sets ``discriminator.trainable`` before every call, which Keras 3 needs.

    A conditional pair (G takes ``[noise, labels]``, D takes ``[images, labels]``)
    stacks as ``[noise, labels] -> D([G([noise, labels]), labels])``; an
    auxiliary classifier (D takes images and outputs ``[validity, classes]``) as
    ``[noise, labels] -> D(G([noise, labels]))``, its class head compiled with
    sparse categorical cross-entropy.

    Args:
        generator: The generator, noise (and labels) in, images out.
        discriminator: The compiled discriminator, images (and labels) in, one
            probability out.
        optimizer: G's optimizer (a fresh one: D's optimizer must not be shared).
        loss: The loss on D's output: the objective's ``generator_loss``
            (:mod:`gan_cookbook.objectives`). Defaults to binary cross-entropy,
            the standard objective's.
        metrics: Metrics to compile ``d_on_g`` with. Defaults to none.
        name: The stacked model's name. Defaults to ``"d_on_g"``.

    Returns:
        The compiled ``d_on_g`` model.
    """
    if not discriminator.compiled:
        raise ValueError(
            "`discriminator` must be compiled (with its own optimizer) before it is "
            f"stacked. Received: discriminator={discriminator.name!r}, not compiled"
        )
    if optimizer is discriminator.optimizer:
        raise ValueError(
            "`optimizer` must not be the discriminator's optimizer: each model needs "
            f"its own. Received: optimizer={optimizer!r}"
        )
    conditional = check_pair(generator, discriminator)
    image_shape = tuple(discriminator.inputs[0].shape[1:])
    if tuple(generator.outputs[0].shape[1:]) != image_shape:
        raise ValueError(
            "The generator's output shape must equal the discriminator's input shape. "
            f"Received: generator output {generator.output_shape}, "
            f"discriminator input {discriminator.input_shape}"
        )
    noise = keras.Input(shape=generator.inputs[0].shape[1:], name="noise")
    auxiliary = is_auxiliary_classifier(generator, discriminator)
    if conditional:
        label_input = generator.inputs[1]
        labels = keras.Input(
            shape=label_input.shape[1:], dtype=label_input.dtype, name="labels"
        )
        images = generator([noise, labels])
        if auxiliary:
            # Named as D's heads, so d_on_g's logs read g_validity_loss and
            # g_class_loss.
            output = [
                keras.layers.Identity(name=head_name)(head)
                for head_name, head in zip(
                    discriminator.output_names, discriminator(images), strict=True
                )
            ]
        else:
            output = discriminator([images, labels])
        d_on_g = keras.Model([noise, labels], output, name=name)
        if auxiliary and not isinstance(loss, (list, tuple, dict)):
            loss = [loss, objectives.CLASS_LOSS]
    else:
        d_on_g = keras.Model(noise, discriminator(generator(noise)), name=name)
    discriminator.trainable = False
    d_on_g.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    discriminator.trainable = True
    return d_on_g


def discriminator_metrics(
    objective: str | objectives.Objective = "standard",
) -> list[keras.metrics.Metric]:
    """D's accuracy on real images and on fakes, named ``real_accuracy`` and
    ``fake_accuracy`` (``d_real_accuracy`` and ``d_fake_accuracy`` in the logs).

    D calls an image real above the midpoint of the objective's targets (0.5 for
    targets 1 and 0, 0 for the hinge's 1 and -1). A Wasserstein critic's score has
    no midpoint (only differences of scores mean anything): none for it.
    """
    objective = objectives.get(objective)
    if objective.name == "wasserstein":
        return []
    threshold = (objective.real_target + objective.fake_target) / 2
    return [
        LabelAccuracy(1, threshold, name="real_accuracy"),
        LabelAccuracy(0, threshold, name="fake_accuracy"),
    ]


@dataclass(frozen=True)
class GANModel:
    """The three compiled models of one GAN.

    Attributes:
        generator: G, noise in, images out; compiled with the optimizer that trains
            it inside ``d_on_g``, so that a saved G carries that optimizer's state.
        discriminator: D, images in, one probability out; compiled with its own
            optimizer, its loss and :func:`discriminator_metrics`.
        d_on_g: G then D, compiled with G's optimizer; trains G.
    """

    generator: keras.Model
    discriminator: keras.Model
    d_on_g: keras.Model

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one image, channels last."""
        return tuple(self.generator.output_shape[1:])

    @property
    def noise_dim(self) -> int:
        """The size of G's input."""
        return int(self.generator.input_shape[-1])


def _check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    try:
        shape = tuple(int(size) for size in image_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or any(size < 1 for size in shape):
        raise ValueError(
            "`image_shape` must be (height, width, channels) with positive sizes. "
            f"Received: image_shape={image_shape!r}"
        )
    return shape


def build_gan_model(
    recipe: Recipe,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    *,
    seed: int | None = None,
    num_classes: int | None = None,
    steps: int | None = None,
) -> GANModel:
    """Builds and compiles ``recipe``'s G, D and ``d_on_g`` for images of one shape.

    When the recipe averages G (``recipe.average``), ``d_on_g``'s optimizer keeps
    the average (:func:`~gan_cookbook.average.average_optimizer`):
    :func:`averaged_generator` gives the copy that holds it.

    The models are built under the recipe's precision policy
    (:func:`~gan_cookbook.models.precision_scope`), each with a fresh optimizer from
    the recipe. Nothing is read from or written to disk.

    Args:
        recipe: The recipe whose builders, noise size, optimizers, loss and precision
            are used.
        image_shape: ``(height, width, channels)`` of the images G makes and D
            judges. Defaults to ``(28, 28, 1)``.
        seed: Seeds the weights (``keras.utils.set_random_seed``): the same seed,
            the same initial weights. Defaults to the recipe's seed.
        num_classes: The number of classes, for a conditional recipe (and only
            for one): passed to its builders.
        steps: The run's length in steps (epochs times steps an epoch), at which
            the learning rates of a recipe with ``learning_rate_decay`` reach 0
            (:func:`~gan_cookbook.schedule.decaying_optimizer`). Needed by such a
            recipe only; defaults to ``None``.

    Returns:
        A :class:`GANModel`.
    """
    image_shape = _check_image_shape(image_shape)
    classes = () if num_classes is None else (num_classes,)
    if recipe.conditional != bool(classes):
        raise ValueError(
            "`num_classes` is needed by a conditional recipe, and only by one: "
            f"recipe {recipe.name!r} has conditional={recipe.conditional}. "
            f"Received: num_classes={num_classes!r}"
        )
    if recipe.learning_rate_decay is not None and steps is None:
        raise ValueError(
            f"`steps` is needed by recipe {recipe.name!r}: its learning rates decay "
            "to 0 at the run's last step (learning_rate_decay="
            f"{recipe.learning_rate_decay!r}). Received: steps=None"
        )

    def optimizer_of(make: Callable[[], keras.optimizers.Optimizer]):
        optimizer = make()
        if recipe.learning_rate_decay is not None:
            optimizer = decaying_optimizer(optimizer, steps)
        return optimizer

    objective = objectives.get(recipe.objective)
    d_loss = recipe.loss or objective.discriminator_loss
    g_loss = recipe.loss or objective.generator_loss
    keras.utils.set_random_seed(recipe.seed if seed is None else seed)
    with precision_scope(recipe.precision):
        generator = recipe.build_generator(recipe.noise_dim, image_shape, *classes)
        discriminator = recipe.build_discriminator(image_shape, *classes)
        metrics: list[Any] = discriminator_metrics(objective)
        if is_auxiliary_classifier(generator, discriminator):
            d_loss = [d_loss, objectives.CLASS_LOSS]
            metrics = [metrics, ["sparse_categorical_accuracy"]]
        discriminator.compile(
            optimizer=optimizer_of(recipe.discriminator_optimizer),
            loss=d_loss,
            metrics=metrics,
        )
        generator_optimizer = optimizer_of(recipe.generator_optimizer)
        if recipe.average is not None:
            generator_optimizer = average_optimizer(generator_optimizer, recipe.average)
        d_on_g = stack(generator, discriminator, generator_optimizer, g_loss)
        generator.compile(optimizer=d_on_g.optimizer, loss=g_loss)
    return GANModel(generator, discriminator, d_on_g)


def averaged_generator(
    gan_model: GANModel,
    noise: Noise | None = None,
    seed: int = 0,
    num_classes: int | None = None,
) -> AveragedGenerator | None:
    """The averaged copy of ``gan_model``'s G, or ``None`` when its optimizer (that
    of ``d_on_g``) keeps no average.

    Args:
        gan_model: The models.
        noise: G's input distribution, for recomputing BatchNorm's statistics.
        seed: Seeds that noise.
        num_classes: A conditional G's number of classes, for the same.
    """
    if averaging_decay(gan_model.d_on_g.optimizer) is None:
        return None
    return AveragedGenerator(
        gan_model.generator,
        gan_model.d_on_g.optimizer,
        noise=noise,
        seed=seed,
        num_classes=num_classes,
    )


def make_trainer(
    gan_model: GANModel,
    noise: Noise | None = None,
    seed: int | None = None,
    engine: str = "classic",
    real_label: float = 1.0,
    num_classes: int | None = None,
    objective: str | objectives.Objective = "standard",
    d_steps: int = 1,
    steps_per_execution: int = 1,
) -> GANTrainer:
    """The trainer of ``gan_model`` for an engine.

    Args:
        gan_model: The models to train.
        noise: The distribution of G's input. Defaults to uniform in [0, 1).
        seed: Seeds the noise and the shuffling. Defaults to ``None`` (fresh).
        engine: ``"classic"`` (:class:`~gan_cookbook.loop.GANTrainer`: the compiled
            fake batch and two ``train_on_batch`` calls a step) or ``"fused"``
            (:class:`~gan_cookbook.fused.FusedGANTrainer`: the same step as one
            compiled call, JAX only). Defaults to ``"classic"``.
        real_label: D's target for real images; 0.9 is one-sided label smoothing.
            Defaults to 1.
        num_classes: The number of classes of a conditional pair; ``None`` (the
            default) for models that take no labels.
        objective: The objective the models were compiled for
            (:mod:`gan_cookbook.objectives`). Defaults to ``"standard"``.
        d_steps: D updates per G update. Defaults to 1.
        steps_per_execution: Whole steps one compiled call runs, at least 1;
            above 1 for the fused engine only. Defaults to 1.
    """
    if engine not in ENGINES:
        raise ValueError(
            f"`engine` must be one of {', '.join(ENGINES)}. Received: engine={engine!r}"
        )
    steps_per_execution = check_integer("steps_per_execution", steps_per_execution)
    arguments = (
        gan_model.generator,
        gan_model.discriminator,
        gan_model.d_on_g,
        noise,
        seed,
        real_label,
        num_classes,
        objective,
        d_steps,
    )
    if engine == "fused":
        from gan_cookbook.fused import FusedGANTrainer

        return FusedGANTrainer(*arguments, steps_per_execution=steps_per_execution)
    if steps_per_execution > 1:
        raise ValueError(
            "`steps_per_execution` above 1 runs several steps in one compiled call, "
            "which only the fused engine does: use engine='fused' (on JAX) or "
            "steps_per_execution=1. "
            f"Received: steps_per_execution={steps_per_execution}, engine={engine!r}"
        )
    return GANTrainer(*arguments)


def check_batch_size(batch_size: int, dataset: Dataset) -> None:
    """Raises ``ValueError`` if ``dataset`` holds fewer images than one batch."""
    if batch_size > len(dataset.images):
        raise ValueError(
            f"`batch_size` {batch_size} is larger than the {len(dataset.images)} "
            f"training images of {dataset.source}. Use a smaller batch or more "
            f"images. Received: batch_size={batch_size}"
        )


def conditional_classes(recipe: Recipe, dataset: Dataset) -> int | None:
    """The number of classes a conditional recipe draws: that of its data's labels
    (:attr:`~gan_cookbook.data.Dataset.num_classes`); ``None`` for a recipe that is
    not conditional.

    Raises:
        ValueError: the recipe is conditional and the data have no labels, or
            fewer than 2 classes.
    """
    if not recipe.conditional:
        return None
    classes = dataset.num_classes
    if classes is None:
        raise ValueError(
            f"Recipe {recipe.name!r} is conditional: it draws each image for a class, "
            f"so it trains on labelled images, and {dataset.source} has no labels. "
            "Give labelled data (`data`: an .npz with y_train, an IDX file with its "
            "labels file beside it, or a folder whose subfolders are the classes). "
            f"Received: {dataset.source}, no labels"
        )
    if classes < 2:
        raise ValueError(
            f"Recipe {recipe.name!r} is conditional and needs at least 2 classes; "
            f"the labels of {dataset.source} name {classes}. "
            f"Received: {classes} class"
        )
    return classes
