"""The table of a search's trials: one row per trial, and the best of them.

A row holds what KerasTuner's oracle kept of a trial: its status, its objective (the
Fréchet distance, for completed trials), its time and the settings it used, and a
note (the baseline, or a failed trial's error). ``trials.csv`` holds the rows,
``trials.md`` the same as a Markdown table, the best distance in bold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import keras_tuner

from gan_cookbook.search_space import used_values

OBJECTIVE = "frechet_distance"
"""The metric each trial reports, minimised: as ``metrics.json`` names it."""


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
