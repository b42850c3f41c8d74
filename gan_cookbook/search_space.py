"""The settings a search may tune, its search space, and a trial's values as a recipe.

A search space names settings of :data:`SETTINGS` (:data:`DEFAULT_SEARCH` when the
recipe's file defines no ``SEARCH``) and becomes KerasTuner's ``HyperParameters``
(:func:`search_space`), checked before any trial: every value it can draw must be one
its setting takes. A trial's values then replace the recipe's fields
(:func:`recipe_changes`): the learning rates and ``beta_1`` in the recipe's own
optimizers, whatever their class, the noise by its name (``"uniform[0,1)"``,
``"normal(0,1)"``), the rest as they are. :func:`recipe_values` goes the other way, to
the recipe's own values: the search's first trial, its baseline.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import keras
import keras_tuner
from keras_tuner.engine import hyperparameters as hp_types

from gan_cookbook.average import check_decay
from gan_cookbook.checks import is_integer
from gan_cookbook.noise import Noise
from gan_cookbook.recipe import Recipe, load_recipe_file

SETTINGS: dict[str, str] = {
    "discriminator_learning_rate": "the learning rate of D's optimizer",
    "generator_learning_rate": "the learning rate of G's optimizer (d_on_g's)",
    "beta_1": "beta_1 of both optimizers (Adam's first-moment decay)",
    "batch_size": "real images per step",
    "noise_dim": "the size of G's input",
    "noise": 'the distribution of G\'s input: "uniform[LOW,HIGH)" or '
    '"normal(MEAN,STDDEV)"',
    "average": "the decay of the average of G's weights; 0 keeps no average",
    "real_label": "D's target for real images (0.9: one-sided label smoothing)",
}
"""The settings a search may tune, by the name a search space gives them."""

DEFAULT_SEARCH: dict[str, Any] = {
    # Log-uniform over the rates the recipes were measured with: the TensorFlow
    # tutorial's 1e-4, DCGAN's 2e-4, mnist_quick's 2e-3 for D and 4e-3 for G (which
    # won there over 1e-3 / 2e-3, 5e-4 and 2e-4), and a little beyond. D's and G's
    # apart: the best pair was not an equal one.
    "discriminator_learning_rate": {"min": 1e-4, "max": 6e-3, "sampling": "log"},
    "generator_learning_rate": {"min": 1e-4, "max": 6e-3, "sampling": "log"},
    # DCGAN's 0.5 (every recipe's but the tutorial's), Adam's own 0.9, and 0, which
    # some GANs train best with.
    "beta_1": [0.0, 0.5, 0.9],
    # The recipes' batches (mnist_quick's 64, mnist's 128, the tutorial's 256) and
    # 32. At equal epochs a smaller batch takes more steps: see each trial's time.
    "batch_size": [32, 64, 128, 256],
    # The recipes' sizes: mnist's 10, mnist_quick's 32, the tutorial's and kmnist's
    # 100, and 64 between.
    "noise_dim": [10, 32, 64, 100],
    # The recipes' three distributions.
    "noise": ["uniform[0,1)", "uniform[-1,1)", "normal(0,1)"],
    # No average, and the decays measured on mnist: 0.99 won, 0.995 close behind,
    # 0.999 held the first steps' weights too long for short runs.
    "average": [0.0, 0.99, 0.995, 0.999],
}
"""The search space when the recipe's file defines no ``SEARCH``: every setting of
:data:`SETTINGS` but ``real_label``. A value is a list (one of them: KerasTuner's
``Choice``), a dict with ``min`` and ``max`` (and ``sampling`` ``"linear"`` or
``"log"``, ``step``: ``Float``, or ``Int`` for whole numbers) or a single value
(``Fixed``)."""

_INTEGER_SETTINGS = ("batch_size", "noise_dim")
_SIGNIFICANT_DIGITS = 3
"""A drawn real number is rounded to this many significant digits before a trial
uses it, so that the table, recipe.py and the run hold the same value."""


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or a float, and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_whole(value: Any) -> bool:
    """Whether ``value`` is an int, and not a bool."""
    return isinstance(value, int) and is_integer(value)


_NOISE = re.compile(
    r"(?P<distribution>uniform|normal)"
    r"(?P<open>[\[(])(?P<first>[^,]+),(?P<second>[^)\]]+)(?P<close>[)\]])"
)


def parse_noise(name: str) -> Noise:
    """The :class:`~gan_cookbook.noise.Noise` a search's noise name stands for:
    ``"uniform[0,1)"`` or ``"normal(0,1)"`` (mean and standard deviation).

    Raises:
        ValueError: the name is neither form, or its numbers make no distribution.
    """
    match = _NOISE.fullmatch(str(name).replace(" ", ""))
    problem = None
    if match is None:
        problem = "it is not of that form"
    else:
        try:
            first, second = float(match["first"]), float(match["second"])
        except ValueError:
            problem = "its bounds are not numbers"
        else:
            uniform = match["distribution"] == "uniform"
            if (match["open"], match["close"]) != (
                ("[", ")") if uniform else ("(", ")")
            ):
                problem = "uniform noise is written [LOW,HIGH), normal (MEAN,STDDEV)"
            else:
                try:
                    if uniform:
                        return Noise("uniform", low=first, high=second)
                    return Noise("normal", mean=first, stddev=second)
                except ValueError as error:
                    problem = str(error).split(". Received")[0]
    raise ValueError(
        f'`noise` names a distribution as "uniform[LOW,HIGH)" or '
        f'"normal(MEAN,STDDEV)"; {name!r}: {problem}. Received: noise={name!r}'
    )


def _short(number: float) -> str:
    text = repr(float(number))
    return text[:-2] if text.endswith(".0") else text


def noise_name(noise: Noise) -> str:
    """The name a search gives ``noise``: ``"uniform[0,1)"``, ``"normal(0,1)"``."""
    if noise.distribution == "uniform":
        return f"uniform[{_short(noise.low)},{_short(noise.high)})"
    return f"normal({_short(noise.mean)},{_short(noise.stddev)})"


_EXPECTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "discriminator_learning_rate": (
        lambda value: is_number(value) and value > 0,
        "a positive number",
    ),
    "generator_learning_rate": (
        lambda value: is_number(value) and value > 0,
        "a positive number",
    ),
    "beta_1": (
        lambda value: is_number(value) and 0 <= value < 1,
        "a number in [0, 1)",
    ),
    "batch_size": (
        lambda value: is_whole(value) and value >= 1,
        "a whole number of at least 1",
    ),
    "noise_dim": (
        lambda value: is_whole(value) and value >= 1,
        "a whole number of at least 1",
    ),
    "average": (
        lambda value: is_number(value) and 0 <= value < 1,
        "a decay in (0, 1), or 0 for no average",
    ),
    "real_label": (
        lambda value: is_number(value) and 0.5 < value <= 1,
        "a number above 0.5 and at most 1",
    ),
}


def _check_value(name: str, value: Any, source: str) -> None:
    """Raises a ValueError unless ``value`` is one that setting ``name`` can take."""
    if name == "noise":
        try:
            parse_noise(value)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
        return
    accepts, expected = _EXPECTED[name]
    if not accepts(value):
        raise ValueError(
            f"{source}: `{name}` takes {expected}. Received: {name}={value!r}"
        )


def bounds(hyperparameter: hp_types.HyperParameter) -> list[Any]:
    """The values a hyperparameter may draw that decide whether all of them are
    valid: every choice, the fixed value, or a range's two ends."""
    if isinstance(hyperparameter, hp_types.Choice):
        return list(hyperparameter.values)
    if isinstance(hyperparameter, hp_types.Fixed):
        return [hyperparameter.value]
    if isinstance(hyperparameter, (hp_types.Int, hp_types.Float)):
        return [hyperparameter.min_value, hyperparameter.max_value]
    return [True, False]  # Boolean: no setting takes True or False


def _holds(hyperparameter: hp_types.HyperParameter, value: Any) -> bool:
    """Whether ``hyperparameter`` can draw ``value``."""
    if isinstance(hyperparameter, hp_types.Choice):
        return value in hyperparameter.values
    if isinstance(hyperparameter, hp_types.Fixed):
        return value == hyperparameter.value
    if isinstance(hyperparameter, hp_types.Int):
        step = hyperparameter.step or 1
        return (
            is_whole(value)
            and hyperparameter.min_value <= value <= hyperparameter.max_value
            and (value - hyperparameter.min_value) % step == 0
        )
    if isinstance(hyperparameter, hp_types.Float):
        return (
            is_number(value)
            and hyperparameter.min_value <= value <= hyperparameter.max_value
        )
    return False


def _declare(
    space: keras_tuner.HyperParameters, name: str, spec: Any, source: str
) -> None:
    """Declares setting ``name`` in ``space`` from a plain search entry."""
    received = f"Received: {name}={spec!r}"
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError(f"{source}: `{name}` lists no values. {received}")
        declare = partial(space.Choice, name, list(spec))
    elif isinstance(spec, Mapping):
        low, high = spec.get("min"), spec.get("max")
        if set(spec) - {"min", "max", "sampling", "step"} or not (
            is_number(low) and is_number(high) and low < high
        ):
            raise ValueError(
                f"{source}: a range such as `{name}` is a dict with numbers `min` "
                'below `max`, and optionally `sampling` ("linear" or "log") and '
                f"`step`. {received}"
            )
        kind = space.Int if name in _INTEGER_SETTINGS else space.Float
        declare = partial(
            kind,
            name,
            low if kind == space.Int else float(low),
            high if kind == space.Int else float(high),
            step=spec.get("step"),
            sampling=spec.get("sampling", "linear"),
        )
    elif isinstance(spec, (bool, int, float, str)):
        declare = partial(space.Fixed, name, spec)
    else:
        raise ValueError(
            f"{source}: `{name}` is a list of values, a dict with `min` and `max`, "
            f"or one value. {received}"
        )
    try:
        declare()
    except (TypeError, ValueError) as error:
        # KerasTuner's own checks: mixed types in a Choice, an unknown sampling, ...
        raise ValueError(f"{source}: `{name}`: {error} {received}") from None


def search_space(
    search: Mapping[str, Any] | keras_tuner.HyperParameters | None = None,
    source: str = "`search`",
) -> keras_tuner.HyperParameters:
    """A search space as KerasTuner's ``HyperParameters``, checked.

    Args:
        search: ``HyperParameters`` naming settings of :data:`SETTINGS`, or a plain
            dict of them, as :data:`DEFAULT_SEARCH` is written. Defaults to
            :data:`DEFAULT_SEARCH`.
        source: Where ``search`` came from, for the messages.

    Raises:
        ValueError: the space is empty, names a setting :data:`SETTINGS` does not
            hold, or can draw a value its setting cannot take.
    """
    if search is None:
        search = DEFAULT_SEARCH
    if isinstance(search, keras_tuner.HyperParameters):
        names = [hyperparameter.name for hyperparameter in search.space]
    elif isinstance(search, Mapping):
        names = list(search)
    else:
        raise ValueError(
            f"{source} must be a dict of settings or keras_tuner.HyperParameters. "
            f"Received: {type(search).__name__}"
        )
    unknown = [name for name in names if name not in SETTINGS]
    if unknown:
        raise ValueError(
            f"{source} names settings a search cannot tune: "
            f"{', '.join(map(repr, unknown))}. Known: {', '.join(SETTINGS)}. "
            f"Received: {', '.join(map(str, names))}"
        )
    if not names:
        raise ValueError(
            f"{source} is empty: name at least one of {', '.join(SETTINGS)}. "
            f"Received: {search!r}"
        )
    if isinstance(search, keras_tuner.HyperParameters):
        space = search.copy()
    else:
        space = keras_tuner.HyperParameters()
        for name, spec in search.items():
            _declare(space, name, spec, source)
    for hyperparameter in space.space:
        for value in bounds(hyperparameter):
            _check_value(hyperparameter.name, value, source)
    return space


def recipe_search(recipe: Recipe) -> tuple[Any, str]:
    """The ``SEARCH`` of the file ``recipe`` was loaded from, and where it came from
    in words: ``(None, "the default space")`` for a recipe without one."""
    if recipe.file is None:
        return None, "the default space"
    module = _file_module(recipe.file)
    if module is None:
        load_recipe_file(recipe.file)  # it was loaded under another name since
        module = _file_module(recipe.file)
    search = getattr(module, "SEARCH", None)
    if search is None:
        return None, "the default space"
    return search, f"SEARCH in {recipe.file}"


def _file_module(file: str) -> Any:
    """The module :func:`~gan_cookbook.recipe.load_recipe_file` ran ``file`` as
    (it keeps each file's module in ``sys.modules``, named with this prefix)."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (
            name.startswith("gan_cookbook_recipe_file_")
            and path
            and os.path.realpath(path) == os.path.realpath(file)
        ):
            return module
    return None


# From drawn values to a recipe ------------------------------------------------


def optimizer_with(
    make: Callable[[], keras.optimizers.Optimizer], **changes: Any
) -> Callable[[], keras.optimizers.Optimizer]:
    """``make``'s optimizer with some settings changed, as a recipe's optimizer: a
    function of no arguments that returns a fresh one.

    For optimizers a recipe file cannot write as ``partial(keras.optimizers.Adam,
    ...)``: a class of your own, or a learning-rate schedule among the settings.
    ``optimizer_with(BASE.generator_optimizer, learning_rate=4e-4)``.
    """
    return partial(_changed_optimizer, make, changes)


def _changed_optimizer(
    make: Callable[[], keras.optimizers.Optimizer], changes: dict[str, Any]
) -> keras.optimizers.Optimizer:
    optimizer = make()
    return type(optimizer).from_config({**optimizer.get_config(), **changes})


def _literal(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def python_code(value: Any) -> str:
    """``value`` as Python source, strings in double quotes as ruff writes them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _keywords(arguments: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={python_code(value)}" for key, value in arguments.items())


@dataclasses.dataclass(frozen=True)
class FieldChange:
    """A recipe field a trial changes: its value, and the code that makes it."""

    value: Any
    code: str
    was: str  # the recipe's own, in words
    imports: tuple[str, ...] = ()


def _optimizer_change(
    base: Recipe, field: str, changes: dict[str, Any], source: str
) -> FieldChange:
    make = getattr(base, field)
    optimizer = make()
    kind = type(optimizer)
    config = optimizer.get_config()
    for key in changes:
        if key not in config:
            raise ValueError(
                f"{source} tunes {key}, but the recipe's {field} ({kind.__name__}) "
                f"has no {key}. Received: {field}={kind.__name__}"
            )
    try:
        defaults = kind().get_config()
    except (TypeError, ValueError):
        defaults = None  # a class of the recipe's own, with required arguments
    public = getattr(keras.optimizers, kind.__name__, None) is kind
    if defaults is not None and public:
        arguments = {}
        if isinstance(config.get("learning_rate"), float):
            # Written first, always. Kept as a float32 variable: 2e-4 reads back as
            # 0.00019999999494757503.
            arguments["learning_rate"] = float(f"{config['learning_rate']:.7g}")
        arguments.update(
            (key, value)
            for key, value in config.items()
            if key not in ("name", *arguments) and defaults.get(key, object()) != value
        )
        was = f"{kind.__name__}({_keywords(arguments)})"
        arguments.update(changes)
        if all(_literal(value) for value in arguments.values()):
            return FieldChange(
                partial(kind, **arguments),
                f"partial(keras.optimizers.{kind.__name__}, {_keywords(arguments)})",
                was,
                ("from functools import partial", "import keras"),
            )
    else:
        was = kind.__name__
    return FieldChange(
        optimizer_with(make, **changes),
        f"optimizer_with(BASE.{field}, {_keywords(changes)})",
        was,
        ("from gan_cookbook.search_space import optimizer_with",),
    )


def used_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drawn values as a trial uses them: real numbers to a few significant digits
    (a learning rate of 0.000423, not 0.00042318765...)."""
    used = {}
    for name, value in values.items():
        if name in SETTINGS and isinstance(value, float) and value != 0:
            digits = _SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))
            value = round(value, digits)
        used[name] = value
    return used


def recipe_changes(
    base: Recipe, values: Mapping[str, Any], source: str
) -> dict[str, FieldChange]:
    """The recipe fields a trial's ``values`` change, by field name.

    Raises:
        ValueError: a value makes no field: a setting the recipe's optimizer lacks
            (SGD's ``beta_1``), a noise name or a decay that is not one. ``source``
            says where the values came from.
    """
    changes: dict[str, FieldChange] = {}
    for field, prefix in (
        ("discriminator_optimizer", "discriminator"),
        ("generator_optimizer", "generator"),
    ):
        settings = {}
        if f"{prefix}_learning_rate" in values:
            settings["learning_rate"] = values[f"{prefix}_learning_rate"]
        if "beta_1" in values:
            settings["beta_1"] = values["beta_1"]
        if settings:
            changes[field] = _optimizer_change(base, field, settings, source)
    for field in ("batch_size", "noise_dim", "real_label"):
        if field in values:
            changes[field] = FieldChange(
                values[field],
                python_code(values[field]),
                python_code(getattr(base, field)),
            )
    if "noise" in values:
        noise = parse_noise(values["noise"])
        arguments = (
            f"low={noise.low!r}, high={noise.high!r}"
            if noise.distribution == "uniform"
            else f"mean={noise.mean!r}, stddev={noise.stddev!r}"
        )
        changes["noise"] = FieldChange(
            noise,
            f'Noise("{noise.distribution}", {arguments})',
            noise_name(base.noise),
            ("from gan_cookbook.noise import Noise",),
        )
    if "average" in values:
        average = None if values["average"] == 0 else check_decay(values["average"])
        changes["average"] = FieldChange(
            average, python_code(average), python_code(base.average)
        )
    return changes


def recipe_values(recipe: Recipe, space: keras_tuner.HyperParameters) -> dict[str, Any]:
    """The recipe's own value of each setting ``space`` tunes, where the space can
    draw it: the values of the search's first trial, its baseline. Settings whose
    value the space cannot draw (or no name can say) are left out."""
    own: dict[str, Any] = {
        "batch_size": recipe.batch_size,
        "noise_dim": recipe.noise_dim,
        "noise": noise_name(recipe.noise),
        "average": 0.0 if recipe.average is None else recipe.average,
        "real_label": recipe.real_label,
    }
    betas = set()
    for field, prefix in (
        ("discriminator_optimizer", "discriminator"),
        ("generator_optimizer", "generator"),
    ):
        config = getattr(recipe, field)().get_config()
        rate = config.get("learning_rate")
        if isinstance(rate, float):
            own[f"{prefix}_learning_rate"] = float(f"{rate:.7g}")
        betas.add(config.get("beta_1"))
    if len(betas) == 1 and is_number(next(iter(betas))):
        own["beta_1"] = float(next(iter(betas)))
    return {
        hyperparameter.name: own[hyperparameter.name]
        for hyperparameter in space.space
        if hyperparameter.name in own
        and _holds(hyperparameter, own[hyperparameter.name])
    }
