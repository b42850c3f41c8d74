"""The run folder: its files, ``recipe.json`` as a typed record, and its rules.

Every command that writes or reads a run goes through :class:`RunFolder`: ``cook``
and ``resume`` (new, empty, overwrite and resumable checks, the disk's room, the
settings a resume must share), ``sample``, ``interpolate`` and ``evaluate`` (the
models, the recorded noise and data, ``metrics.json``) and ``tune`` (each trial is a
run folder). ``recipe.json`` is read and written as a :class:`RunRecord`.

This module imports no Keras backend: the command line checks a folder before it
starts one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_cookbook.checkpoint import list_checkpoints
from gan_cookbook.checks import is_integer
from gan_cookbook.files import remove_temporaries, write_json
from gan_cookbook.locks import LockHeld, held, holder
from gan_cookbook.options import CookOptions

if TYPE_CHECKING:
    from gan_cookbook.data import DataSource
    from gan_cookbook.noise import Noise

SETTINGS_FILE = "recipe.json"
"""A run's resolved settings, options, data identity and versions."""
METRICS_FILE = "metrics.json"
"""What ``gan-cookbook evaluate`` measured."""
GENERATOR_FILE = "generator.keras"
"""A run's generator to sample from: the averaged one when the recipe averages."""
RAW_GENERATOR_FILE = "generator_raw.keras"
"""A run's trained generator, beside the averaged one when the recipe averages."""
DISCRIMINATOR_FILE = "discriminator.keras"
"""A run's discriminator."""
LOCK_FILE = ".lock"
"""Locked by the process that cooks the run (:mod:`gan_cookbook.locks`)."""

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
    ("recipe", "objective"),
    ("recipe", "d_steps"),
    ("data", "source"),
    ("data", "identity"),
    ("data", "images"),
    ("data", "image_shape"),
    ("data", "num_classes"),
)

# What a run recorded before a setting was added to recipe.json had: the classic
# objective, one D update a step, and binary cross-entropy written out as the loss
# (now None, the objective's).
_RECORDED_BEFORE = {
    ("recipe", "objective"): "standard",
    ("recipe", "d_steps"): 1,
}


def _resume_value(settings: Mapping[str, Any], section: str, key: str) -> Any:
    recorded = settings.get(section, {})
    value = recorded.get(key, _RECORDED_BEFORE.get((section, key)))
    if (section, key) == ("recipe", "loss") and value is None:
        if recorded.get("objective", "standard") == "standard":
            return "binary_crossentropy"
    return value


# The sources recipe.json named the built-in datasets by, before it recorded their
# identity.
_BUILTIN_SOURCES = {
    "mnist (train)": "mnist",
    "Fashion-MNIST (train)": "fashion_mnist",
    "Kuzushiji-MNIST (train)": "kmnist",
}


def json_ready(value: Any) -> Any:
    """``value`` with paths as strings, as JSON holds it."""
    return json.loads(json.dumps(value, default=str))


def _section(settings: Mapping[str, Any], name: str) -> dict[str, Any]:
    section = settings.get(name)
    return dict(section) if isinstance(section, Mapping) else {}


@dataclasses.dataclass(frozen=True)
class DataRecord:
    """``recipe.json``'s ``data``: what a run trained on.

    Attributes:
        source: The data in words (``"mnist (train)"``, a path).
        identity: A :meth:`~gan_cookbook.data.DataSource.to_config` dict that loads
            the data again, or ``None`` for data only the recipe's code loads.
        images: The number of training images.
        image_shape: ``[height, width, channels]``.
        num_classes: The classes of a conditional run, else ``None``.
    """

    source: str | None = None
    identity: dict[str, Any] | None = None
    images: int | None = None
    image_shape: list[int] | None = None
    num_classes: int | None = None
    has_identity: bool = dataclasses.field(default=True, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "identity": self.identity,
            "images": self.images,
            "image_shape": self.image_shape,
            "num_classes": self.num_classes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DataRecord:
        num_classes = data.get("num_classes")
        valid_classes = is_integer(num_classes) and num_classes > 0
        identity = data.get("identity")
        return cls(
            source=data.get("source") if isinstance(data.get("source"), str) else None,
            identity=identity if isinstance(identity, dict) else None,
            images=data.get("images"),
            image_shape=data.get("image_shape"),
            num_classes=num_classes if valid_classes else None,
            has_identity="identity" in data,
        )


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """``recipe.json``: how a run was cooked, read and written as one object.

    Attributes:
        recipe: The resolved recipe, as :meth:`~gan_cookbook.recipe.Recipe.to_config`
            gives it (functions by their import path).
        options: The options :func:`~gan_cookbook.cook.prepare` was given, as
            :meth:`~gan_cookbook.options.CookOptions.recorded` gives them.
        data: What the run trained on.
        keras_version: Keras' version.
        backend: The Keras backend.
        seed: The recipe's seed.
        created: When the run began (ISO 8601, local time).
    """

    recipe: dict[str, Any] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: DataRecord = dataclasses.field(default_factory=DataRecord)
    keras_version: str | None = None
    backend: str | None = None
    seed: int | None = None
    created: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as ``recipe.json`` holds it."""
        return {
            "recipe": json_ready(self.recipe),
            "options": json_ready(self.options),
            "data": json_ready(self.data.to_json()),
            "keras_version": self.keras_version,
            "backend": self.backend,
            "seed": self.seed,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, settings: Mapping[str, Any]) -> RunRecord:
        """The record of a ``recipe.json``'s contents; missing sections are empty
        (a run of an older version, or a file written by hand)."""
        return cls(
            recipe=_section(settings, "recipe"),
            options=_section(settings, "options"),
            data=DataRecord.from_json(_section(settings, "data")),
            keras_version=settings.get("keras_version"),
            backend=settings.get("backend"),
            seed=settings.get("seed"),
            created=settings.get("created"),
        )

    @property
    def recipe_name(self) -> str | None:
        return self.recipe.get("name")

    @property
    def recipe_file(self) -> str | None:
        """The recipe file the run was cooked from, or ``None`` (a built-in recipe
        or one made in Python)."""
        return self.recipe.get("file")

    @property
    def average(self) -> float | None:
        """The decay of the run's average of G's weights, or ``None``."""
        average = self.recipe.get("average")
        if not isinstance(average, (int, float)) or isinstance(average, bool):
            return None
        return float(average)

    def noise(self) -> Noise | None:
        """The distribution of G's input, or ``None`` when not recorded."""
        from gan_cookbook.noise import Noise

        config = self.recipe.get("noise")
        return Noise(**config) if isinstance(config, dict) else None

    def data_source(self, path: str | Path = SETTINGS_FILE) -> DataSource | None:
        """The training data's identity, to load them again; ``None`` when only
        the recipe's code can.

        A ``recipe.json`` written before identities were recorded names its data
        by ``data.source`` only: a built-in dataset's source or an existing file
        or folder is read as such, anything else is unknown.

        Raises:
            ValueError: ``data.identity`` is not a valid data source; the message
                names ``path`` and the key.
        """
        from gan_cookbook.data import DataSource

        if self.data.has_identity:
            if self.data.identity is None:
                return None
            try:
                return DataSource.from_config(self.data.identity)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path}: data.identity: {error}") from None
        source = self.data.source
        if source is None:
            return None
        if source in _BUILTIN_SOURCES:
            return DataSource.builtin(_BUILTIN_SOURCES[source])
        channels = self.recipe.get("channels")
        if Path(source).exists() and channels in (None, 1, 3):
            return DataSource.from_path(source, channels=channels)
        return None

    def differences(self, other: RunRecord) -> list[str]:
        """The settings a resume must share that differ, one line each: this
        (saved) record's value against ``other`` (the given one)."""
        saved, given = self.to_json(), other.to_json()
        lines = []
        for section, key in RESUME_SETTINGS:
            before = _resume_value(saved, section, key)
            after = _resume_value(given, section, key)
            if before != after:
                lines.append(f"{section}.{key}: {before!r} in the run, {after!r} given")
        return lines


def now() -> str:
    """The time a record is created, as ``recipe.json`` holds it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunFolder:
    """One run's folder and the files in it.

    Args:
        path: The folder; it need not exist yet.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @classmethod
    def new_default(cls, recipe_name: str, parent: str | Path = "runs") -> RunFolder:
        """``runs/<recipe>-<date>-<time>``: a fresh folder for every run."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(parent) / f"{recipe_name}-{stamp}"
        suffix = 2
        while path.exists():
            path = Path(parent) / f"{recipe_name}-{stamp}-{suffix}"
            suffix += 1
        return cls(path)

    # The files.
    @property
    def settings_path(self) -> Path:
        return self.path / SETTINGS_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def generator_path(self) -> Path:
        return self.path / GENERATOR_FILE

    @property
    def raw_generator_path(self) -> Path:
        return self.path / RAW_GENERATOR_FILE

    @property
    def discriminator_path(self) -> Path:
        return self.path / DISCRIMINATOR_FILE

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def history_csv(self) -> Path:
        return self.path / "history.csv"

    @property
    def steps_csv(self) -> Path:
        return self.path / "steps.csv"

    @property
    def progress_gif(self) -> Path:
        return self.path / "progress.gif"

    @property
    def losses_png(self) -> Path:
        return self.path / "losses.png"

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    def is_run(self) -> bool:
        """Whether the folder holds a run (its ``recipe.json``)."""
        return self.settings_path.is_file()

    def is_empty(self) -> bool:
        """Whether the folder is missing or holds nothing but its lock file (what a
        process killed before writing anything leaves)."""
        if not self.path.is_dir():
            return True
        return all(path.name == LOCK_FILE for path in self.path.iterdir())

    def checkpoints(self) -> list[Path]:
        """The run's checkpoints, oldest first."""
        return list_checkpoints(self.path)

    def newest_checkpoint(self) -> Path | None:
        """The run's newest checkpoint, or ``None`` before the first."""
        checkpoints = self.checkpoints()
        return checkpoints[-1] if checkpoints else None

    # recipe.json and metrics.json.
    def read_record(self) -> RunRecord:
        """The run's ``recipe.json``.

        Raises:
            ValueError: there is none, or it is not a JSON object; the message names
                the file.
        """
        path = self.settings_path
        try:
            settings = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: not readable as JSON ({error}).") from None
        if not isinstance(settings, dict):
            raise ValueError(f"{path}: expected a JSON object. Received: {settings!r}")
        return RunRecord.from_json(settings)

    def record_or_empty(self) -> RunRecord:
        """The run's ``recipe.json``, or an empty record when there is none (a model
        file outside a run folder)."""
        return self.read_record() if self.is_run() else RunRecord()

    def write_record(self, record: RunRecord) -> None:
        """Writes ``recipe.json`` atomically: a reader sees the old file or the new."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.settings_path, record.to_json())

    def write_metrics(
        self, metrics: Mapping[str, Any], path: Path | None = None
    ) -> Path:
        """Writes ``metrics.json`` (or ``path``) atomically; returns where."""
        path = self.metrics_path if path is None else Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, json_ready(dict(metrics)))
        return path

    # The rules of cooking into a folder.
    def check_new(self, overwrite: bool = False) -> None:
        """Refuses a run folder that is a file or already holds something.

        With ``overwrite``, a folder that holds a previous run (it has
        ``recipe.json``) may be replaced; any other non-empty folder is still
        refused.

        Raises:
            ValueError: naming ``out`` and what to do instead.
        """
        out = self.path
        received = f"Received: out={str(out)!r}"
        if out.exists() and not out.is_dir():
            raise ValueError(
                f"`out` {out} is a file. Expected a new or empty folder. {received}"
            )
        if self.is_empty():
            return
        if not overwrite and self.is_run() and not self.checkpoints():
            raise ValueError(
                f"`out` {out} holds a run that stopped before its first checkpoint: "
                "nothing was trained that could be kept. Start it from its first "
                "step with `resume=True` (its own settings) or `overwrite=True`, or "
                f"choose a new folder. {received}"
            )
        if not overwrite:
            raise ValueError(
                f"`out` {out} already holds files; a run never overwrites another. "
                "Choose a new folder, continue that run with `resume=True`, or "
                f"replace it with `overwrite=True`. {received}"
            )
        if not self.is_run():
            raise ValueError(
                "`overwrite=True` replaces only a run folder (one holding "
                f"recipe.json); {out} holds other files and is left alone. {received}"
            )

    def check_resumable(self) -> list[Path]:
        """The checkpoints of the run to resume, oldest first; none when it stopped
        before its first (it is then cooked from its first step). A clear error
        when the folder holds no run."""
        out = self.path
        received = f"Received: out={str(out)!r}, resume=True"
        if not self.is_run():
            what = "does not exist" if not out.exists() else "holds no recipe.json"
            raise ValueError(
                f"`out` {out} {what}: it is not a run folder, so there is nothing to "
                f"resume. Start a new run instead. {received}"
            )
        return self.checkpoints()

    def check_not_in_use(self) -> None:
        """Refuses a folder that a live process is cooking.

        Raises:
            ValueError: naming that process.
        """
        cooking = holder(self.lock_path)
        if cooking is not None:
            raise self._in_use(cooking)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Holds the folder's lock while the block cooks into it: another ``cook``,
        ``resume`` or ``overwrite`` of it is refused until the block ends or the
        process dies. ``sample`` and ``evaluate`` take no lock.

        Raises:
            ValueError: another process cooks the run, naming it.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(held(self.lock_path))
            except LockHeld as error:
                raise self._in_use(error.holder) from None
            yield

    def _in_use(self, cooking: str) -> ValueError:
        return ValueError(
            f"`out` {self.path} is being cooked by {cooking}. One process at a "
            "time cooks a run: wait for it to end, or stop it (Ctrl-C where it runs, "
            "which writes a checkpoint), then resume. Sampling and evaluating work "
            f"while it cooks. Received: out={str(self.path)!r}"
        )

    def check_disk(self, needed: int) -> None:
        """Checks that the folder can be written and its disk has ``needed`` bytes
        free."""
        out = self.path
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
                f"{needed / 2**20:.0f} MiB needed for checkpoints, models and "
                f"samples. Received: out={str(out)!r}"
            )

    def check_same_run(self, given: RunRecord) -> None:
        """Refuses to resume with settings that differ from the saved run's.

        Raises:
            ValueError: listing each difference, saved against given.
        """
        changed = self.read_record().differences(given)
        if changed:
            raise ValueError(
                f"`resume=True`: the settings differ from those of the run in "
                f"{self.path}:\n  " + "\n  ".join(changed)
            )

    def clear(self) -> None:
        """Removes the run in the folder (``overwrite``), all but the lock file:
        the process that clears it holds that lock."""
        self.path.mkdir(parents=True, exist_ok=True)
        for path in self.path.iterdir():
            if path.name == LOCK_FILE:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def open_run_folder(
    recipe_name: str,
    out: str | Path | None,
    options: CookOptions,
    resume: bool = False,
    overwrite: bool = False,
) -> tuple[RunFolder, CookOptions]:
    """The run folder to cook into, checked, and the options resolved against it:
    a resumed run's recorded options fill those not given."""
    if resume and overwrite:
        raise ValueError(
            "`resume` and `overwrite` exclude each other: choose one. "
            "Received: resume=True, overwrite=True"
        )
    if resume:
        if out is None:
            raise ValueError(
                "`out` is required when `resume=True`: the folder of the run to "
                "resume. Received: out=None"
            )
        folder = RunFolder(out)
        folder.check_not_in_use()
        folder.check_resumable()
        # What writes cut short by a kill left, removed under the run's lock (no
        # other process is writing). Here rather than when cooking starts: a run
        # killed after its last checkpoint is cooked no further.
        with folder.hold():
            remove_temporaries(folder.path)
        return folder, options.merged(folder.read_record().options)
    folder = RunFolder(out) if out is not None else RunFolder.new_default(recipe_name)
    folder.check_not_in_use()
    folder.check_new(overwrite)
    return folder, options
