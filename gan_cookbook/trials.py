"""The trials of a search: KerasTuner's oracle that draws and keeps them, their
table, and the best of them.

:func:`search_oracle` is KerasTuner's oracle as a search uses it: the recipe's own
settings first, the table written after each trial, its files written whole, and the
workers of a search shared by many processes given up on when they stop answering.
A row of the table holds what the oracle kept of a trial: its status, its objective
(the Fréchet distance, for completed trials), its time and the settings it used, and
a note (the baseline, or a failed trial's error). :func:`write_table` writes the rows
to the search folder: ``trials.csv``, ``trials.md`` the same as a Markdown table (the
best distance in bold), and ``best_recipe.py``, the best trial's settings as a recipe
file.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras_tuner

from gan_cookbook.files import write_json, write_text
from gan_cookbook.recipe import Recipe
from gan_cookbook.recipe_file import recipe_source
from gan_cookbook.search_space import used_values

OBJECTIVE = "frechet_distance"
"""The metric each trial reports, minimised: as ``metrics.json`` names it."""

TABLE_CSV = "trials.csv"
TABLE_MARKDOWN = "trials.md"
BEST_RECIPE = "best_recipe.py"


def search_oracle(
    kind: str,
    trials: int,
    space: keras_tuner.HyperParameters,
    seed: int,
    baseline: dict[str, Any] | None,
    on_end: Callable[[keras_tuner.Oracle], None],
    *,
    chief: bool = False,
) -> keras_tuner.Oracle:
    """KerasTuner's oracle of ``kind``, one of :data:`ORACLES`; its first trial is
    the recipe's own settings (``baseline``), and ``on_end`` runs after each trial
    ends.

    The oracle notes when it last heard from each worker (any call about the
    worker's trial), and :meth:`end_lost_trials` gives up on the workers it has not
    heard from in a while. Reloaded for a ``chief``, it keeps each trial that was in
    flight with its worker, which may still be running it (only the chief stopped);
    KerasTuner's own reload hands such a trial out again at once, and a worker still
    running it would have its trial run a second time beside it.
    """
    base = {
        "random": keras_tuner.oracles.RandomSearchOracle,
        "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
    }[kind]

    class SearchOracle(base):  # type: ignore[misc, valid-type]
        def __init__(self, **options: Any):
            super().__init__(**options)
            # When each worker last asked for or about its trial (time.monotonic()):
            # one silent for too long is gone, its trial with it.
            self.heard: dict[str, float] = {}
            self.saved_in_flight: dict[str, str] = {}

        def populate_space(self, trial_id: str) -> dict[str, Any]:
            if baseline is not None and not self.trials:
                return {"status": "RUNNING", "values": dict(baseline)}
            return super().populate_space(trial_id)

        def hear_about(self, trial_id: str) -> None:
            for tuner_id, trial in self.ongoing_trials.items():
                if trial.trial_id == trial_id:
                    self.heard[tuner_id] = time.monotonic()

        @keras_tuner.synchronized
        def create_trial(self, tuner_id: str) -> Any:
            self.heard[tuner_id] = time.monotonic()
            return super().create_trial(tuner_id)

        @keras_tuner.synchronized
        def get_trial(self, trial_id: str) -> Any:
            self.hear_about(trial_id)
            return super().get_trial(trial_id)

        @keras_tuner.synchronized
        def update_trial(self, trial_id: str, metrics: Any, step: int = 0) -> Any:
            self.hear_about(trial_id)
            return super().update_trial(trial_id, metrics, step=step)

        @keras_tuner.synchronized
        def end_trial(self, trial: Any) -> None:
            self.hear_about(trial.trial_id)
            super().end_trial(trial)
            # KerasTuner saves before it takes the trial off those in flight: a
            # chief stopped before its next save would hand the trial out again.
            self.save()
            on_end(self)

        @keras_tuner.synchronized
        def end_lost_trials(
            self, timeout: float, now: float | None = None
        ) -> list[tuple[str, str | None]]:
            """Gives up on the workers not heard from in ``timeout`` seconds: each
            one's trial ends as failed, with the reason. KerasTuner's chief would
            wait for them forever, and no other worker gets their trials.

            Returns:
                ``(tuner ID, trial ID or None)`` for each worker given up on.
            """
            now = time.monotonic() if now is None else now
            lost = [
                tuner_id
                for tuner_id in sorted(self.tuner_ids)
                if now - self.heard.get(tuner_id, now) > timeout
            ]
            given_up = []
            for tuner_id in lost:
                # KerasTuner's chief ends only once every worker it knows has
                # found no trial left: this one never will.
                self.tuner_ids.discard(tuner_id)
                trial = self.ongoing_trials.get(tuner_id)
                given_up.append((tuner_id, None if trial is None else trial.trial_id))
                if trial is not None:
                    trial.status = "FAILED"
                    trial.message = (
                        f"worker {tuner_id} stopped answering during the trial: "
                        f"nothing heard from it for {timeout:g} s"
                    )
                    self.end_trial(trial)
            return given_up

        def set_state(self, state: dict[str, Any]) -> None:
            super().set_state(state)
            self.saved_in_flight = dict(state["ongoing_trials"])

        def reload(self) -> None:
            super().reload()
            # KerasTuner's reload queues every trial its oracle.json lists in
            # flight, and an older search's file may list one that had ended.
            self._retry_queue[:] = [
                trial_id
                for trial_id in self._retry_queue
                if str(self.trials[trial_id].status) not in ("COMPLETED", "FAILED")
            ]
            if not chief:
                return
            now = time.monotonic()
            for tuner_id, trial_id in self.saved_in_flight.items():
                if trial_id in self._retry_queue:
                    self._retry_queue.remove(trial_id)
                    self.ongoing_trials[tuner_id] = self.trials[trial_id]
                    self.tuner_ids.add(tuner_id)
                    self.heard[tuner_id] = now

        def save(self) -> None:
            # KerasTuner writes in place: a process killed mid-write would leave a
            # file that stops the search from ever being continued.
            write_json(Path(self._get_oracle_fname()), self.get_state())

        def _save_trial(self, trial: Any) -> None:
            path = Path(self._get_trial_dir(trial.trial_id)) / "trial.json"
            write_json(path, trial.get_state())

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


def minutes_seconds(seconds: float | None) -> str:
    """``seconds`` as ``m:ss`` ("1:05"), or nothing for ``None``."""
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
        values = used_values(trial.hyperparameters.values)
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


def cell_text(value: Any) -> str:
    """``value`` as a table cell: a real number to 4 significant digits, ``None`` as
    nothing."""
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
            minutes_seconds(row["seconds"]),
            *(cell_text(row[name]) for name in names),
            row["note"].replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_table(
    oracle: keras_tuner.Oracle,
    out: Path,
    *,
    recipe: Recipe,
    space: keras_tuner.HyperParameters,
    baseline: bool,
    epochs: int,
    count: int,
    limit: int | None,
    data: Mapping[str, Any] | None,
) -> tuple[list[dict[str, Any]], Path | None]:
    """Writes trials.csv, trials.md and best_recipe.py from ``oracle`` into ``out``.

    Args:
        oracle: The search's oracle, holding its trials.
        out: The search folder.
        recipe: The recipe searched.
        space: The search space; its names are the table's columns of settings.
        baseline: The first trial cooked the recipe's own settings.
        epochs: Epochs each trial cooked.
        count: Images each measurement compared.
        limit: Each trial trained on the first ``limit`` images, or all (``None``).
        data: The ``path``, ``resize`` and ``skip_bad_images`` each trial trained
            on instead of the recipe's data, or ``None``.

    Returns:
        The rows, and best_recipe.py: ``None`` when no trial completed, or the
        recipe was made in Python (no file can import it).
    """
    names = [hyperparameter.name for hyperparameter in space.space]
    first = min(oracle.trials, key=int) if oracle.trials else None
    rows = trial_rows(oracle, names, first if baseline else None)
    columns = ["trial", "status", OBJECTIVE, "seconds", *names, "note"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        written = {**row, "seconds": row["seconds"] and round(row["seconds"], 1)}
        writer.writerow(
            {key: "" if value is None else value for key, value in written.items()}
        )
    write_text(out / TABLE_CSV, buffer.getvalue())
    write_text(out / TABLE_MARKDOWN, markdown_table(rows, names) + "\n")
    best = best_row(rows)
    if best is None:
        return rows, None
    values = {name: best[name] for name in names if best[name] is not None}
    path = out / BEST_RECIPE
    images = f"the first {limit} images" if limit else "all the images"
    of_data = f" of {data['path']}" if data else ""
    text = recipe_source(
        recipe,
        values,
        name=f"{recipe.name}_tuned",
        description=(
            f"{recipe.name}, tuned: trial {best['trial']} of a search, "
            f"Fréchet distance {best[OBJECTIVE]:.1f}"
        ),
        docstring=(
            f"{recipe.name}, tuned: trial {best['trial']} of the search in "
            f"{out.resolve()}, the best of {len(rows)} trials.\n\n"
            f"It scored a Fréchet distance of {best[OBJECTIVE]:.2f} (N = "
            f"{count:,}, lower is better) after {epochs} "
            f"epoch{'s' if epochs != 1 else ''} on {images}{of_data}; the "
            f"search's table is {TABLE_MARKDOWN} beside this file. Cook it with:"
            f"\n\n    gan-cookbook cook {path.resolve()}"
        ),
        space=space,
        data=data,
    )
    if text is None:
        return rows, None
    write_text(path, text)
    return rows, path
