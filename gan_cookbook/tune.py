"""Settings found, not guessed: a search of a recipe's settings, on KerasTuner.

``tune(recipe, out=..., trials=...)`` is what ``gan-cookbook tune`` calls. KerasTuner
runs the search: its oracle (random search, or Bayesian optimisation) draws each
trial's settings from a search space, and a :class:`keras_tuner.Tuner` runs the
trials. A trial cooks the recipe with its settings into a normal run folder
(:func:`~gan_cookbook.cook.prepare`) and measures the generator it samples with the
project's :class:`~gan_cookbook.evaluation.Evaluator`: the objective is the Fréchet
distance of ``count`` images against the data's test split, minimised. The search
folder ends up holding::

    search.json           the search's settings; running it again must match them
    keras_tuner/          KerasTuner's own state: oracle.json, trial_*/trial.json
    trials/<id>/          each trial's run folder (sample, evaluate, resume work
                          on it), with recipe.py, the recipe file that cooks it
                          again, and metrics.json, its measurement
    trials.csv            every trial: status, objective, seconds, settings
    trials.md             the same as a Markdown table
    best_recipe.py        the best trial's settings as a recipe file

KerasTuner saves its oracle after every trial, so a search stopped by Ctrl-C or a
crash continues when it is run again, redoing only the trials that were in flight.
With KerasTuner's environment variables set (``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``), the same call is the chief,
which serves the oracle over gRPC, or one of its workers, which run the trials.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import logging
import math
import os
import re
import socket
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import keras
import keras_tuner
from keras_tuner.engine import hyperparameters as hp_types

from gan_cookbook import recipes
from gan_cookbook.average import check_decay
from gan_cookbook.checkpoint import SETTINGS_FILE, write_json, write_text
from gan_cookbook.cook import RunStopped, json_ready, prepare
from gan_cookbook.data import DEFAULT_RESIZE
from gan_cookbook.loop import Noise
from gan_cookbook.recipe import Recipe, load_recipe_file

OBJECTIVE = "frechet_distance"
"""The metric each trial reports, minimised: as ``metrics.json`` names it."""

SEARCH_FILE = "search.json"
STATE_FOLDER = "keras_tuner"
TRIALS_FOLDER = "trials"
TABLE_CSV = "trials.csv"
TABLE_MARKDOWN = "trials.md"
BEST_RECIPE = "best_recipe.py"
TRIAL_RECIPE = "recipe.py"
METRICS_FILE = "metrics.json"

ORACLES = ("random", "bayesian")
"""The oracles a search may use: KerasTuner's random search and its Bayesian
optimisation (a Gaussian process; needs scikit-learn). Hyperband is left out: it
decides itself how many trials to run, where ``trials`` sets their number."""

DEFAULT_COUNT = 10000
DEFAULT_CHIEF_TIMEOUT = 30.0

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"

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
    # tutorial's 1e-4, DCGAN's 2e-4, mnist_quick's 1e-3 for D and 2e-3 for G (which
    # won there over 5e-4 and 2e-4), and a little beyond. D's and G's apart: the
    # best pair was not an equal one.
    "discriminator_learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log"},
    "generator_learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log"},
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


class SearchStopped(RuntimeError):
    """A signal stopped the search in a trial; running it again continues it.

    Attributes:
        exit_code: The exit status a command line should end with (130 for SIGINT,
            143 for SIGTERM).
    """

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class _Stop(keras_tuner.errors.FatalError):
    """Carries a :class:`SearchStopped` out of KerasTuner's search loop, which
    would otherwise record the trial as failed and go on."""

    def __init__(self, stopped: SearchStopped):
        super().__init__(str(stopped))
        self.stopped = stopped


class _Fatal(keras_tuner.errors.FatalError):
    """Carries a ``ValueError`` that no trial can avoid (data without labels to
    measure with) out of KerasTuner's search loop."""

    def __init__(self, error: ValueError):
        super().__init__(str(error))
        self.error = error


@dataclasses.dataclass(frozen=True)
class Role:
    """What this process is in a search, from KerasTuner's environment variables.

    Attributes:
        kind: ``"alone"`` (no ``KERASTUNER_ORACLE_IP``: this process runs the
            whole search), ``"chief"`` (serves the oracle; its
            ``KERASTUNER_TUNER_ID`` contains "chief", as KerasTuner decides) or
            ``"worker"`` (runs trials for the chief).
        tuner_id: ``KERASTUNER_TUNER_ID``, or ``"tuner0"``, KerasTuner's default.
        host: ``KERASTUNER_ORACLE_IP``, or ``None`` alone.
        port: ``KERASTUNER_ORACLE_PORT``, or ``None`` alone.
    """

    kind: str
    tuner_id: str
    host: str | None = None
    port: int | None = None

    @property
    def address(self) -> str | None:
        """``host:port``, where the chief listens."""
        return None if self.host is None else f"{self.host}:{self.port}"

    @property
    def owns_oracle(self) -> bool:
        """Whether this process holds the oracle and writes the table."""
        return self.kind != "worker"


def distributed_role(environment: Mapping[str, str] | None = None) -> Role:
    """This process's :class:`Role`, from KerasTuner's three environment variables.

    Raises:
        ValueError: some of the three are set and not the others, or the port is
            not a number from 1 to 65535.
    """
    environment = os.environ if environment is None else environment
    tuner_id = environment.get(TUNER_ID)
    host = environment.get(ORACLE_IP)
    port = environment.get(ORACLE_PORT)
    given = (
        f"Received: {TUNER_ID}={tuner_id!r}, {ORACLE_IP}={host!r}, "
        f"{ORACLE_PORT}={port!r}"
    )
    if host is None and port is None and tuner_id is None:
        return Role("alone", "tuner0")
    missing = [
        name
        for name, value in (
            (TUNER_ID, tuner_id),
            (ORACLE_IP, host),
            (ORACLE_PORT, port),
        )
        if not value
    ]
    if missing:
        raise ValueError(
            f"A search shared by many processes needs {TUNER_ID}, {ORACLE_IP} and "
            f"{ORACLE_PORT} all set ({', '.join(missing)} missing); a search in one "
            f"process needs none of them. {given}"
        )
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            f"{ORACLE_PORT} must be a port number from 1 to 65535. {given}"
        )
    # KerasTuner's own rule (keras_tuner/src/distribute/utils.py): an ID that
    # contains "chief" serves the oracle.
    kind = "chief" if "chief" in tuner_id else "worker"
    return Role(kind, tuner_id, host, int(port))


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """What :func:`tune` leaves, besides the files in the search folder.

    Attributes:
        out: The search folder.
        role: This process's part in the search.
        rows: One dict per trial, as ``trials.csv`` holds them (empty on a worker,
            which does not hold the oracle).
        best: The best completed trial's row, or ``None``.
        best_recipe: ``best_recipe.py``, or ``None`` when no trial completed (or
            the recipe was made in Python, which no file can import).
        table: The Markdown table of ``trials.md`` (empty on a worker).
        ran: The trials this process ran, in order.
    """

    out: Path
    role: Role
    rows: list[dict[str, Any]]
    best: dict[str, Any] | None
    best_recipe: Path | None
    table: str
    ran: list[str]


# The search space -------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_NOISE = re.compile(
    r"(?P<distribution>uniform|normal)"
    r"(?P<open>[\[(])(?P<first>[^,]+),(?P<second>[^)\]]+)(?P<close>[)\]])"
)


def parse_noise(name: str) -> Noise:
    """The :class:`~gan_cookbook.loop.Noise` a search's noise name stands for:
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
        lambda value: _is_number(value) and value > 0,
        "a positive number",
    ),
    "generator_learning_rate": (
        lambda value: _is_number(value) and value > 0,
        "a positive number",
    ),
    "beta_1": (
        lambda value: _is_number(value) and 0 <= value < 1,
        "a number in [0, 1)",
    ),
    "batch_size": (
        lambda value: _is_whole(value) and value >= 1,
        "a whole number of at least 1",
    ),
    "noise_dim": (
        lambda value: _is_whole(value) and value >= 1,
        "a whole number of at least 1",
    ),
    "average": (
        lambda value: _is_number(value) and 0 <= value < 1,
        "a decay in (0, 1), or 0 for no average",
    ),
    "real_label": (
        lambda value: _is_number(value) and 0.5 < value <= 1,
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


def _bounds(hyperparameter: hp_types.HyperParameter) -> list[Any]:
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
            _is_whole(value)
            and hyperparameter.min_value <= value <= hyperparameter.max_value
            and (value - hyperparameter.min_value) % step == 0
        )
    if isinstance(hyperparameter, hp_types.Float):
        return (
            _is_number(value)
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
            _is_number(low) and _is_number(high) and low < high
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
        for value in _bounds(hyperparameter):
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


# From drawn values to a recipe, and to a recipe file ------------------------------


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


def _code(value: Any) -> str:
    """``value`` as Python source, strings in double quotes as ruff writes them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _keywords(arguments: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={_code(value)}" for key, value in arguments.items())


@dataclasses.dataclass(frozen=True)
class _Change:
    """A recipe field a trial changes: its value, and the code that makes it."""

    value: Any
    code: str
    was: str  # the recipe's own, in words
    imports: tuple[str, ...] = ()


def _optimizer_change(
    base: Recipe, field: str, changes: dict[str, Any], source: str
) -> _Change:
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
            return _Change(
                partial(kind, **arguments),
                f"partial(keras.optimizers.{kind.__name__}, {_keywords(arguments)})",
                was,
                ("from functools import partial", "import keras"),
            )
    else:
        was = kind.__name__
    return _Change(
        optimizer_with(make, **changes),
        f"optimizer_with(BASE.{field}, {_keywords(changes)})",
        was,
        ("from gan_cookbook.tune import optimizer_with",),
    )


def _used(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drawn values as a trial uses them: real numbers to a few significant digits
    (a learning rate of 0.000423, not 0.00042318765...)."""
    used = {}
    for name, value in values.items():
        if name in SETTINGS and isinstance(value, float) and value != 0:
            digits = _SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))
            value = round(value, digits)
        used[name] = value
    return used


def _changes(
    base: Recipe, values: Mapping[str, Any], source: str
) -> dict[str, _Change]:
    """The recipe fields a trial's ``values`` change."""
    changes: dict[str, _Change] = {}
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
            changes[field] = _Change(
                values[field], _code(values[field]), _code(getattr(base, field))
            )
    if "noise" in values:
        noise = parse_noise(values["noise"])
        arguments = (
            f"low={noise.low!r}, high={noise.high!r}"
            if noise.distribution == "uniform"
            else f"mean={noise.mean!r}, stddev={noise.stddev!r}"
        )
        changes["noise"] = _Change(
            noise,
            f'Noise("{noise.distribution}", {arguments})',
            noise_name(base.noise),
            ("from gan_cookbook.loop import Noise",),
        )
    if "average" in values:
        average = None if values["average"] == 0 else check_decay(values["average"])
        changes["average"] = _Change(average, _code(average), _code(base.average))
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
    if len(betas) == 1 and _is_number(next(iter(betas))):
        own["beta_1"] = float(next(iter(betas)))
    return {
        hyperparameter.name: own[hyperparameter.name]
        for hyperparameter in space.space
        if hyperparameter.name in own
        and _holds(hyperparameter, own[hyperparameter.name])
    }


def _base_import(base: Recipe) -> tuple[str, ...] | None:
    """The lines that make ``BASE`` in a recipe file, or ``None`` for a recipe made
    in Python, which no file can import."""
    if base.file is not None:
        return (
            "from gan_cookbook.recipe import load_recipe_file",
            f"BASE = load_recipe_file({_code(base.file)})",
        )
    if base.name in recipes.BUILTIN and recipes.get(base.name) == base:
        return (f"from gan_cookbook.recipes.{base.name} import RECIPE as BASE",)
    return None


def _import_order(line: str) -> tuple[int, str]:
    """Standard library, then Keras, then this package, as ruff sorts them."""
    module = line.split()[1]
    group = 2 if module.startswith("gan_cookbook") else 1 if module == "keras" else 0
    return group, line


def recipe_source(
    base: Recipe,
    values: Mapping[str, Any],
    *,
    name: str,
    description: str,
    docstring: str,
    space: keras_tuner.HyperParameters | None = None,
    data: Mapping[str, Any] | None = None,
) -> str | None:
    """A recipe file: ``BASE``, the recipe ``base`` by name or path, with the
    settings ``values`` (a search's names) replaced.

    Args:
        base: The recipe the search started from.
        values: The settings, as a trial used them.
        name: The new recipe's name.
        description: The new recipe's description.
        docstring: The file's docstring.
        space: The search space, for each field's comment (what was searched).
        data: The ``--data`` the search trained on: ``path``, ``resize``,
            ``skip_bad_images``; the file loads it.

    Returns:
        The file's text, or ``None`` when ``base`` was made in Python.
    """
    base_lines = _base_import(base)
    if base_lines is None:
        return None
    changes = _changes(base, values, "the search")
    imports = {
        "import dataclasses",
        *(line for line in base_lines if " import " in line),
    }
    for change in changes.values():
        imports.update(change.imports)
    searched = {} if space is None else {hp.name: hp for hp in space.space}
    body = [f"    name={_code(name)},", f"    description={_code(description)},"]
    if data is not None:
        imports.update(
            ("from functools import partial", "from gan_cookbook.data import load_path")
        )
        body += [
            "    # The data the search trained and measured on.",
            "    load_data=partial(",
            f"        load_path, {_code(data['path'])}, "
            f"resize={_code(data['resize'])}, "
            f"skip_bad_images={data['skip_bad_images']!r}",
            "    ),",
        ]
    for field, change in changes.items():
        related = _RELATED.get(field, (field,))
        ranges = "; ".join(
            _describe(searched[setting]) for setting in related if setting in searched
        )
        note = f"Search space: {ranges}" if ranges else "Tuned"
        body += textwrap.wrap(
            f"{note}; {base.name}'s own: {change.was}.",
            width=88,
            initial_indent="    # ",
            subsequent_indent="    # ",
            break_on_hyphens=False,
        )
        body += _assignment(field, change.code)
    assignments = [line for line in base_lines if " import " not in line]
    lines = [f'"""{_wrap_docstring(docstring)}\n"""', ""]
    groups: dict[int, list[str]] = {}
    for line in imports:
        groups.setdefault(_import_order(line)[0], []).append(line)
    for group in sorted(groups):
        # As isort writes them: "import x" before "from x import y".
        lines += sorted(groups[group], key=lambda line: (line.startswith("from"), line))
        lines.append("")
    if assignments:
        lines += [*assignments, ""]
    lines += [
        "# Every other setting is BASE's own, its epochs too.",
        "RECIPE = dataclasses.replace(",
        "    BASE,",
        *body,
        ")",
        "",
    ]
    return "\n".join(lines)


def _assignment(field: str, code: str) -> list[str]:
    """``field=code,`` in the recipe's call, split over lines as ruff splits a call
    that does not fit in 88 columns."""
    line = f"    {field}={code},"
    opened = code.find("(")
    if len(line) <= 88 or opened < 0 or not code.endswith(")"):
        return [line]
    arguments = code[opened + 1 : -1]
    inner = f"        {arguments}"
    if len(inner) <= 88:
        return [f"    {field}={code[: opened + 1]}", inner, "    ),"]
    parts = [part.strip() for part in arguments.split(", ")]
    return [
        f"    {field}={code[: opened + 1]}",
        *(f"        {part}," for part in parts),
        "    ),",
    ]


def _wrap_docstring(text: str) -> str:
    """Each paragraph wrapped to 88 columns; indented lines (commands) as they are."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if paragraph.startswith(" "):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(
                textwrap.fill(
                    paragraph, width=85, break_on_hyphens=False, break_long_words=False
                )
            )
    return "\n\n".join(paragraphs)


_RELATED = {
    "discriminator_optimizer": ("discriminator_learning_rate", "beta_1"),
    "generator_optimizer": ("generator_learning_rate", "beta_1"),
}
"""The search's settings behind a recipe field, where they are not its own name."""


def _describe(hyperparameter: hp_types.HyperParameter) -> str:
    """A hyperparameter's range in words, for a recipe file's comment."""
    name = hyperparameter.name
    if isinstance(hyperparameter, hp_types.Choice):
        return f"{name} of {', '.join(map(_code, hyperparameter.values))}"
    if isinstance(hyperparameter, hp_types.Fixed):
        return f"{name} fixed at {hyperparameter.value!r}"
    if isinstance(hyperparameter, (hp_types.Int, hp_types.Float)):
        sampling = " (log)" if hyperparameter.sampling == "log" else ""
        return (
            f"{name} from {hyperparameter.min_value:g} to "
            f"{hyperparameter.max_value:g}{sampling}"
        )
    return name


# The table -------------------------------------------------------------------


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def _last(trial: Any, metric: str) -> float | None:
    if not trial.metrics.exists(metric):
        return None
    value = trial.metrics.get_last_value(metric)
    return None if value is None else float(value)


def trial_rows(
    oracle: keras_tuner.Oracle, names: Sequence[str], baseline: str | None
) -> list[dict[str, Any]]:
    """One row per trial of ``oracle``, in trial order: ``trial``, ``status``,
    :data:`OBJECTIVE`, ``seconds``, each setting of ``names`` and ``note``."""
    rows = []
    for trial_id in sorted(oracle.trials, key=int):
        trial = oracle.trials[trial_id]
        values = _used(trial.hyperparameters.values)
        status = str(trial.status)
        notes = []
        if trial_id == baseline:
            notes.append("the recipe's own settings")
        if status == "FAILED" and trial.message:
            # KerasTuner keeps the traceback; its last line is the error.
            lines = [
                line for line in trial.message.strip().splitlines() if line.strip()
            ]
            last = lines[-1].strip() if lines else "failed"
            notes.append(re.sub(r"^[\w.]*(Error|Exception): ", "", last))
        rows.append(
            {
                "trial": trial_id,
                "status": status,
                OBJECTIVE: _last(trial, OBJECTIVE) if status == "COMPLETED" else None,
                "seconds": _last(trial, "seconds"),
                **{name: values.get(name) for name in names},
                "note": "; ".join(notes),
            }
        )
    return rows


def best_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The completed trial with the lowest objective (the first of equals)."""
    done = [
        row
        for row in rows
        if row["status"] == "COMPLETED" and row[OBJECTIVE] is not None
    ]
    return min(done, key=lambda row: row[OBJECTIVE]) if done else None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> str:
    """The trials as a Markdown table, the best one's objective in bold."""
    best = best_row(rows)
    header = ["trial", "status", "Fréchet distance", "time", *names, "note"]
    lines = [
        "| " + " | ".join(header) + " |",
        "| "
        + " | ".join(
            "---:" if column in ("Fréchet distance", "time") else "---"
            for column in header
        )
        + " |",
    ]
    for row in rows:
        distance = "" if row[OBJECTIVE] is None else f"{row[OBJECTIVE]:.2f}"
        if row is best:
            distance = f"**{distance}**"
        cells = [
            row["trial"],
            row["status"].lower(),
            distance,
            _minutes(row["seconds"]),
            *(_cell(row[name]) for name in names),
            row["note"].replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# A search ---------------------------------------------------------------------


class _RetracingFilter(logging.Filter):
    """Holds back TensorFlow's warning that a new model's predict was traced:
    every trial builds new models, so each trial would print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_retracing() -> Iterator[None]:
    logger = logging.getLogger("tensorflow")
    retracing = _RetracingFilter()
    logger.addFilter(retracing)
    try:
        yield
    finally:
        logger.removeFilter(retracing)


class _WriteRecipeFile(keras.callbacks.Callback):
    """Writes a trial's recipe.py into its run folder once the run has made it
    (after a rerun has cleared it)."""

    def __init__(self, path: Path, text: str):
        super().__init__()
        self.path, self.text = path, text

    def on_train_begin(self, logs: dict | None = None) -> None:
        write_text(self.path, self.text)


@dataclasses.dataclass
class _Search:
    """A search's settings, and what runs its trials and writes its table."""

    recipe: Recipe
    out: Path
    role: Role
    space: keras_tuner.HyperParameters
    source: str
    epochs: int
    count: int
    limit: int | None
    data: str | None
    resize: str | None
    skip_bad_images: bool | None
    baseline: dict[str, Any] | None
    verbose: int
    callbacks: Sequence[keras.callbacks.Callback]
    trials: int
    evaluator: Any = None
    ran: list[str] = dataclasses.field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [hyperparameter.name for hyperparameter in self.space.space]

    def say(self, line: str) -> None:
        if self.verbose:
            print(line, flush=True)

    def data_settings(self) -> dict[str, Any] | None:
        if self.data is None:
            return None
        return {
            "path": self.data,
            "resize": self.resize or DEFAULT_RESIZE,
            "skip_bad_images": bool(self.skip_bad_images),
        }

    def trial_recipe(
        self, trial_id: str, values: Mapping[str, Any]
    ) -> tuple[Recipe, str | None]:
        """The recipe of one trial, and the text of its recipe.py."""
        folder = (self.out / TRIALS_FOLDER / trial_id).resolve()
        name = f"{self.recipe.name}_trial_{trial_id}"
        description = (
            f"{self.recipe.name} with the settings of trial {trial_id} of a search"
        )
        changes = _changes(self.recipe, values, self.source)
        text = recipe_source(
            self.recipe,
            values,
            name=name,
            description=description,
            docstring=(
                f"{self.recipe.name} with the settings of trial {trial_id} of the "
                f"search in {self.out.resolve()}.\n\nThis file's folder is the "
                "trial's run folder: sample, evaluate or resume it there (gan-cookbook "
                "resume FOLDER --epochs N trains it further). Cook the same settings "
                f"afresh with:\n\n    gan-cookbook cook {folder / TRIAL_RECIPE} "
                f"--epochs {self.epochs}"
            ),
            space=self.space,
            data=self.data_settings(),
        )
        recipe = dataclasses.replace(
            self.recipe,
            name=name,
            description=description,
            file=None if text is None else str(folder / TRIAL_RECIPE),
            **{field: change.value for field, change in changes.items()},
        )
        return recipe, text

    def run_trial(self, trial_id: str, drawn: Mapping[str, Any]) -> dict[str, float]:
        """Cooks and measures one trial; returns its metrics for the oracle.

        A trial that fails says so and raises on: KerasTuner records it as failed,
        with its message, and goes on with the next.
        """
        try:
            return self.cook_and_measure(trial_id, drawn)
        except (_Stop, _Fatal):
            raise
        except keras_tuner.errors.FailedTrialError as error:
            self.say(f"Trial {trial_id} failed: {error}")
            raise
        except Exception as error:
            self.say(f"Trial {trial_id} failed: {type(error).__name__}: {error}")
            raise

    def cook_and_measure(
        self, trial_id: str, drawn: Mapping[str, Any]
    ) -> dict[str, float]:
        started = time.perf_counter()
        values = _used(drawn)
        shown = ", ".join(
            f"{name} {_cell(values[name])}" for name in self.names if name in values
        )
        self.say(f"Trial {trial_id} ({self.tuner_note(trial_id)}): {shown}")
        # KerasTuner's own habit before each trial: a fresh Keras state, so that
        # each trial's layers have the names a new process gives them (and a resume
        # of the run folder finds them), and memory does not grow trial by trial.
        keras.backend.clear_session()
        try:
            recipe, text = self.trial_recipe(trial_id, values)
        except ValueError as error:
            raise keras_tuner.errors.FailedTrialError(str(error)) from None
        folder = self.out / TRIALS_FOLDER / trial_id
        callbacks = list(self.callbacks)
        if text is not None:
            callbacks.append(_WriteRecipeFile(folder / TRIAL_RECIPE, text))
        try:
            run = prepare(
                recipe,
                out=folder,
                epochs=self.epochs,
                limit=self.limit,
                data=self.data,
                resize=self.resize,
                skip_bad_images=self.skip_bad_images,
                verbose=0,
                callbacks=callbacks,
                # A rerun of a trial that was in flight when the search stopped
                # starts it again; cook refuses a folder that holds no run.
                overwrite=(folder / SETTINGS_FILE).is_file(),
            )
        except ValueError as error:
            # Settings these data cannot take: a batch larger than the images, ...
            raise keras_tuner.errors.FailedTrialError(str(error)) from None
        if self.evaluator is None:
            self.evaluator = self.make_evaluator(run.dataset)
        try:
            result = run.cook()
        except RunStopped as stopped:
            if stopped.exit_code == 1:  # a NaN or infinite loss
                raise keras_tuner.errors.FailedTrialError(str(stopped)) from None
            raise _Stop(
                SearchStopped(
                    f"Stopped in trial {trial_id}: {stopped} The search keeps every "
                    "finished trial; run it again to continue it (trial "
                    f"{trial_id} starts again).",
                    stopped.exit_code,
                )
            ) from None
        sampled = result.averaged_generator or result.generator
        metrics = self.evaluator.measure(sampled, recipe.noise, self.count, seed=0)
        metrics["model"] = str(folder)
        metrics["generator"] = (
            "generator.keras"
            if recipe.average is None
            else f"generator.keras (the average of the trained generator's weights, "
            f"decay {recipe.average:g})"
        )
        write_json(folder / METRICS_FILE, json_ready(metrics))
        distance = float(metrics["generated"][OBJECTIVE])
        seconds = time.perf_counter() - started
        self.ran.append(trial_id)
        self.say(
            f"Trial {trial_id} done: Fréchet distance {distance:.2f} in "
            f"{_minutes(seconds)} (N = {metrics['n']}; {folder})"
        )
        return {OBJECTIVE: distance, "seconds": seconds}

    def tuner_note(self, trial_id: str) -> str:
        note = f"{int(trial_id) + 1} of {self.trials}"
        return (
            f"{note}, on {self.role.tuner_id}" if self.role.kind == "worker" else note
        )

    def make_evaluator(self, dataset: Any) -> Any:
        """The measurement shared by every trial: the classifier, the reference
        images' statistics and the floor, loaded (or trained) once."""
        from gan_cookbook.evaluation.measure import evaluator_of

        try:
            evaluator = evaluator_of(dataset, self.count, seed=0, verbose=self.verbose)
            evaluator.prepare()
        except ValueError as error:
            raise _Fatal(error) from None
        return evaluator

    def write_table(
        self, oracle: keras_tuner.Oracle
    ) -> tuple[list[dict[str, Any]], Path | None]:
        """Writes trials.csv, trials.md and best_recipe.py from ``oracle``."""
        first = min(oracle.trials, key=int) if oracle.trials else None
        rows = trial_rows(oracle, self.names, first if self.baseline else None)
        columns = ["trial", "status", OBJECTIVE, "seconds", *self.names, "note"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            written = {**row, "seconds": row["seconds"] and round(row["seconds"], 1)}
            writer.writerow(
                {key: "" if value is None else value for key, value in written.items()}
            )
        write_text(self.out / TABLE_CSV, buffer.getvalue())
        write_text(self.out / TABLE_MARKDOWN, markdown_table(rows, self.names) + "\n")
        best = best_row(rows)
        if best is None:
            return rows, None
        values = {name: best[name] for name in self.names if best[name] is not None}
        path = self.out / BEST_RECIPE
        images = f"the first {self.limit} images" if self.limit else "all the images"
        data = f" of {self.data}" if self.data else ""
        text = recipe_source(
            self.recipe,
            values,
            name=f"{self.recipe.name}_tuned",
            description=(
                f"{self.recipe.name}, tuned: trial {best['trial']} of a search, "
                f"Fréchet distance {best[OBJECTIVE]:.1f}"
            ),
            docstring=(
                f"{self.recipe.name}, tuned: trial {best['trial']} of the search in "
                f"{self.out.resolve()}, the best of {len(rows)} trials.\n\n"
                f"It scored a Fréchet distance of {best[OBJECTIVE]:.2f} (N = "
                f"{self.count:,}, lower is better) after {self.epochs} "
                f"epoch{'s' if self.epochs != 1 else ''} on {images}{data}; the "
                f"search's table is {TABLE_MARKDOWN} beside this file. Cook it with:"
                f"\n\n    gan-cookbook cook {path.resolve()}"
            ),
            space=self.space,
            data=self.data_settings(),
        )
        if text is None:
            return rows, None
        write_text(path, text)
        return rows, path


def _search_oracle(
    kind: str,
    trials: int,
    space: keras_tuner.HyperParameters,
    seed: int,
    baseline: dict[str, Any] | None,
    on_end: Callable[[keras_tuner.Oracle], None],
) -> keras_tuner.Oracle:
    """KerasTuner's oracle of ``kind``; its first trial is the recipe's own
    settings (``baseline``), and ``on_end`` runs after each trial ends."""
    base = {
        "random": keras_tuner.oracles.RandomSearchOracle,
        "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
    }[kind]

    class SearchOracle(base):  # type: ignore[misc, valid-type]
        def populate_space(self, trial_id: str) -> dict[str, Any]:
            if baseline is not None and not self.trials:
                return {"status": "RUNNING", "values": dict(baseline)}
            return super().populate_space(trial_id)

        def end_trial(self, trial: Any) -> None:
            super().end_trial(trial)
            on_end(self)

    return SearchOracle(
        objective=keras_tuner.Objective(OBJECTIVE, direction="min"),
        max_trials=trials,
        hyperparameters=space,
        # Only the settings of the space; a trial asks for nothing else.
        allow_new_entries=False,
        tune_new_entries=False,
        # KerasTuner reads a seed of 0 as none at all.
        seed=seed + 1,
        # A failed trial (a NaN loss, settings the data cannot take) is a result
        # of the search, kept in the table; KerasTuner's default would end the
        # whole search after three in a row.
        max_consecutive_failed_trials=trials + 1,
    )


class _RecipeTuner(keras_tuner.Tuner):
    """KerasTuner's tuner; each trial cooks the recipe (:meth:`_Search.run_trial`)."""

    def __init__(self, search: _Search, oracle: keras_tuner.Oracle):
        self.search_settings = search
        super().__init__(
            oracle=oracle,
            directory=str(search.out),
            project_name=STATE_FOLDER,
            overwrite=False,
        )

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        return self.search_settings.run_trial(
            trial.trial_id, trial.hyperparameters.values
        )

    def _get_tuner_fname(self) -> str:
        # KerasTuner names this file for the tuner ID, and reloads the oracle only
        # when it finds it: a search begun alone ("tuner0") and continued as a chief
        # would start afresh over its own trials. One name for the process that
        # holds the oracle, alone or chief; the workers' keep KerasTuner's.
        if self.search_settings.role.owns_oracle:
            return os.path.join(str(self.project_dir), "tuner.json")
        return super()._get_tuner_fname()


def _check_out(out: Path, settings: dict[str, Any]) -> None:
    """Refuses a search folder that holds something else, or another search."""
    received = f"Received: out={str(out)!r}"
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"`out` {out} is a file. Expected a new or empty folder. {received}"
        )
    saved_path = out / SEARCH_FILE
    if not saved_path.is_file():
        # Another process of the search may be writing search.json this instant.
        writing = f".{SEARCH_FILE}.tmp"
        if out.is_dir() and any(path.name != writing for path in out.iterdir()):
            raise ValueError(
                f"`out` {out} already holds files, and no search ({SEARCH_FILE}): a "
                f"search never overwrites them. Choose a new folder. {received}"
            )
        return
    try:
        saved = json.loads(saved_path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"`out` {saved_path}: cannot be read ({error}). {received}"
        ) from None
    differ = []
    for key in _SAME_SETTINGS:
        before, after = json_ready(saved.get(key)), json_ready(settings[key])
        if key == "recipe" and isinstance(before, dict):
            # Field by field: which of the recipe's settings changed.
            pairs = [
                (f"recipe.{field}", before.get(field), after.get(field))
                for field in sorted({*before, *after})
            ]
        else:
            pairs = [(key, before, after)]
        differ += [
            f"{name}: {_brief(was)} in the search, {_brief(given)} given"
            for name, was, given in pairs
            if was != given
        ]
    if differ:
        raise ValueError(
            f"`out` {out} holds a search with other settings; continuing it needs "
            "the same (only `trials` may change, to extend it). Choose a new folder "
            "for a new search.\n  " + "\n  ".join(differ)
        )


def _recipe_settings(recipe: Recipe) -> dict[str, Any]:
    """The recipe's settings as ``search.json`` records them: ``to_config`` less the
    names Keras gives each new optimizer ("adam_7"), which no rerun repeats."""
    config = json_ready(recipe.to_config())
    for field in ("discriminator_optimizer", "generator_optimizer"):
        config[field].get("config", {}).pop("name", None)
    return config


_SAME_SETTINGS = (
    "recipe",
    "epochs",
    "limit",
    "data",
    "count",
    "oracle",
    "seed",
    "baseline",
    "space",
)
"""What a search continued in its folder must share with the saved one."""


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _check_port(role: Role) -> None:
    """Refuses a chief address this machine cannot listen on, or that something
    already listens on: gRPC shares a port (SO_REUSEPORT) rather than fail."""
    received = f"Received: {ORACLE_IP}={role.host!r}, {ORACLE_PORT}={role.port}"
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            role.host, role.port, type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.bind(address)
    except OSError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ValueError(
            f"The chief cannot listen on {role.address} ({reason}): set {ORACLE_IP} "
            f"to an address of this machine and {ORACLE_PORT} to a free port. "
            f"{received}"
        ) from None


def _wait_for_chief(role: Role, timeout: float, verbose: int) -> None:
    """Waits up to ``timeout`` seconds for the chief's gRPC server; KerasTuner's
    own client would wait an hour."""
    import grpc

    if verbose:
        print(
            f"Waiting up to {timeout:g} s for the chief at {role.address} ...",
            flush=True,
        )
    channel = grpc.insecure_channel(role.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise ValueError(
            f"No chief answered at {role.address} within {timeout:g} s. Start the "
            f"chief first (the same command with {TUNER_ID}=chief) on the machine "
            f"of {ORACLE_IP}, check that its port is open to this machine, or wait "
            f"longer with `chief_timeout`. Received: {ORACLE_IP}={role.host!r}, "
            f"{ORACLE_PORT}={role.port}"
        ) from None
    finally:
        channel.close()


def _check_same_space(
    tuner: keras_tuner.Tuner, space: keras_tuner.HyperParameters
) -> None:
    """Refuses to work for a chief whose search space is another."""
    theirs = tuner.oracle.get_space()
    ours = keras_tuner.HyperParameters.from_proto(space.to_proto())
    if theirs.get_config()["space"] != ours.get_config()["space"]:
        raise ValueError(
            "The chief searches another space than this worker: run the same "
            "command (the same recipe file and SEARCH) on every machine. Received: "
            f"the chief's {[hp.name for hp in theirs.space]}, this worker's "
            f"{[hp.name for hp in ours.space]}"
        )


@contextlib.contextmanager
def _held(out: Path, role: Role) -> Iterator[None]:
    """One process at a time holds a search's oracle in a folder: a second one
    would overwrite its state."""
    if not role.owns_oracle:
        yield
        return
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        yield
        return
    lock_path = out / STATE_FOLDER / ".lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"`out` {out}: another process runs this search now (it holds "
                f"{lock_path}). Wait for it to end, or make this process one of its "
                f"workers with {TUNER_ID}, {ORACLE_IP} and {ORACLE_PORT}. "
                f"Received: out={str(out)!r}"
            ) from None
        yield


def _check_count(name: str, value: Any, low: int) -> None:
    if not _is_whole(value) or value < low:
        raise ValueError(
            f"`{name}` must be an integer of at least {low}. Received: {name}={value!r}"
        )


def tune(
    recipe: Recipe,
    *,
    out: str | Path,
    trials: int,
    epochs: int | None = None,
    limit: int | None = None,
    data: str | Path | None = None,
    resize: str | None = None,
    skip_bad_images: bool | None = None,
    count: int = DEFAULT_COUNT,
    search: Mapping[str, Any] | keras_tuner.HyperParameters | None = None,
    oracle: str = "random",
    seed: int = 0,
    baseline: bool = True,
    chief_timeout: float = DEFAULT_CHIEF_TIMEOUT,
    verbose: int = 1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> SearchResult:
    """Searches ``recipe``'s settings with KerasTuner; continues a search in ``out``.

    Each trial cooks the recipe with settings drawn from the search space into
    ``out/trials/<id>`` and reports the Fréchet distance of the generator it
    samples (the average of G when the recipe keeps one) as the objective,
    minimised. Alone (none of KerasTuner's ``KERASTUNER_*`` variables set) this
    process runs the whole search; as the chief it serves the oracle to the workers
    until they have run every trial; as a worker it runs trials for the chief.

    Args:
        recipe: The recipe to tune: a built-in one or one loaded from a file.
        out: The search folder: new, empty, or holding this search to continue.
        trials: The number of trials in all; more than a search in ``out`` holds
            extends it.
        epochs: Epochs each trial cooks. Defaults to the recipe's.
        limit: Each trial trains on the first ``limit`` images only.
        data: A file or folder each trial trains on instead of the recipe's data;
            its test split, when it has one, is the reference of the measurement.
        resize: How ``data`` images of another size become 28x28. Defaults to
            Lanczos.
        skip_bad_images: Leave out images in ``data`` that Pillow cannot read.
        count: Generated and real images each measurement compares. Defaults to
            10,000.
        search: The search space: ``keras_tuner.HyperParameters`` or a plain dict,
            as :data:`DEFAULT_SEARCH`. Defaults to the ``SEARCH`` of the recipe's
            file, else :data:`DEFAULT_SEARCH`.
        oracle: ``"random"`` (random search) or ``"bayesian"`` (Bayesian
            optimisation; needs scikit-learn). Defaults to ``"random"``.
        seed: Seeds the oracle's draws (every trial cooks with the recipe's own
            seed). Defaults to 0.
        baseline: The first trial cooks the recipe's own settings, where the space
            can draw them: the others are measured against it. Defaults to True.
        chief_timeout: How long a worker waits for its chief before it gives up,
            in seconds. Defaults to 30.
        verbose: 0 silent, 1 a line as each trial begins and ends.
        callbacks: Keras callbacks for every trial's training loop.

    Returns:
        A :class:`SearchResult`.

    Raises:
        ValueError: a setting, the search space, the folder or KerasTuner's
            environment variables are not usable, or no chief answers a worker;
            the message names the argument, Keras style.
        SearchStopped: SIGINT or SIGTERM stopped the search in a trial.
    """
    _check_count("trials", trials, 1)
    _check_count("count", count, 2)
    if epochs is not None:
        _check_count("epochs", epochs, 1)
    if limit is not None:
        _check_count("limit", limit, 1)
    if not _is_whole(seed) or seed < 0:
        raise ValueError(
            f"`seed` must be an integer of at least 0. Received: seed={seed!r}"
        )
    if oracle not in ORACLES:
        raise ValueError(
            f"`oracle` must be one of {', '.join(ORACLES)}. Received: oracle={oracle!r}"
        )
    if oracle == "bayesian":
        import importlib.util

        missing = [
            name
            for name in ("sklearn", "scipy")
            if importlib.util.find_spec(name) is None
        ]
        if missing:
            raise ValueError(
                "`oracle='bayesian'` needs scikit-learn and scipy (KerasTuner's "
                'Gaussian process): pip install "gan-cookbook[bayesian]". '
                f"Received: oracle='bayesian', {', '.join(missing)} not installed"
            )
    if not _is_number(chief_timeout) or chief_timeout <= 0:
        raise ValueError(
            f"`chief_timeout` must be a positive number of seconds. "
            f"Received: chief_timeout={chief_timeout!r}"
        )
    role = distributed_role()
    out = Path(out)
    if search is None:
        search, source = recipe_search(recipe)
    else:
        source = "`search`"
    space = search_space(search, source)
    names = [hyperparameter.name for hyperparameter in space.space]
    batches = [_bounds(hp) for hp in space.space if hp.name == "batch_size"]
    largest_batch = max(batches[0]) if batches else recipe.batch_size
    if limit is not None and largest_batch > limit:
        raise ValueError(
            f"{source} draws batches of up to {largest_batch} images, more than the "
            f"`limit` of {limit}: narrow batch_size, or raise `limit`. "
            f"Received: limit={limit}"
        )
    # Every value drawn must make a recipe: an optimizer without beta_1 fails here.
    own = recipe_values(recipe, space)
    _changes(recipe, {hp.name: _bounds(hp)[0] for hp in space.space}, source)
    epochs = epochs or recipe.epochs
    data = None if data is None else str(Path(data).resolve())
    settings = {
        "recipe": _recipe_settings(recipe),
        "epochs": epochs,
        "limit": limit,
        "data": None
        if data is None
        else {"path": data, "resize": resize, "skip_bad_images": bool(skip_bad_images)},
        "count": count,
        "oracle": oracle,
        "seed": seed,
        "baseline": baseline,
        "space": space.get_config(),
    }
    _check_out(out, settings)
    first = dict(own) if baseline and set(own) == set(names) else None
    if baseline and first is None and verbose:
        print(
            f"No baseline trial: {source} cannot draw {recipe.name}'s own "
            f"{', '.join(name for name in names if name not in own)}.",
            flush=True,
        )
    state = _Search(
        recipe=recipe,
        out=out,
        role=role,
        space=space,
        source=source,
        epochs=epochs,
        count=count,
        limit=limit,
        data=data,
        resize=resize,
        skip_bad_images=skip_bad_images,
        baseline=first,
        verbose=verbose,
        callbacks=callbacks,
        trials=trials,
    )
    if role.kind == "worker":
        _wait_for_chief(role, chief_timeout, verbose)
    if role.kind == "chief":
        _check_port(role)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / SEARCH_FILE).is_file():
        # Every process of a search writes the same file, atomically: whichever
        # comes first on a shared disk, the others find it and check it.
        write_json(
            out / SEARCH_FILE,
            {
                **settings,
                "keras_version": keras.__version__,
                "keras_tuner_version": keras_tuner.__version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )

    def on_end(ended: keras_tuner.Oracle) -> None:
        rows, _ = state.write_table(ended)
        if role.kind == "chief" and verbose:
            finished = [row for row in rows if row["status"] not in ("RUNNING", "IDLE")]
            best = best_row(rows)
            best_text = (
                ""
                if best is None
                else f"; best so far: trial {best['trial']}, {best[OBJECTIVE]:.2f}"
            )
            print(f"{len(finished)} of {trials} trials done{best_text}", flush=True)

    with _held(out, role), _quiet_retracing():
        search_oracle = _search_oracle(oracle, trials, space, seed, first, on_end)
        # KerasTuner prints "Reloading Tuner from ..." when it continues a search.
        with contextlib.redirect_stdout(io.StringIO()):
            tuner = _RecipeTuner(state, search_oracle)
        if role.owns_oracle:
            done = sum(
                1
                for trial in search_oracle.trials.values()
                if str(trial.status) in ("COMPLETED", "FAILED")
            )
            if search_oracle.trials:
                state.say(
                    f"Continuing the search in {out}: {done} of {trials} trials done."
                )
            else:
                plural = "s" if epochs != 1 else ""
                state.say(
                    f"Searching {recipe.name}: {trials} trials of {epochs} "
                    f"epoch{plural} each in {out}, a {oracle} search over "
                    f"{', '.join(names)}."
                )
        else:
            _check_same_space(tuner, space)
            state.say(f"Working for the chief at {role.address} as {role.tuner_id}.")
        finished = (
            role.kind == "chief"
            and search_oracle.remaining_trials() is not None
            and search_oracle.remaining_trials() <= 0
            and not search_oracle.get_state()["retry_queue"]
        )
        if role.kind == "chief" and not finished:
            state.say(f"Serving the search to its workers on {role.address}.")
        try:
            if not finished:
                tuner.search(verbose=0)
        except _Stop as stop:
            raise stop.stopped from None
        except _Fatal as fatal:
            raise fatal.error from None
        finally:
            if role.owns_oracle:
                # Stopped or not, the table shows where the search stands: the
                # trials in flight as running.
                state.write_table(search_oracle)
    if not role.owns_oracle:
        return SearchResult(out, role, [], None, None, "", list(state.ran))
    rows, best_recipe = state.write_table(search_oracle)
    return SearchResult(
        out=out,
        role=role,
        rows=rows,
        best=best_row(rows),
        best_recipe=best_recipe,
        table=markdown_table(rows, state.names),
        ran=list(state.ran),
    )
