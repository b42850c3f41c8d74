"""A recipe: everything that defines one GAN run, in one typed object."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from gan_cookbook import objectives
from gan_cookbook.average import check_decay
from gan_cookbook.checks import check_integer
from gan_cookbook.loaders import Dataset
from gan_cookbook.models import check_precision
from gan_cookbook.noise import Noise, check_real_label
from gan_cookbook.schedule import check_learning_rate_decay

ImageShape = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One GAN run's settings; built-in ones live in ``gan_cookbook.recipes``.

    Attributes:
        name: Short name, used for the default run folder.
        description: One line for ``gan-cookbook list``.
        load_data: Returns the training :class:`~gan_cookbook.data.Dataset`.
        build_generator: ``(noise_dim, image_shape) -> keras.Model``;
            ``(noise_dim, image_shape, num_classes)`` for a conditional recipe.
        build_discriminator: ``(image_shape) -> keras.Model`` ending in a sigmoid;
            ``(image_shape, num_classes)`` for a conditional recipe.
        noise_dim: Size of G's input.
        noise: Distribution of G's input.
        discriminator_optimizer: Returns a fresh optimizer for D.
        generator_optimizer: Returns a fresh optimizer for ``d_on_g`` (it trains G).
        loss: One loss for both models, on D's output; ``None`` (the default)
            takes the objective's pair (:mod:`gan_cookbook.objectives`), which
            is binary cross-entropy for the standard objective.
        batch_size: Real images per step.
        epochs: Passes over the training images.
        grid_size: The sample grid is ``grid_size`` x ``grid_size`` images.
        seed: Seeds weights, noise and shuffling.
        channels: 1 (grayscale) or 3 (RGB): the data, from the recipe or from
            ``--data``, is converted to it. ``None`` (the default) keeps the data's
            own: an image folder is grayscale when every image in it is.
        precision: The Keras dtype policy the models are built with: ``"float32"``
            (the default) or ``"mixed_bfloat16"`` (bfloat16 arithmetic, float32
            weights and optimizer state). Builders of your own should end in a
            float32 activation (``layers.Activation("tanh", dtype="float32")``), as
            the built-in ones do.
        average: The decay of an exponential moving average of G's weights (Keras'
            ``use_ema`` on G's optimizer, :mod:`gan_cookbook.average`), such as
            0.99; ``None`` (the default) keeps no average. The average does not
            change training: the grids, ``--eval-every`` and ``generator.keras``
            come from it, and the trained G is saved as ``generator_raw.keras``.
            It starts at the first step's weights, with no warm-up: measured, a
            warm-up gained nothing over it (``docs/averaging.md``).
        learning_rate_decay: ``"linear"``: both optimizers' learning rates fall
            linearly from their rates to 0 at the run's last step (Keras'
            ``PolynomialDecay``, :mod:`gan_cookbook.schedule`); the run's length
            follows ``epochs``, ``batch_size`` and the number of images, so a
            command that changes them stretches the schedule with the run.
            ``None`` (the default) keeps the rates constant.
        real_label: D's target for real images; 0.9 is one-sided label smoothing
            (Salimans et al., 2016). Defaults to 1, the classic pattern's.
        conditional: G draws an image of a class and D judges it as one: both
            models take the class labels as their second input, and the data must
            have labels (their number of classes is the builders' ``num_classes``).
            Defaults to False. With a D that takes images only and outputs
            ``[validity, classes]`` (an auxiliary classifier, ACGAN), D learns the
            classes instead of being told them.
        objective: What D and G are trained to do: ``"standard"`` (the default),
            ``"least_squares"``, ``"hinge"`` or ``"wasserstein"``
            (:mod:`gan_cookbook.objectives`). D's builder must end in the output
            the objective takes: a sigmoid for the standard one, a linear score for
            the others.
        d_steps: D updates per G update, each on its own real batch and fresh
            fakes (WGAN's critic takes 5). An epoch is still one pass of D over the
            images, so it holds ``d_steps`` times fewer G updates. Defaults to 1.
        steps_per_execution: Whole steps in one compiled call when the recipe is
            cooked with the fused engine (JAX): K batches on the device, one host
            round trip (``docs/speed.md``). The classic engine runs one step a call
            and leaves this value aside; ``--steps-per-execution`` overrides it.
            Defaults to 1.
        file: The recipe file it was loaded from (:func:`load_recipe_file` sets
            it), recorded in ``recipe.json`` so that ``gan-cookbook resume`` finds
            the recipe again; ``None`` for a built-in recipe or one made in Python.
    """

    name: str
    description: str
    load_data: Callable[[], Dataset]
    build_generator: Callable[[int, ImageShape], keras.Model]
    build_discriminator: Callable[[ImageShape], keras.Model]
    noise_dim: int
    noise: Noise
    discriminator_optimizer: Callable[[], keras.optimizers.Optimizer]
    generator_optimizer: Callable[[], keras.optimizers.Optimizer]
    loss: str | None = None
    batch_size: int = 128
    epochs: int = 10
    grid_size: int = 8
    seed: int = 0
    channels: int | None = None
    precision: str = "float32"
    average: float | None = None
    learning_rate_decay: str | None = None
    real_label: float = 1.0
    conditional: bool = False
    objective: str = "standard"
    d_steps: int = 1
    steps_per_execution: int = 1
    file: str | None = None

    def __post_init__(self) -> None:
        for field, low in (
            ("noise_dim", 1),
            ("batch_size", 1),
            ("epochs", 1),
            ("grid_size", 1),
            ("seed", 0),
            ("d_steps", 1),
            ("steps_per_execution", 1),
        ):
            # A NumPy integer is kept as an int: recipe.json holds it as a number.
            value = check_integer(field, getattr(self, field), low)
            object.__setattr__(self, field, value)
        if not isinstance(self.noise, Noise):
            raise ValueError(
                f"`noise` must be a gan_cookbook.Noise. Received: noise={self.noise!r}"
            )
        if self.channels not in (None, 1, 3) or isinstance(self.channels, bool):
            raise ValueError(
                "`channels` must be 1 (grayscale), 3 (RGB) or None (keep the "
                f"data's). Received: channels={self.channels!r}"
            )
        check_precision(self.precision)
        if self.average is not None:
            check_decay(self.average, "average")
        check_learning_rate_decay(self.learning_rate_decay)
        check_real_label(self.real_label)
        objectives.get(self.objective).check_real_label(self.real_label)
        if not isinstance(self.conditional, bool):
            raise ValueError(
                "`conditional` must be True or False. "
                f"Received: conditional={self.conditional!r}"
            )

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed; ``None`` values are ignored."""
        return dataclasses.replace(
            self, **{key: value for key, value in changes.items() if value is not None}
        )

    def to_config(self) -> dict[str, Any]:
        """The settings as JSON-ready values (functions by their import path)."""
        config: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Noise):
                value = dataclasses.asdict(value)
            elif field.name.endswith("_optimizer"):
                value = keras.optimizers.serialize(value())
            elif callable(value):
                value = _qualified_name(value)
            config[field.name] = value
        return config


def _qualified_name(function: Callable[..., Any]) -> str:
    inner = getattr(function, "func", function)  # functools.partial
    name = f"{inner.__module__}.{getattr(inner, '__qualname__', repr(inner))}"
    if inner is not function:
        arguments = [repr(value) for value in function.args]
        arguments += [f"{key}={value!r}" for key, value in function.keywords.items()]
        name += f"({', '.join(arguments)})"
    return name


def load_recipe_file(path: str | Path) -> Recipe:
    """Runs a recipe file and returns its recipe.

    The file defines ``RECIPE``, or exactly one :class:`Recipe` at its top level.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No such recipe file: {path}. Expected a Python file.")
    module_name = f"gan_cookbook_recipe_file_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: cannot be loaded as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - any error in user code is reported
        del sys.modules[module_name]
        raise ValueError(
            f"{path}: the recipe file failed to run: {type(error).__name__}: {error}"
        ) from error
    recipe = getattr(module, "RECIPE", None)
    found = [value for value in vars(module).values() if isinstance(value, Recipe)]
    if not isinstance(recipe, Recipe):
        if len(found) != 1:
            raise ValueError(
                f"{path}: expected a Recipe named RECIPE (or exactly one Recipe). "
                f"Received: {len(found)} Recipe objects"
            )
        recipe = found[0]
    return dataclasses.replace(recipe, file=str(path.resolve()))
