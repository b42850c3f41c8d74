"""The commands that read a cooked run: ``sample``, ``interpolate``, ``evaluate``, and
``compare``, which reads run folders side by side.

Each of the first three takes a run folder or a ``.keras`` generator; a path that is
not there is a usage error before any Keras backend starts. ``compare`` reads files
only and starts none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from gan_cookbook.cli.common import (
    Interruptible,
    resolve_recipe,
    start_keras,
    usage_error,
)
from gan_cookbook.files import write_text

if TYPE_CHECKING:
    from gan_cookbook.recipe import Recipe
    from gan_cookbook.sampling import Cooked


run_or_model_argument = click.argument(
    "run_or_model", metavar="RUN_OR_MODEL", type=click.Path(path_type=Path)
)
recipe_option = click.option(
    "--recipe",
    metavar="NAME_OR_FILE",
    help="The recipe the model was cooked with, for its noise (and data): needed for "
    "a generator.keras without a recipe.json beside it.  [default: the run's "
    "recipe.json]",
)


def load_for_command(
    run_or_model: Path,
    recipe: str | None,
    quiet: bool = False,
    load_recipe_data: bool = True,
) -> tuple[Cooked, Recipe | None]:
    """Loads a run folder or a generator file for a command, and the ``--recipe``
    given; errors are usage errors.

    ``load_recipe_data``: with ``--recipe``, load its data to learn their identity
    (only ``evaluate`` needs it).
    """
    if not run_or_model.exists():
        # Before Keras starts: a mistyped path is answered at once.
        raise click.UsageError(
            f"RUN_OR_MODEL must be a run folder or a .keras generator file. "
            f"Received: {run_or_model} (does not exist)"
        )
    start_keras()
    from gan_cookbook.sampling import load_cooked

    try:
        resolved = resolve_recipe(recipe) if recipe is not None else None
        cooked = load_cooked(run_or_model, resolved, load_recipe_data=load_recipe_data)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if not cooked.noise_known and not quiet:
        click.echo(
            f"No recipe.json beside {run_or_model} and no --recipe: drawing noise "
            "uniform in [0, 1), the mnist recipe's.",
            err=True,
        )
    return cooked, resolved


@click.command(cls=Interruptible)
@run_or_model_argument
@click.option(
    "--n",
    "count",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images to draw (a conditional run without --class: one row per class, "
    "see --columns).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the noise: the same seed, the same images.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("samples.png"),
    show_default=True,
    help="The grid PNG.",
)
@click.option(
    "--npz",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also save the images (x, uint8), their noise and, for a conditional "
    "run, their classes (labels) to this .npz.",
)
@click.option(
    "--columns",
    type=click.IntRange(min=1),
    help="Images per row.  [default: a square grid; a conditional run without "
    "--class: ceil(N / classes), one row per class, so classes x columns images]",
)
@click.option(
    "--class",
    "label",
    type=int,
    metavar="K",
    help="Draw every image of class K (a conditional run, 0 to classes - 1).  "
    "[default: a conditional run draws one row per class]",
)
@click.option(
    "--scale",
    type=click.IntRange(min=1, max=16),
    default=1,
    show_default=True,
    help="Upscale the grid by this factor.",
)
@recipe_option
def sample(
    run_or_model: Path,
    count: int,
    seed: int,
    out: Path,
    npz: Path | None,
    columns: int | None,
    label: int | None,
    scale: int,
    recipe: str | None,
) -> None:
    """Draw a grid of samples from a run folder or a generator.keras."""
    cooked, _ = load_for_command(run_or_model, recipe, load_recipe_data=False)
    from gan_cookbook.sampling import save_samples

    try:
        images = save_samples(
            cooked, out, count, seed, npz=npz, columns=columns, scale=scale, label=label
        )
    except ValueError as error:
        raise usage_error(error) from None
    drawn = f"{len(images)} samples"
    if label is not None:
        drawn += f" of class {label}"
    elif cooked.num_classes is not None:
        drawn += f", a row for each of {cooked.num_classes} classes,"
    click.echo(f"{drawn} in {out}" + (f" and {npz}" if npz else ""))


@click.command(cls=Interruptible)
@run_or_model_argument
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("walk.gif"),
    show_default=True,
    help="The animated GIF.",
)
@click.option(
    "--walks",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Walks side by side in each frame.",
)
@click.option(
    "--points",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="Random noise points each walk passes through, then returns.",
)
@click.option(
    "--frames",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Frames from one point to the next.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the points.",
)
@click.option(
    "--duration",
    type=click.IntRange(min=10),
    default=80,
    show_default=True,
    help="Milliseconds per frame.",
)
@click.option(
    "--class",
    "label",
    type=int,
    metavar="K",
    help="Walk within class K only (a conditional run, 0 to classes - 1).  "
    "[default: a conditional run's walk i keeps class i % classes]",
)
@click.option(
    "--scale",
    type=click.IntRange(min=1, max=16),
    default=2,
    show_default=True,
    help="Upscale the frames by this factor.",
)
@recipe_option
def interpolate(
    run_or_model: Path,
    out: Path,
    walks: int,
    points: int,
    frames: int,
    seed: int,
    duration: int,
    label: int | None,
    scale: int,
    recipe: str | None,
) -> None:
    """Walk between random points of the noise space, as an animated GIF."""
    cooked, _ = load_for_command(run_or_model, recipe, load_recipe_data=False)
    from gan_cookbook.sampling import save_interpolation

    try:
        written = save_interpolation(
            cooked,
            out,
            walks,
            points,
            frames,
            seed,
            duration=duration,
            scale=scale,
            label=label,
        )
    except ValueError as error:
        raise usage_error(error) from None
    within = "" if label is None else f" within class {label}"
    click.echo(f"{written} frames of {walks} walks{within} in {out}")


@click.command(cls=Interruptible)
@run_or_model_argument
@click.option(
    "--n",
    "count",
    type=click.IntRange(min=2),
    default=10000,
    show_default=True,
    help="Generated images, and real images on each side of the floor.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Measure against this instead: an .npz, .npy, IDX file or folder of "
    "images, as cook's --data. Its test split (x_test, or the t10k file beside an "
    "IDX train file) is the reference when it has one; its labels train the "
    "classifier.  [default: the run's data]",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where metrics.json goes.  [default: in the run folder, or beside the model]",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the noise and the choice of real images.",
)
@click.option(
    "--compare-raw",
    is_flag=True,
    help="Also measure the trained generator (generator_raw.keras) beside the "
    "averaged one (generator.keras), against the same images.",
)
@recipe_option
def evaluate(
    run_or_model: Path,
    count: int,
    data: Path | None,
    out: Path | None,
    seed: int,
    compare_raw: bool,
    recipe: str | None,
) -> None:
    """Measure a run or a generator: Fréchet distance, KID, classifier score and
    class histogram, each beside the real-data floor; writes metrics.json.

    A conditional run is measured on labels drawn with the data's class frequencies,
    and on its label accuracy too: how often the classifier sees the class each
    image was drawn for, overall and per class, beside the classifier's own
    accuracy on the labelled real images.

    The run's own data (its recipe.json) by default, whatever they are: a built-in
    dataset, a file or an image folder whose subfolders are classes. A classifier of
    data other than MNIST is trained on first use and cached in the Keras cache.
    A run that averages G's weights is measured on the average (generator.keras);
    give RUN/generator_raw.keras, or --compare-raw, for the trained generator.
    """
    cooked, resolved = load_for_command(run_or_model, recipe)
    from gan_cookbook.evaluate import evaluate as measure
    from gan_cookbook.evaluation import table

    try:
        evaluation = measure(
            run_or_model,
            count=count,
            data=data,
            out=out,
            seed=seed,
            compare_raw=compare_raw,
            recipe=resolved,
            cooked=cooked,
        )
    except ValueError as error:
        raise usage_error(error) from None
    metrics, raw = evaluation.metrics, evaluation.raw
    click.echo(
        f"{metrics['n']} images of {cooked.description} against {metrics['reference']}"
    )
    click.echo(table(metrics))
    if raw is not None:
        click.echo(f"\nThe same, for {raw.description}:")
        click.echo(table({**metrics, **metrics["raw"]}))
    click.echo(f"Written to {evaluation.path} ({metrics['seconds']:.1f} s)")


@click.command(cls=Interruptible)
@click.argument(
    "runs",
    metavar="RUN [RUN ...]",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also draw each run's Fréchet distance (history.csv's, from --eval-every) "
    "against its training time to this PNG, one line per run; overwritten if it "
    "exists.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the table to this Markdown file; never overwrites one unless "
    "--overwrite.",
)
@click.option("--overwrite", is_flag=True, help="Let --out replace an existing file.")
def compare(
    runs: tuple[Path, ...], plot: Path | None, out: Path | None, overwrite: bool
) -> None:
    """Compare run folders side by side: a Markdown table of each run's recipe,
    objective, D steps, epochs, training time and the measurement that evaluate
    wrote to its metrics.json (Fréchet distance, that of the trained G beside an
    average, N, classifier score, classes covered, label accuracy); "—" where a run
    has none.

    A search folder of tune (holding search.json) stands for its trials, the run
    folders in SEARCH/trials/<id>/, in the order of their ids; SEARCH/trials/* names
    the same runs. The table goes to stdout; notes on what was left out, and where
    files went, to stderr. Training time is the sum of history.csv's seconds: the
    training steps alone.
    """
    missing = [f"{path} (does not exist)" for path in runs if not path.exists()]
    if missing:
        # Before anything else: a mistyped path is answered at once.
        raise click.UsageError(
            "RUN must be a run folder or a search folder of tune. Received: "
            + ", ".join(missing)
        )
    if out is not None and out.exists() and not overwrite:
        raise click.UsageError(
            f"--out {out} already exists; compare never overwrites it. Choose "
            f"another file, or replace it with --overwrite. Received: --out {out}"
        )
    from gan_cookbook.compare import compare_runs

    try:
        comparison = compare_runs(runs, plot=plot)
    except ValueError as error:
        raise usage_error(error) from None
    table = comparison.to_markdown()
    click.echo(table)
    for note in comparison.notes:
        click.echo(note, err=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text(out, table + "\n")
        click.echo(f"Table written to {out}", err=True)
    if comparison.plot is not None:
        click.echo(f"Plot written to {comparison.plot}", err=True)
