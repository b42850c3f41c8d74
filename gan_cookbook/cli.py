"""The ``gan-cookbook`` command line: ``cook``, ``list``, and one command per recipe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import keras

from gan_cookbook import recipes
from gan_cookbook.callbacks import FrechetEvaluation
from gan_cookbook.cook import prepare
from gan_cookbook.recipe import Recipe, load_recipe_file

if TYPE_CHECKING:
    from gan_cookbook.sampling import Cooked


def run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options every way of cooking accepts."""
    options = [
        click.option(
            "--epochs",
            type=click.IntRange(min=1),
            help="Passes over the training images.  [default: the recipe's]",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            help="Real images per step.  [default: the recipe's]",
        ),
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            help="Seeds weights, noise and shuffling.  [default: the recipe's]",
        ),
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            help="Run folder, new or empty.  [default: runs/<recipe>-<date>-<time>]",
        ),
        click.option(
            "--limit",
            type=click.IntRange(min=1),
            metavar="N",
            help="Train on the first N images only: a quick look on a CPU.",
        ),
        click.option(
            "--data",
            type=click.Path(path_type=Path, dir_okay=False),
            help="An .npz file in the Keras layout (x_train, ...) to train on instead.",
        ),
        click.option("--quiet", is_flag=True, help="Print nothing while training."),
        click.option(
            "--eval-every",
            type=click.IntRange(min=1),
            metavar="N",
            help="Add the Fréchet distance of 10,000 samples to history.csv every N "
            "epochs.",
        ),
        click.option(
            "--tensorboard",
            type=click.Path(path_type=Path, file_okay=False),
            metavar="DIR",
            help="Write TensorBoard logs to DIR: epoch scalars and the sample grid.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def cook_recipe(recipe: Recipe, quiet: bool = False, **options: Any) -> None:
    """Cooks ``recipe`` for the command line: bad input becomes a usage error."""
    try:
        run = prepare(recipe, verbose=0 if quiet else 1, **options)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if not quiet:
        click.echo(
            f"Cooking {run.recipe.name} on {len(run.dataset.images)} images of "
            f"{run.dataset.source} for {run.recipe.epochs} epochs "
            f"(Keras {keras.__version__}, {keras.backend.backend()} backend) "
            f"into {run.out}"
        )
    run.cook()
    if not quiet:
        click.echo(f"Done. Samples, history and models are in {run.out}")
        if run.evaluation is not None and run.history is not None:
            distances = run.history.history.get(FrechetEvaluation.KEY)
            if distances:
                click.echo(f"Fréchet distance at the end: {distances[-1]:.2f}")


def recipe_command(recipe: Recipe) -> click.Command:
    """The command of one recipe, for ``python -m gan_cookbook.recipes.<name>``."""

    @click.command(name=recipe.name, help=f"Cook {recipe.name}: {recipe.description}.")
    @run_options
    def command(**options: Any) -> None:
        cook_recipe(recipe, **options)

    return command


def resolve_recipe(name_or_path: str) -> Recipe:
    """A built-in recipe by name, or the recipe in a ``.py`` file."""
    if name_or_path.endswith(".py") or Path(name_or_path).is_file():
        return load_recipe_file(name_or_path)
    return recipes.get(name_or_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gan-cookbook")
def main() -> None:
    """Cook DCGANs on 28x28 images with the classic Keras train_on_batch loop."""


@main.command()
@click.argument("recipe")
@run_options
def cook(recipe: str, **options: Any) -> None:
    """Cook RECIPE: a built-in name (see `list`) or a recipe file's path."""
    try:
        resolved = resolve_recipe(recipe)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    cook_recipe(resolved, **options)


@main.command(name="list")
def list_recipes() -> None:
    """List the built-in recipes."""
    for name in recipes.BUILTIN:
        click.echo(f"{name:<16} {recipes.get(name).description}")


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
    run_or_model: Path, recipe: str | None, quiet: bool = False
) -> Cooked:
    """Loads a run folder or a generator file for a command; errors are usage errors."""
    from gan_cookbook.sampling import load_cooked

    try:
        cooked = load_cooked(
            run_or_model, resolve_recipe(recipe) if recipe is not None else None
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if not cooked.noise_known and not quiet:
        click.echo(
            f"No recipe.json beside {run_or_model} and no --recipe: drawing noise "
            "uniform in [0, 1), the mnist recipe's.",
            err=True,
        )
    return cooked


@main.command()
@run_or_model_argument
@click.option(
    "--n",
    "count",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images to draw.",
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
    help="Also save the images (x, uint8) and their noise to this .npz.",
)
@click.option(
    "--columns",
    type=click.IntRange(min=1),
    help="Images per row.  [default: a square grid]",
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
    scale: int,
    recipe: str | None,
) -> None:
    """Draw a grid of samples from a run folder or a generator.keras."""
    from gan_cookbook.sampling import save_samples

    cooked = load_for_command(run_or_model, recipe)
    save_samples(cooked, out, count, seed, npz=npz, columns=columns, scale=scale)
    click.echo(f"{count} samples in {out}" + (f" and {npz}" if npz else ""))


@main.command()
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
    scale: int,
    recipe: str | None,
) -> None:
    """Walk between random points of the noise space, as an animated GIF."""
    from gan_cookbook.sampling import save_interpolation

    cooked = load_for_command(run_or_model, recipe)
    written = save_interpolation(
        cooked, out, walks, points, frames, seed, duration=duration, scale=scale
    )
    click.echo(f"{written} frames of {walks} walks in {out}")


@main.command()
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
    type=click.Path(path_type=Path, dir_okay=False),
    help="An .npz (Keras layout) to measure against: x_test (else x_train) "
    "the reference, y_train the classifier's labels.  [default: the run's "
    "data]",
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
@recipe_option
def evaluate(
    run_or_model: Path,
    count: int,
    data: Path | None,
    out: Path | None,
    seed: int,
    recipe: str | None,
) -> None:
    """Measure a run or a generator: Fréchet distance, KID, classifier score and
    class histogram, each beside the real-data floor; writes metrics.json."""
    import json

    from gan_cookbook.quality import (
        datasets_for_source,
        evaluation_data,
        measure,
        table,
    )

    cooked = load_for_command(run_or_model, recipe)
    source = str(data) if data is not None else cooked.data_source
    if source is None:
        raise click.UsageError(
            f"{run_or_model}: no recipe.json tells what it was trained on. Pass --data "
            "FILE.npz or --recipe NAME. Received: a generator without its run folder"
        )
    try:
        training, test = datasets_for_source(source)
        evaluation = evaluation_data(training, test, count, seed)
        if evaluation.reference.shape[1:] != tuple(cooked.generator.output_shape[1:]):
            raise ValueError(
                f"The generator makes images of shape "
                f"{tuple(cooked.generator.output_shape[1:])} but {source} holds "
                f"{evaluation.reference.shape[1:]}. Received: --data {source}"
            )
        metrics = measure(cooked.generator, cooked.noise, evaluation, count, seed)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    metrics["model"] = str(run_or_model)
    out = out or cooked.folder / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2))
    click.echo(f"{metrics['n']} generated images against {metrics['reference']}")
    click.echo(table(metrics))
    click.echo(f"Written to {out} ({metrics['seconds']:.1f} s)")
