"""Quality against time: one cook of a recipe, measured after chosen epochs.

Cooks the recipe into a run folder as ``gan-cookbook cook`` does, and after each epoch
of ``--at`` measures the generator it samples (the average of G's weights when the
recipe averages) and the trained G, on N generated images against the data's test
split, with the project's classifier (``gan-cookbook evaluate``'s metrics). The wall
time of each row runs from the script's start, before Keras is imported, to the end
of that epoch, less the time spent measuring: what a user who cooked for that many
epochs would have waited, to the grid file. Prints a Markdown table and writes it,
with every figure, as JSON beside the run folder, rewritten after each measurement:
a cook stopped early keeps the rows it measured. Ctrl-C or SIGTERM stops the cook
after its current step, as ``gan-cookbook cook`` does, and prints their table.

    python benchmarks/quality_time.py --recipe mnist --at 1,2,5,10
    python benchmarks/quality_time.py --recipe mnist_quick --at 1,2,3
    python benchmarks/quality_time.py --recipe mnist_quick_conditional --at 1,2,3
    KERAS_BACKEND=jax python benchmarks/quality_time.py --recipe mnist --at 1,2,5,10,20

Measuring N = 10,000 images of two generators costs about 40 s a row on 2 CPU cores.
"""

from __future__ import annotations

import time

STARTED = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def parse_epochs(text: str) -> list[int]:
    try:
        epochs = sorted({int(part) for part in text.split(",")})
    except ValueError:
        epochs = []
    if not epochs or epochs[0] < 1:
        raise argparse.ArgumentTypeError(
            f"expected epochs such as 1,2,5,10, each at least 1. Received: {text!r}"
        )
    return epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="mnist", help="a built-in name or a file")
    parser.add_argument(
        "--at",
        type=parse_epochs,
        default=[1, 2, 5, 10],
        help="epochs after which to measure (default 1,2,5,10); the last is the "
        "number of epochs cooked",
    )
    parser.add_argument("--n", type=int, default=10000, help="images per measurement")
    parser.add_argument("--engine", default="classic", help="classic or fused")
    parser.add_argument("--limit", type=int, help="train on the first N images")
    parser.add_argument(
        "--out", type=Path, help="the run folder (default runs/quality/RECIPE)"
    )
    arguments = parser.parse_args()

    import keras

    from gan_cookbook.cook import RunStopped, prepare
    from gan_cookbook.evaluation import Evaluator
    from gan_cookbook.evaluation.measure import evaluator_of
    from gan_cookbook.files import write_json
    from gan_cookbook.recipes import resolve as resolve_recipe

    recipe = resolve_recipe(arguments.recipe)
    out = arguments.out or ROOT / "runs" / "quality" / recipe.name
    if out.exists():
        parser.error(f"--out {out} exists already; choose another. Received: {out}")
    report_file = out.parent / f"{out.name}.json"
    if report_file.exists():
        parser.error(
            f"--out {out} would overwrite the report {report_file}; choose another. "
            f"Received: {out}"
        )
    rows: list[dict] = []
    report = {
        "recipe": recipe.name,
        "average": recipe.average,
        "batch_size": recipe.batch_size,
        "backend": keras.backend.backend(),
        "engine": arguments.engine,
        "n": arguments.n,
        "rows": rows,
    }

    class Measure(keras.callbacks.Callback):
        """Measures both generators after the epochs asked for."""

        def __init__(self):
            super().__init__()
            self.measuring = 0.0
            self.evaluator: Evaluator | None = None

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 not in arguments.at:
                return
            wall = time.time() - STARTED - self.measuring
            began = time.time()
            if self.evaluator is None:
                self.evaluator = evaluator_of(run.dataset, arguments.n, verbose=0)
            row = {"epoch": epoch + 1, "wall_seconds": round(wall, 1)}
            generators = {"trained": run.generator}
            if run.averaged is not None:
                generators["averaged"] = run.sampled_generator
            for name, generator in generators.items():
                metrics = self.evaluator.measure(
                    generator, recipe.noise, arguments.n, seed=0
                )
                row[name] = metrics["generated"]
                if "label_accuracy" in metrics:
                    # A conditional recipe: the share drawn as the class asked for.
                    row[name]["label_accuracy"] = metrics["label_accuracy"]["overall"]
            # The same real images for both generators.
            row["floor"] = metrics["floor"]
            if "label_accuracy" in metrics:
                row["floor"]["label_accuracy"] = metrics["label_accuracy"]["real"]
            rows.append(row)
            # Written after every row: a cook stopped later keeps what it measured.
            write_json(report_file, report)
            self.measuring += time.time() - began
            print(json.dumps(summary(row)), flush=True)

    run = prepare(
        recipe,
        out=out,
        epochs=arguments.at[-1],
        limit=arguments.limit,
        engine=arguments.engine,
        verbose=0,
        callbacks=[Measure()],
    )
    stopped = None
    try:
        run.cook()
    except RunStopped as error:
        stopped = error
    # Ctrl-C ends a long cook early with the table of the epochs measured so far.
    print(table(report))
    if stopped is not None:
        print(
            f"{stopped}\nMeasured {len(rows)} of the {len(arguments.at)} epochs "
            f"asked for; the figures are in {report_file}.",
            file=sys.stderr,
        )
        sys.exit(stopped.exit_code)


def summary(row: dict) -> dict:
    """A row's headline figures, for the progress lines."""
    brief = {"epoch": row["epoch"], "wall_seconds": row["wall_seconds"]}
    for name in ("trained", "averaged"):
        if name in row:
            brief[f"{name}_fd"] = round(row[name]["frechet_distance"], 2)
            brief[f"{name}_classes"] = row[name]["classes_covered"]
            if "label_accuracy" in row[name]:
                brief[f"{name}_label_accuracy"] = row[name]["label_accuracy"]
    return brief


def classes(generated: dict) -> str:
    """Classes covered, and the smallest and largest class's share of the samples."""
    shares = generated["class_histogram"]
    return (
        f"{generated['classes_covered']} "
        f"({100 * min(shares):.1f}-{100 * max(shares):.1f}%)"
    )


def table(report: dict) -> str:
    """The Markdown table: Fréchet distance and classes (covered, and the range of
    their shares of the samples), and a conditional recipe's label accuracy, trained
    and averaged."""
    rows = report["rows"]
    conditional = bool(rows) and "label_accuracy" in rows[0]["trained"]
    generators = {"trained": "trained G"}
    if report["average"] is not None:
        generators["averaged"] = f"average ({report['average']:g})"
    header, rule = "| epoch | wall time |", "| ---: | ---: |"
    for title in generators.values():
        header += f" FD, {title} | classes, {title} |"
        rule += " ---: | ---: |"
        if conditional:
            header += f" label accuracy, {title} |"
            rule += " ---: |"
    lines = [header, rule]
    for row in rows:
        minutes, seconds = divmod(int(round(row["wall_seconds"])), 60)
        line = f"| {row['epoch']} | {minutes}:{seconds:02d} |"
        for name in generators:
            line += f" {row[name]['frechet_distance']:.1f} | {classes(row[name])} |"
            if conditional:
                line += f" {row[name]['label_accuracy']:.1%} |"
        lines.append(line)
    floor = rows[-1]["floor"] if rows else None
    if floor is not None:
        lines.append(
            f"\nN = {report['n']:,}; real floor (as many training images): Fréchet "
            f"distance {floor['frechet_distance']:.2f}, {floor['classes_covered']} "
            "classes"
            + (
                f"; the classifier's label accuracy on the test images "
                f"{floor['label_accuracy']:.1%}."
                if conditional and floor.get("label_accuracy") is not None
                else "."
            )
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
