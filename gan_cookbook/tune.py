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

The search space and how a trial's values change the recipe are in
:mod:`gan_cookbook.search_space`, the table of trials in :mod:`gan_cookbook.trials`,
and the recipe files written in :mod:`gan_cookbook.recipe_file`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner

from gan_cookbook.checkpoint import write_json, write_text
from gan_cookbook.cook import RunStopped, prepare
from gan_cookbook.pixels import DEFAULT_RESIZE
from gan_cookbook.recipe import Recipe
from gan_cookbook.recipe_file import recipe_source
from gan_cookbook.run_folder import SETTINGS_FILE, json_ready
from gan_cookbook.search_space import (
    bounds,
    is_number,
    is_whole,
    recipe_changes,
    recipe_search,
    recipe_values,
    search_space,
    used_values,
)
from gan_cookbook.trials import (
    OBJECTIVE,
    best_row,
    cell_text,
    markdown_table,
    minutes_seconds,
    trial_rows,
)

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
    if not is_whole(value) or value < low:
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
    if not is_whole(seed) or seed < 0:
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
    if not is_number(chief_timeout) or chief_timeout <= 0:
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
    batches = [bounds(hp) for hp in space.space if hp.name == "batch_size"]
    largest_batch = max(batches[0]) if batches else recipe.batch_size
    if limit is not None and largest_batch > limit:
        raise ValueError(
            f"{source} draws batches of up to {largest_batch} images, more than the "
            f"`limit` of {limit}: narrow batch_size, or raise `limit`. "
            f"Received: limit={limit}"
        )
    # Every value drawn must make a recipe: an optimizer without beta_1 fails here.
    own = recipe_values(recipe, space)
    recipe_changes(recipe, {hp.name: bounds(hp)[0] for hp in space.space}, source)
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
