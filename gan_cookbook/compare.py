"""Run folders side by side: a Markdown table of what each trained and measured, and a
plot of the Fréchet distance each reached against its training time.

:func:`compare_runs` is what ``gan-cookbook compare`` runs. It reads files only: each
run's ``recipe.json`` (through :class:`~gan_cookbook.run_folder.RunFolder`), its
``history.csv`` and the ``metrics.json`` that ``gan-cookbook evaluate`` wrote; it
imports no Keras backend. A search folder of ``gan-cookbook tune`` stands for its
trials, each a run folder in ``trials/<id>/``.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gan_cookbook.checks import is_integer
from gan_cookbook.files import replacing
from gan_cookbook.run_folder import SETTINGS_FILE, RunFolder

FRECHET_COLUMN = "frechet_distance"
"""The column of ``history.csv`` that ``--eval-every`` fills: the same name as
:data:`gan_cookbook.evaluation.FRECHET_KEY`, kept here so that reading a run imports
no Keras."""

SEARCH_FILE = "search.json"
"""What marks a search folder of ``gan-cookbook tune`` (as
:data:`gan_cookbook.search_folder.SEARCH_FILE` names it)."""

TRIALS_FOLDER = "trials"
"""A search folder's folder of trial run folders, ``trials/<id>/`` (as
:data:`gan_cookbook.search_folder.TRIALS_FOLDER` names it)."""

MISSING = "—"
"""A table cell of a value that a run does not have."""

DEFAULT_OBJECTIVE = "standard"
"""The objective of a run whose ``recipe.json`` records none."""

DEFAULT_D_STEPS = 1
"""D's steps per G step of a run whose ``recipe.json`` records none."""

COLUMNS = (
    ("run", "left"),
    ("recipe", "left"),
    ("objective", "left"),
    ("D steps", "right"),
    ("epochs", "right"),
    ("training time", "right"),
    ("Fréchet distance", "right"),
    ("FD, trained G", "right"),
    ("N", "right"),
    ("classifier score", "right"),
    ("classes covered", "right"),
    ("label accuracy", "right"),
)
"""The table's headings, and how each column is aligned."""


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """One run folder, as a row of the table.

    Each measured value is ``None`` where the run has none: no ``metrics.json`` yet
    (``gan-cookbook evaluate`` writes it), a run that is not conditional (label
    accuracy), or no trained G measured beside an average.

    Attributes:
        run: The folder, as given (a trial's: the search folder given, then
            ``trials/<id>``).
        recipe: The recipe's name, from ``recipe.json``.
        objective: The recipe's ``objective``; ``"standard"`` where ``recipe.json``
            records none (a run cooked before recipes had one).
        d_steps: The recipe's ``d_steps``, D's steps per G step; 1 where
            ``recipe.json`` records none.
        epochs: The epochs trained: ``history.csv``'s rows, one per epoch ended.
        planned_epochs: The epochs the recipe was cooked for (``recipe.json``), or
            ``None``.
        training_seconds: The sum of ``history.csv``'s ``seconds``: the time of the
            training steps alone, not of what happens between epochs (sample grids,
            checkpoints, ``--eval-every``'s measurement) nor of the start (loading
            the data, building the models). ``None`` before the first epoch ends
            (or where a row has no ``seconds``).
        frechet_distance: ``metrics.json``'s Fréchet distance of the generator it
            measured: ``generator.keras``, the average of G where the recipe keeps
            one.
        frechet_distance_raw: The trained G's, beside an average
            (``gan-cookbook evaluate --compare-raw``).
        n: The images measured on each side (the Fréchet distance depends on it:
            compare runs measured with the same).
        classifier_score: The classifier score of the generated images.
        classes_covered: The classes they cover.
        classes: The classes of the data (``metrics.json``'s real class histogram).
        label_accuracy: A conditional run's share of images of the class they were
            drawn for.
        curve: ``(seconds, Fréchet distance)`` at each epoch ``--eval-every``
            measured: the training time at the epoch's end (the running sum of
            ``seconds``) and the ``frechet_distance`` column. Empty when the run
            measured none (no ``--eval-every``).
    """

    run: str
    recipe: str | None
    objective: str = DEFAULT_OBJECTIVE
    d_steps: int = DEFAULT_D_STEPS
    epochs: int = 0
    planned_epochs: int | None = None
    training_seconds: float | None = None
    frechet_distance: float | None = None
    frechet_distance_raw: float | None = None
    n: int | None = None
    classifier_score: float | None = None
    classes_covered: int | None = None
    classes: int | None = None
    label_accuracy: float | None = None
    curve: tuple[tuple[float, float], ...] = ()

    @property
    def name(self) -> str:
        """The run's label in the plot: the folder's name; a trial's, with its
        search folder's (``search/trials/3``)."""
        path = Path(self.run)
        if path.parent.name == TRIALS_FOLDER:
            return "/".join(path.parts[-3:])
        return path.name or self.run

    def cells(self) -> list[str]:
        """The row's cells as :meth:`Comparison.to_markdown` writes them."""
        epochs = str(self.epochs)
        if self.planned_epochs is not None and self.epochs < self.planned_epochs:
            epochs = f"{self.epochs} of {self.planned_epochs}"
        covered = MISSING
        if self.classes_covered is not None:
            covered = str(self.classes_covered)
            if self.classes is not None:
                covered += f"/{self.classes}"
        return [
            self.run,
            MISSING if self.recipe is None else self.recipe,
            self.objective,
            str(self.d_steps),
            epochs,
            clock_time(self.training_seconds),
            _decimals(self.frechet_distance, 2),
            _decimals(self.frechet_distance_raw, 2),
            MISSING if self.n is None else str(self.n),
            _decimals(self.classifier_score, 2),
            covered,
            MISSING if self.label_accuracy is None else f"{self.label_accuracy:.1%}",
        ]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """What :func:`compare_runs` read and wrote.

    Attributes:
        rows: One :class:`RunSummary` per run folder, in the order given (a search
            folder's trials in the order of their ids).
        plot: The PNG written, or ``None`` (none asked for, or no run has a Fréchet
            distance per epoch to plot).
        notes: What was left out and why, one sentence each: runs missing from the
            plot, trial folders that hold no run yet, a plot not written.
    """

    rows: list[RunSummary]
    plot: Path | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_markdown(self) -> str:
        """The rows as a Markdown table, a value a run lacks as "—"; Fréchet
        distances and classifier scores to 2 decimals, training time as ``m:ss``
        (``h:mm:ss`` from an hour)."""
        return markdown_table(row.cells() for row in self.rows)


def markdown_table(rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table of :data:`COLUMNS` and ``rows`` of cells (``|`` escaped)."""
    header = [name for name, _ in COLUMNS]
    rule = ["---:" if align == "right" else "---" for _, align in COLUMNS]
    lines = [header, rule, *([cell.replace("|", "\\|") for cell in r] for r in rows)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def clock_time(seconds: float | None) -> str:
    """``seconds`` as ``m:ss`` ("4:05"), ``h:mm:ss`` from an hour ("1:02:03"), or
    "—" for ``None``."""
    if seconds is None:
        return MISSING
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}:{rest:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}"


def _decimals(value: float | None, places: int) -> str:
    return MISSING if value is None else f"{value:.{places}f}"


def _number(value: Any) -> float | None:
    """A finite number from a CSV cell or a JSON value, else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    return int(value) if is_integer(value) else None


def run_folders(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The run folders that ``paths`` name: each run folder as given, and for a
    search folder of ``gan-cookbook tune`` (one holding ``search.json``), the run
    folders of its trials, ``trials/<id>/``, in the order of their ids.

    Returns:
        The run folders, and a note for each trial folder left out because it
        holds no run (yet).

    Raises:
        ValueError: a path is not a run folder (it does not exist, or holds no
            ``recipe.json``), or is a search folder without a trial run folder; the
            message names the path.
    """
    if not paths:
        raise ValueError("Expected at least one run folder. Received: no paths")
    folders, notes = [], []
    for path in map(Path, paths):
        if RunFolder(path).is_run():
            folders.append(path)
        elif (path / SEARCH_FILE).is_file():
            trials, skipped = _trials_of(path)
            folders += trials
            notes += skipped
        else:
            if not path.exists():
                what = "it does not exist"
            elif path.is_dir():
                what = f"it holds no {SETTINGS_FILE}"
            else:
                what = "it is a file"
            raise ValueError(
                f"{path} is not a run folder: {what}. Expected a folder that cook "
                f"wrote, or a search folder of tune (holding {SEARCH_FILE}). "
                f"Received: {path}"
            )
    return folders, notes


def _trials_of(search: Path) -> tuple[list[Path], list[str]]:
    folder = search / TRIALS_FOLDER
    found = folder.iterdir() if folder.is_dir() else ()
    candidates = sorted((path for path in found if path.is_dir()), key=_trial_order)
    trials = [path for path in candidates if RunFolder(path).is_run()]
    notes = [
        f"{path}: holds no {SETTINGS_FILE} (a trial that has not started training); "
        "left out."
        for path in candidates
        if not RunFolder(path).is_run()
    ]
    if not trials:
        raise ValueError(
            f"{search} is a search folder whose trials hold no run folder yet "
            f"(expected {folder}/<id>/{SETTINGS_FILE}). Received: {search}"
        )
    return trials, notes


def _trial_order(path: Path) -> tuple[int, int, str]:
    """Trials by their ids as numbers ("2" before "10"), any other name after."""
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def read_history(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``history.csv``, one per epoch in epoch order (an epoch written
    twice keeps its last row); none when there is no file."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as file:
        rows: dict[int, dict[str, str]] = {}
        for row in csv.DictReader(file):
            epoch = _number(row.get("epoch"))
            if epoch is not None:
                rows[int(epoch)] = row
    return [rows[epoch] for epoch in sorted(rows)]


def read_metrics(folder: RunFolder) -> dict[str, Any]:
    """The run's ``metrics.json``, or an empty dict when it has none.

    Raises:
        ValueError: the file is not a JSON object; the message names it.
    """
    path = folder.metrics_path
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not readable as JSON ({error}).") from None
    if not isinstance(metrics, dict):
        raise ValueError(f"{path}: expected a JSON object. Received: {metrics!r}")
    return metrics


def summarize_run(path: str | Path) -> RunSummary:
    """One run folder's row: its ``recipe.json``, ``history.csv`` and
    ``metrics.json`` read.

    Args:
        path: A run folder; the row's ``run`` is it as given.

    Raises:
        ValueError: ``path`` is not a run folder, or its ``recipe.json`` or
            ``metrics.json`` is not readable; the message names the file.
    """
    folder = RunFolder(path)
    if not folder.is_run():
        raise ValueError(
            f"{path} is not a run folder: it holds no {SETTINGS_FILE}. Received: {path}"
        )
    recipe = folder.read_record().recipe
    objective = recipe.get("objective")
    d_steps = recipe.get("d_steps")
    history = read_history(folder.history_csv)
    seconds = [_number(row.get("seconds")) for row in history]
    elapsed = list(itertools.accumulate(second or 0.0 for second in seconds))
    curve = tuple(
        (at, distance)
        for at, row in zip(elapsed, history, strict=True)
        if (distance := _number(row.get(FRECHET_COLUMN))) is not None
    )
    metrics = read_metrics(folder)
    generated = _mapping(metrics.get("generated"))
    raw = _mapping(_mapping(metrics.get("raw")).get("generated"))
    histogram = metrics.get("real_class_histogram")
    return RunSummary(
        run=str(path),
        recipe=recipe.get("name") if isinstance(recipe.get("name"), str) else None,
        objective=DEFAULT_OBJECTIVE if objective is None else str(objective),
        d_steps=DEFAULT_D_STEPS if d_steps is None else _d_steps(folder, d_steps),
        epochs=len(history),
        planned_epochs=_integer(recipe.get("epochs")),
        training_seconds=elapsed[-1] if history and None not in seconds else None,
        frechet_distance=_number(generated.get("frechet_distance")),
        frechet_distance_raw=_number(raw.get("frechet_distance")),
        n=_integer(metrics.get("n")),
        classifier_score=_number(generated.get("classifier_score")),
        classes_covered=_integer(generated.get("classes_covered")),
        classes=len(histogram) if isinstance(histogram, list) else None,
        label_accuracy=_number(_mapping(metrics.get("label_accuracy")).get("overall")),
        curve=curve,
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _d_steps(folder: RunFolder, value: Any) -> int:
    if is_integer(value) and value >= 1:
        return int(value)
    raise ValueError(
        f"{folder.settings_path}: recipe.d_steps must be an integer of at least 1. "
        f"Received: {value!r}"
    )


def compare_runs(
    paths: Sequence[str | Path], *, plot: str | Path | None = None
) -> Comparison:
    """Reads run folders side by side, and plots their Fréchet distance against
    their training time.

    Args:
        paths: Run folders, or search folders of ``gan-cookbook tune`` (each stands
            for its trials' run folders, ``trials/<id>/``, in the order of their
            ids).
        plot: Where to write the PNG: one line per run of the Fréchet distance that
            ``--eval-every`` wrote to its ``history.csv``, against the training time
            at the end of each measured epoch (:attr:`RunSummary.curve`). A run
            without a value in that column is left out of it, with a note; when no
            run has one, nothing is written and :attr:`Comparison.plot` is
            ``None``. Defaults to ``None``: no plot.

    Returns:
        The rows (:meth:`Comparison.to_markdown` is the table), the plot written,
        and notes on what was left out.

    Raises:
        ValueError: a path is not a run folder (nor a search folder), or one of its
            files is not readable; the message names the path or the file.
    """
    folders, notes = run_folders(paths)
    rows = [summarize_run(folder) for folder in folders]
    written = None
    if plot is not None:
        plotted = [row for row in rows if row.curve]
        notes += [
            f"{row.run}: its history.csv holds no {FRECHET_COLUMN} (cook with "
            "--eval-every N); left out of the plot."
            for row in rows
            if not row.curve
        ]
        if plotted:
            written = plot_curves(plotted, plot)
        else:
            notes.append(
                f"No plot written to {plot}: no run's history.csv holds a "
                f"{FRECHET_COLUMN} (cook with --eval-every N)."
            )
    return Comparison(rows, written, notes)


def plot_curves(rows: Sequence[RunSummary], out: str | Path) -> Path:
    """Draws each row's :attr:`~RunSummary.curve` to a PNG: the Fréchet distance
    (log scale) against the training time, one line per run labelled by its folder's
    name (by the path given where two folders share a name).

    Returns:
        ``out``, as a path.
    """
    import matplotlib

    # Files only: no display is needed or wanted, on a server or in a test.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row.name for row in rows]
    longest = max(at for row in rows for at, _ in row.curve)
    scale, unit = (60.0, "minutes") if longest >= 600 else (1.0, "seconds")
    figure, axes = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for row, name in zip(rows, names, strict=True):
        label = name if names.count(name) == 1 else row.run
        times = [at / scale for at, _ in row.curve]
        axes.plot(times, [d for _, d in row.curve], "o-", markersize=3, label=label)
    distances = [distance for row in rows for _, distance in row.curve]
    if min(distances) > 0 and max(distances) >= 10 * min(distances):
        _log_axis(axes, decades=math.log10(max(distances) / min(distances)))
    axes.set_xlabel(f"training time ({unit})")
    axes.set_ylabel("Fréchet distance")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize="small")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(out) as temporary:
            figure.savefig(temporary, dpi=100)
    finally:
        plt.close(figure)
    return out


def _log_axis(axes: Any, decades: float) -> None:
    """A log-scale y axis labelled in plain numbers ("20", "100"): each power of ten,
    and 2 and 5 times each when the distances span under two decades."""
    from matplotlib import ticker

    def minor(value: float, _: Any) -> str:
        mantissa = value / 10 ** math.floor(math.log10(value))
        shown = decades < 2 and any(math.isclose(mantissa, m) for m in (2, 5))
        return f"{value:g}" if shown else ""

    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axes.yaxis.set_minor_formatter(ticker.FuncFormatter(minor))
