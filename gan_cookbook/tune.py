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

KerasTuner saves its oracle as each trial begins and ends (here atomically, so that
a process killed mid-write leaves the previous file whole), so a search stopped by
Ctrl-C, a crash or SIGKILL continues when it is run again, redoing only the trials
that were in flight. With KerasTuner's environment variables set
(``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``), the
same call is the chief, which serves the oracle over gRPC, or one of its workers,
which run the trials. A worker in a trial speaks to the chief every few seconds; a
chief that hears nothing from a worker for ``worker_timeout`` seconds records its
trial as failed, with the reason, rather than wait for it forever as KerasTuner's
own chief does. A chief started again keeps each trial in flight with its worker,
which may still be running it.

This module holds :func:`tune` and its parts: the checks of its arguments, KerasTuner's
tuner as a search uses it, and the run of the search. The search folder's
``search.json`` and each trial's cooking and measurement are in
:mod:`gan_cookbook.search_folder`, KerasTuner's oracle as a search uses it, the table
and ``best_recipe.py`` in :mod:`gan_cookbook.trials`, the search space and how a
trial's values change the recipe in :mod:`gan_cookbook.search_space`, and the chief,
its workers, their checks and their word to each other in
:mod:`gan_cookbook.distributed`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner

from gan_cookbook.checks import check_integer
from gan_cookbook.choices import ORACLES
from gan_cookbook.distributed import (
    DEFAULT_CHIEF_TIMEOUT,
    DEFAULT_WORKER_TIMEOUT,
    HEARTBEAT_SECONDS,
    MINIMUM_WORKER_TIMEOUT,
    Role,
    check_port,
    check_same_space,
    distributed_role,
    heartbeat,
    held,
    repeating,
    wait_for_chief,
)
from gan_cookbook.files import write_json
from gan_cookbook.recipe import Recipe
from gan_cookbook.search_folder import (
    CannotMeasure,
    Search,
    SearchStopped,
    StopSearch,
    check_out,
    search_settings,
    write_search_file,
)
from gan_cookbook.search_space import (
    bounds,
    is_number,
    recipe_changes,
    recipe_search,
    recipe_values,
    search_space,
)
from gan_cookbook.trials import best_row, markdown_table, search_oracle

STATE_FOLDER = "keras_tuner"

DEFAULT_COUNT = 10000

__all__ = ["SearchResult", "SearchStopped", "tune"]


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


class _RecipeTuner(keras_tuner.Tuner):
    """KerasTuner's tuner; each trial cooks the recipe (:meth:`Search.run_trial`)."""

    def __init__(self, search: Search, oracle: keras_tuner.Oracle):
        self.search_settings = search
        super().__init__(
            oracle=oracle,
            directory=str(search.out),
            project_name=STATE_FOLDER,
            overwrite=False,
        )

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        speaking = (
            repeating(HEARTBEAT_SECONDS, heartbeat(self.oracle, trial.trial_id))
            if self.search_settings.role.kind == "worker"
            else contextlib.nullcontext()
        )
        with speaking:
            return self.search_settings.run_trial(
                trial.trial_id, trial.hyperparameters.values
            )

    def save(self) -> None:
        # As the oracle's: written whole or not at all.
        if self.search_settings.role.owns_oracle:
            self.oracle.save()
        write_json(Path(self._get_tuner_fname()), self.get_state())

    def _get_tuner_fname(self) -> str:
        # KerasTuner names this file for the tuner ID, and reloads the oracle only
        # when it finds it: a search begun alone ("tuner0") and continued as a chief
        # would start afresh over its own trials. One name for the process that
        # holds the oracle, alone or chief; the workers' keep KerasTuner's.
        if self.search_settings.role.owns_oracle:
            return os.path.join(str(self.project_dir), "tuner.json")
        return super()._get_tuner_fname()


def _check_oracle(oracle: str) -> None:
    """Refuses an oracle :data:`ORACLES` does not name, or one whose libraries are
    not installed."""
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


def _check_chief_timeout(chief_timeout: Any) -> None:
    if not is_number(chief_timeout) or chief_timeout <= 0:
        raise ValueError(
            f"`chief_timeout` must be a positive number of seconds. "
            f"Received: chief_timeout={chief_timeout!r}"
        )


def _check_worker_timeout(worker_timeout: Any) -> None:
    if not is_number(worker_timeout) or worker_timeout < MINIMUM_WORKER_TIMEOUT:
        raise ValueError(
            f"`worker_timeout` must be a number of seconds of at least "
            f"{MINIMUM_WORKER_TIMEOUT:g}: a worker in a trial speaks to its chief "
            f"every {HEARTBEAT_SECONDS:g} s. "
            f"Received: worker_timeout={worker_timeout!r}"
        )


def _checked_space(
    recipe: Recipe,
    search: Mapping[str, Any] | keras_tuner.HyperParameters | None,
    limit: int | None,
) -> tuple[keras_tuner.HyperParameters, str]:
    """The search space, and its source as messages name it (``search``, else the
    ``SEARCH`` of the recipe's file, else the default); refused where a value it
    draws cannot make a recipe, or a batch would be larger than ``limit``."""
    if search is None:
        search, source = recipe_search(recipe)
    else:
        source = "`search`"
    space = search_space(search, source)
    batches = [bounds(hp) for hp in space.space if hp.name == "batch_size"]
    largest_batch = max(batches[0]) if batches else recipe.batch_size
    if limit is not None and largest_batch > limit:
        raise ValueError(
            f"{source} draws batches of up to {largest_batch} images, more than the "
            f"`limit` of {limit}: narrow batch_size, or raise `limit`. "
            f"Received: limit={limit}"
        )
    # Every value drawn must make a recipe: an optimizer without beta_1 fails here.
    recipe_changes(recipe, {hp.name: bounds(hp)[0] for hp in space.space}, source)
    return space, source


def _baseline_values(
    recipe: Recipe,
    space: keras_tuner.HyperParameters,
    source: str,
    baseline: bool,
    verbose: int,
) -> dict[str, Any] | None:
    """The first trial's values, the recipe's own, where ``baseline`` asks for them
    and the space can draw every one; else ``None`` (said, when asked for)."""
    names = [hyperparameter.name for hyperparameter in space.space]
    own = recipe_values(recipe, space)
    first = dict(own) if baseline and set(own) == set(names) else None
    if baseline and first is None and verbose:
        print(
            f"No baseline trial: {source} cannot draw {recipe.name}'s own "
            f"{', '.join(name for name in names if name not in own)}.",
            flush=True,
        )
    return first


def _open_folder(
    out: Path, settings: dict[str, Any], role: Role, chief_timeout: float, verbose: int
) -> None:
    """Makes the search folder and its ``search.json``, once a worker's chief
    answers or a chief has found its port free."""
    if role.kind == "worker":
        wait_for_chief(role, chief_timeout, verbose)
    if role.kind == "chief":
        check_port(role)
    write_search_file(out, settings)


def _oracle_and_tuner(
    state: Search, kind: str, seed: int
) -> tuple[keras_tuner.Oracle, _RecipeTuner]:
    """The oracle of ``kind``, reloaded where the folder holds its state, and the
    tuner that runs its trials (on a worker, the chief's client)."""
    oracle = search_oracle(
        kind,
        state.trials,
        state.space,
        seed,
        state.baseline,
        state.trial_ended,
        chief=state.role.kind == "chief",
    )
    # KerasTuner prints "Reloading Tuner from ..." when it continues a search.
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = _RecipeTuner(state, oracle)
    if not state.role.owns_oracle:
        check_same_space(tuner, state.space)
    return oracle, tuner


def _opening_line(state: Search, oracle: keras_tuner.Oracle, kind: str) -> str:
    """What a search says as it starts: new, continued, or a worker joining."""
    if not state.role.owns_oracle:
        return (
            f"Working for the chief at {state.role.address} as {state.role.tuner_id}."
        )
    if oracle.trials:
        done = sum(
            1
            for trial in oracle.trials.values()
            if str(trial.status) in ("COMPLETED", "FAILED")
        )
        return (
            f"Continuing the search in {state.out}: {done} of {state.trials} "
            "trials done."
        )
    plural = "s" if state.epochs != 1 else ""
    return (
        f"Searching {state.recipe.name}: {state.trials} trials of {state.epochs} "
        f"epoch{plural} each in {state.out}, a {kind} search over "
        f"{', '.join(state.names)}."
    )


def _end_lost_trials(state: Search, oracle: Any, worker_timeout: float) -> None:
    """A chief's look, every second, for the workers it has not heard from."""
    for tuner_id, trial_id in oracle.end_lost_trials(worker_timeout):
        lost = "" if trial_id is None else f" in trial {trial_id}, which failed"
        state.say(
            f"Worker {tuner_id} stopped answering{lost}: nothing heard from it for "
            f"{worker_timeout:g} s."
        )


def _run(
    state: Search,
    tuner: _RecipeTuner,
    oracle: keras_tuner.Oracle,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
) -> None:
    """Runs the trials left (a chief serves them to its workers, and gives up on
    those it stops hearing from) and writes the table, however the search ends.

    Raises:
        SearchStopped: a signal stopped the search in a trial.
        ValueError: no trial can be measured (data without labels).
    """
    role = state.role
    # A chief continued with no trial left would wait for workers that never ask.
    finished = (
        role.kind == "chief"
        and oracle.remaining_trials() is not None
        and oracle.remaining_trials() <= 0
        and not oracle.get_state()["retry_queue"]
        and not oracle.ongoing_trials
    )
    if role.kind == "chief" and not finished:
        state.say(f"Serving the search to its workers on {role.address}.")
    watching = (
        repeating(1.0, lambda: _end_lost_trials(state, oracle, worker_timeout))
        if role.kind == "chief"
        else contextlib.nullcontext()
    )
    try:
        if not finished:
            with watching:
                tuner.search(verbose=0)
    except StopSearch as stop:
        raise stop.stopped from None
    except CannotMeasure as fatal:
        raise fatal.error from None
    finally:
        if role.owns_oracle:
            # Stopped or not, the table shows where the search stands: the
            # trials in flight as running.
            state.write_table(oracle)


def _result(state: Search, oracle: keras_tuner.Oracle) -> SearchResult:
    """The search's :class:`SearchResult`, with its table written once more."""
    if not state.role.owns_oracle:
        return SearchResult(state.out, state.role, [], None, None, "", list(state.ran))
    rows, best_recipe = state.write_table(oracle)
    return SearchResult(
        out=state.out,
        role=state.role,
        rows=rows,
        best=best_row(rows),
        best_recipe=best_recipe,
        table=markdown_table(rows, state.names),
        ran=list(state.ran),
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
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT,
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
        worker_timeout: How long a chief waits for word from a worker (one comes
            every 2 s in a trial) before it gives up on it and records its trial
            as failed, in seconds; at least 10. Defaults to 60.
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
    trials = check_integer("trials", trials)
    count = check_integer("count", count, 2)
    epochs = check_integer("epochs", epochs, optional=True)
    limit = check_integer("limit", limit, optional=True)
    seed = check_integer("seed", seed, 0)
    _check_oracle(oracle)
    _check_chief_timeout(chief_timeout)
    _check_worker_timeout(worker_timeout)
    role = distributed_role()
    space, source = _checked_space(recipe, search, limit)

    out = Path(out)
    epochs = epochs or recipe.epochs
    data = None if data is None else str(Path(data).resolve())
    settings = search_settings(
        recipe,
        space,
        epochs=epochs,
        limit=limit,
        data=data,
        resize=resize,
        skip_bad_images=skip_bad_images,
        count=count,
        oracle=oracle,
        seed=seed,
        baseline=baseline,
    )
    check_out(out, settings)
    state = Search(
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
        baseline=_baseline_values(recipe, space, source, baseline, verbose),
        verbose=verbose,
        callbacks=callbacks,
        trials=trials,
    )
    _open_folder(out, settings, role, chief_timeout, verbose)

    with held(out, role, out / STATE_FOLDER / ".lock"), _quiet_retracing():
        keras_oracle, tuner = _oracle_and_tuner(state, oracle, seed)
        state.say(_opening_line(state, keras_oracle, oracle))
        _run(state, tuner, keras_oracle, worker_timeout)
    return _result(state, keras_oracle)
