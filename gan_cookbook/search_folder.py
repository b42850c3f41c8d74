"""What a search writes into its folder besides the table: ``search.json`` and the
run folder of each trial.

``search.json`` records a search's settings (:func:`search_settings`): a search run
again in the same folder continues only with the same (:func:`check_out`), and every
process of a search writes the same file (:func:`write_search_file`).
:class:`Search` runs each trial KerasTuner draws: it cooks the recipe with the
trial's values into ``trials/<id>/`` (with ``recipe.py``, which cooks the same
again), measures the generator into ``metrics.json``, and after each trial has the
table written (:func:`gan_cookbook.trials.write_table`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner

from gan_cookbook.cook import RunStopped, prepare
from gan_cookbook.distributed import Role
from gan_cookbook.evaluate import evaluate
from gan_cookbook.files import write_json, write_text
from gan_cookbook.pixels import DEFAULT_RESIZE
from gan_cookbook.recipe import Recipe
from gan_cookbook.recipe_file import recipe_source
from gan_cookbook.run_folder import RunFolder, json_ready
from gan_cookbook.search_space import recipe_changes, used_values
from gan_cookbook.trials import (
    OBJECTIVE,
    best_row,
    cell_text,
    minutes_seconds,
    write_table,
)

SEARCH_FILE = "search.json"
TRIALS_FOLDER = "trials"
TRIAL_RECIPE = "recipe.py"


def search_settings(
    recipe: Recipe,
    space: keras_tuner.HyperParameters,
    *,
    epochs: int,
    limit: int | None,
    data: str | None,
    resize: str | None,
    skip_bad_images: bool | None,
    count: int,
    oracle: str,
    seed: int,
    baseline: bool,
) -> dict[str, Any]:
    """The settings ``search.json`` records: a search continued must share them.

    The arguments are :func:`gan_cookbook.tune.tune`'s, checked; ``data`` is an
    absolute path, ``epochs`` the number each trial cooks.
    """
    return {
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


def check_out(out: Path, settings: dict[str, Any]) -> None:
    """Refuses a search folder that holds something else, or another search.

    Args:
        out: The search folder: new, empty, or holding a search to continue.
        settings: The search's :func:`search_settings`; a search in ``out`` must
            have been run with the same.

    Raises:
        ValueError: ``out`` is a file, holds files and no search, or a search with
            other settings (the message lists them).
    """
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


def write_search_file(out: Path, settings: dict[str, Any]) -> None:
    """Makes ``out`` and its ``search.json``, unless another process of the search
    has written it: ``settings`` and the versions of Keras and KerasTuner."""
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


class SearchStopped(RuntimeError):
    """A signal stopped the search in a trial; running it again continues it.

    Attributes:
        exit_code: The exit status a command line should end with (130 for SIGINT,
            143 for SIGTERM).
    """

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class StopSearch(keras_tuner.errors.FatalError):
    """Carries a :class:`SearchStopped` out of KerasTuner's search loop, which
    would otherwise record the trial as failed and go on.

    Attributes:
        stopped: The :class:`SearchStopped`.
    """

    def __init__(self, stopped: SearchStopped):
        super().__init__(str(stopped))
        self.stopped = stopped


class CannotMeasure(keras_tuner.errors.FatalError):
    """Carries a ``ValueError`` that no trial can avoid (data without labels to
    measure with) out of KerasTuner's search loop.

    Attributes:
        error: The ``ValueError``.
    """

    def __init__(self, error: ValueError):
        super().__init__(str(error))
        self.error = error


class _WriteRecipeFile(keras.callbacks.Callback):
    """Writes a trial's recipe.py into its run folder once the run has made it
    (after a rerun has cleared it)."""

    def __init__(self, path: Path, text: str):
        super().__init__()
        self.path, self.text = path, text

    def on_train_begin(self, logs: dict | None = None) -> None:
        write_text(self.path, self.text)


@dataclasses.dataclass
class Search:
    """A search's settings, and what runs its trials and writes its table.

    KerasTuner's tuner calls :meth:`run_trial` for each trial its oracle draws, and
    the oracle :meth:`trial_ended` after each.
    """

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
        changes = recipe_changes(self.recipe, values, self.source)
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
        except (StopSearch, CannotMeasure):
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
        values = used_values(drawn)
        shown = ", ".join(
            f"{name} {cell_text(values[name])}" for name in self.names if name in values
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
        if folder.exists():
            # Never a folder a live process still cooks (a worker cut off, not
            # dead): that is refused, naming it.
            RunFolder(folder).check_not_in_use()
            # The trial was in flight when its process stopped. A process killed
            # as cook cleared the folder can leave files and no recipe.json, which
            # cook would refuse to overwrite; the trial starts afresh all the same.
            shutil.rmtree(folder)
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
            )
        except ValueError as error:
            # Settings these data cannot take: a batch larger than the images, ...
            raise keras_tuner.errors.FailedTrialError(str(error)) from None
        if self.evaluator is None:
            self.evaluator = self.make_evaluator(run.dataset)
        try:
            run.cook()
        except RunStopped as stopped:
            if stopped.exit_code == 1:  # a NaN or infinite loss
                raise keras_tuner.errors.FailedTrialError(str(stopped)) from None
            raise StopSearch(
                SearchStopped(
                    f"Stopped in trial {trial_id}: {stopped} The search keeps every "
                    "finished trial; run it again to continue it (trial "
                    f"{trial_id} starts again).",
                    stopped.exit_code,
                )
            ) from None
        # Measured as `gan-cookbook evaluate` measures a run: its generator.keras
        # (the average, when the recipe keeps one), into its metrics.json.
        metrics = evaluate(
            folder, count=self.count, seed=0, evaluator=self.evaluator
        ).metrics
        distance = float(metrics["generated"][OBJECTIVE])
        seconds = time.perf_counter() - started
        self.ran.append(trial_id)
        self.say(
            f"Trial {trial_id} done: Fréchet distance {distance:.2f} in "
            f"{minutes_seconds(seconds)} (N = {metrics['n']}; {folder})"
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
            raise CannotMeasure(error) from None
        return evaluator

    def write_table(
        self, oracle: keras_tuner.Oracle
    ) -> tuple[list[dict[str, Any]], Path | None]:
        """:func:`~gan_cookbook.trials.write_table` with this search's settings."""
        return write_table(
            oracle,
            self.out,
            recipe=self.recipe,
            space=self.space,
            baseline=self.baseline is not None,
            epochs=self.epochs,
            count=self.count,
            limit=self.limit,
            data=self.data_settings(),
        )

    def trial_ended(self, oracle: keras_tuner.Oracle) -> None:
        """Writes the table after each trial; a chief says how far the search is."""
        rows, _ = self.write_table(oracle)
        if self.role.kind == "chief":
            finished = [row for row in rows if row["status"] not in ("RUNNING", "IDLE")]
            best = best_row(rows)
            best_text = (
                ""
                if best is None
                else f"; best so far: trial {best['trial']}, {best[OBJECTIVE]:.2f}"
            )
            self.say(f"{len(finished)} of {self.trials} trials done{best_text}")
