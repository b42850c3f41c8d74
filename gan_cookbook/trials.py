"""The table of a search's trials: one row per trial, and the best of them.

A row holds what KerasTuner's oracle kept of a trial: its status, its objective (the
Fréchet distance, for completed trials), its time and the settings it used, and a
note (the baseline, or a failed trial's error). :func:`write_table` writes the rows to
the search folder: ``trials.csv``, ``trials.md`` the same as a Markdown table (the
best distance in bold), and ``best_recipe.py``, the best trial's settings as a recipe
file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras_tuner

from gan_cookbook.checkpoint import write_text
from gan_cookbook.recipe import Recipe
from gan_cookbook.recipe_file import recipe_source
from gan_cookbook.search_space import used_values

OBJECTIVE = "frechet_distance"
"""The metric each trial reports, minimised: as ``metrics.json`` names it."""

TABLE_CSV = "trials.csv"
TABLE_MARKDOWN = "trials.md"
BEST_RECIPE = "best_recipe.py"


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
