"""The options of cooking a recipe, as one frozen object: defaults and checks here.

:func:`~gan_cookbook.cook.prepare` takes them as keyword arguments and turns them into
a :class:`CookOptions` once; a resumed run's options are the ones it was cooked with
(its ``recipe.json``) wherever the new call leaves one out. Imports no Keras backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gan_cookbook.checks import check_integer
from gan_cookbook.choices import ENGINES, PRECISIONS

DEFAULT_ENGINE = "classic"
DEFAULT_CHECKPOINT_EVERY = 1
DEFAULT_KEEP_CHECKPOINTS = 2
DEFAULT_EVAL_COUNT = 10000

# The options that override the recipe's field of the same name.
RECIPE_FIELDS = ("epochs", "batch_size", "seed", "precision")


@dataclasses.dataclass(frozen=True)
class CookOptions:
    """How to cook a recipe, beside the recipe itself.

    Every field is ``None`` when it was not given: the recipe's setting or the
    default below is used, and ``recipe.json`` records only the options given, so a
    resume can tell a default from a choice.

    Attributes:
        epochs: Overrides the recipe's epochs (with ``resume``: the epoch to
            continue to).
        batch_size: Overrides the recipe's batch size.
        seed: Overrides the recipe's seed.
        precision: Overrides the recipe's precision: ``"float32"`` or
            ``"mixed_bfloat16"``.
        limit: Train on the first ``limit`` images only. Defaults to all.
        data: A file or folder to train on instead of the recipe's data;
            ``recipe.json`` records it absolute, so that a resume from elsewhere
            finds it.
        resize: How ``data`` images of another size become 28x28. Defaults to
            Lanczos (:data:`~gan_cookbook.pixels.DEFAULT_RESIZE`).
        skip_bad_images: Leave out images in ``data`` that Pillow cannot read.
            Defaults to False.
        engine: ``"classic"`` or ``"fused"`` (JAX only). Defaults to ``"classic"``.
        steps_per_execution: Whole GAN steps per compiled call of the fused
            engine (K batches on the device, one host round trip). Defaults to the
            recipe's with the fused engine, else 1.
        checkpoint_every: Write a checkpoint every this many epochs (and at the
            last). Defaults to 1.
        keep_checkpoints: How many checkpoints to keep, newest first. Defaults to 2:
            an older one to fall back on if the newest is damaged.
        eval_every: Add the Fréchet distance to ``history.csv`` every this many
            epochs. Defaults to never.
        eval_count: Images per measurement (with ``eval_every`` only). Defaults to
            10,000.
        tensorboard: A folder for TensorBoard logs. Defaults to none.
    """

    epochs: int | None = None
    batch_size: int | None = None
    seed: int | None = None
    precision: str | None = None
    limit: int | None = None
    data: str | None = None
    resize: str | None = None
    skip_bad_images: bool | None = None
    engine: str | None = None
    steps_per_execution: int | None = None
    checkpoint_every: int | None = None
    keep_checkpoints: int | None = None
    eval_every: int | None = None
    eval_count: int | None = None
    tensorboard: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "epochs",
            "batch_size",
            "limit",
            "steps_per_execution",
            "checkpoint_every",
            "keep_checkpoints",
            "eval_every",
        ):
            check_integer(name, getattr(self, name), 1, optional=True)
        check_integer("seed", self.seed, 0, optional=True)
        check_integer("eval_count", self.eval_count, 2, optional=True)
        for name, choices in (("precision", PRECISIONS), ("engine", ENGINES)):
            value = getattr(self, name)
            if value is not None and value not in choices:
                raise ValueError(
                    f"`{name}` must be one of {', '.join(choices)}. "
                    f"Received: {name}={value!r}"
                )
        if self.skip_bad_images not in (None, True, False):
            raise ValueError(
                "`skip_bad_images` must be True or False. "
                f"Received: skip_bad_images={self.skip_bad_images!r}"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The options' names, as :func:`~gan_cookbook.cook.prepare` takes them."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def given(cls, **options: Any) -> CookOptions:
        """The options of a call: ``None`` (and ``skip_bad_images=False``) is "not
        given"; ``data`` and ``tensorboard`` become path strings."""
        for name in ("data", "tensorboard"):
            if options.get(name) is not None:
                options[name] = str(options[name])
        if options.get("skip_bad_images") is False:
            options["skip_bad_images"] = None
        return cls(**options)

    def merged(self, recorded: Mapping[str, Any]) -> CookOptions:
        """These options, with the ones left out taken from a resumed run's
        ``recipe.json`` (``options``). Unknown recorded names are ignored."""
        names = {field.name for field in dataclasses.fields(self)}
        taken = {
            name: value
            for name, value in recorded.items()
            if name in names and getattr(self, name) is None
        }
        return dataclasses.replace(self, **taken)

    def recorded(self) -> dict[str, Any]:
        """The options given, as ``recipe.json`` records them: without ``None``s,
        and without ``eval_count`` when nothing is evaluated."""
        values = dataclasses.asdict(self)
        if self.data is not None:
            values["data"] = str(Path(self.data).resolve())
        if self.eval_every is None:
            values["eval_count"] = None
        return {name: value for name, value in values.items() if value is not None}

    def recipe_overrides(self) -> dict[str, Any]:
        """The recipe fields these options override, for ``Recipe.replace``."""
        return {name: getattr(self, name) for name in RECIPE_FIELDS}

    # Each option as used: the given value or its default.
    @property
    def engine_or_default(self) -> str:
        return self.engine or DEFAULT_ENGINE

    @property
    def checkpoint_every_or_default(self) -> int:
        return self.checkpoint_every or DEFAULT_CHECKPOINT_EVERY

    @property
    def keep_checkpoints_or_default(self) -> int:
        return self.keep_checkpoints or DEFAULT_KEEP_CHECKPOINTS

    @property
    def eval_count_or_default(self) -> int:
        return self.eval_count or DEFAULT_EVAL_COUNT
