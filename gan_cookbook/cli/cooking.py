"""The commands that cook: ``cook``, ``resume``, ``list``, ``copy-recipe`` and one
command per built-in recipe (``python -m gan_cookbook.recipes.<name>``)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gan_cookbook import launch, recipes
from gan_cookbook.choices import ENGINES, PRECISIONS
from gan_cookbook.cli.common import (
    INTERRUPTED,
    Interruptible,
    flags_of,
    name_flags,
    resolve_recipe,
    start_keras,
    usage_error,
)
from gan_cookbook.pixels import DEFAULT_RESIZE, RESIZE_METHODS

if TYPE_CHECKING:
    from gan_cookbook.cook import Run
    from gan_cookbook.recipe import Recipe


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
            "--precision",
            type=click.Choice(PRECISIONS),
            help="Keras dtype policy of the models: float32, or mixed_bfloat16 "
            "(bfloat16 arithmetic, float32 weights).  [default: the recipe's]",
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
            type=click.Path(path_type=Path),
            help="Train on this instead: an .npz (Keras layout or one array), .npy, "
            "IDX file (*-images-idx3-ubyte[.gz]) or a folder of images.",
        ),
        click.option(
            "--resize",
            type=click.Choice(list(RESIZE_METHODS)),
            help="How --data images of another size become 28x28 (centre-cropped "
            "square, then this filter); none: other sizes are an error.  "
            f"[default: {DEFAULT_RESIZE}]",
        ),
        click.option(
            "--skip-bad-images",
            is_flag=True,
            default=None,
            help="Leave out files in a --data folder that cannot be read as images.",
        ),
        click.option("--quiet", is_flag=True, help="Print nothing while training."),
        click.option(
            "--resume",
            is_flag=True,
            help="Continue the run in --out from its newest checkpoint, with its own "
            "settings, to its epochs or --epochs.",
        ),
        click.option(
            "--overwrite",
            is_flag=True,
            help="Replace the run already in --out (only a folder with recipe.json).",
        ),
        click.option(
            "--engine",
            type=click.Choice(ENGINES),
            help="classic: the compiled fake batch and two train_on_batch calls a "
            "step; fused: the same step as one compiled call (KERAS_BACKEND=jax).  "
            "[default: classic]",
        ),
        click.option(
            "--steps-per-execution",
            type=click.IntRange(min=1),
            metavar="K",
            help="With --engine fused: K whole steps in one compiled call, on "
            "batches already on the device.  [default: the recipe's, 1]",
        ),
        click.option(
            "--checkpoint-every",
            type=click.IntRange(min=1),
            metavar="N",
            help="Write a checkpoint (and the models) every N epochs, after the last "
            "and when stopped.  [default: 1]",
        ),
        click.option(
            "--keep-checkpoints",
            type=click.IntRange(min=1),
            metavar="K",
            help="Keep the newest K checkpoints (an older one to fall back on if the "
            "newest is damaged).  [default: 2]",
        ),
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


def cook_recipe(
    recipe: Recipe, command: Sequence[str], quiet: bool = False, **options: Any
) -> None:
    """Cooks ``recipe`` for the command line.

    Bad input becomes a usage error before anything is written; a run stopped by a
    signal or a NaN loss prints how to resume and exits non-zero.

    Args:
        recipe: The recipe to cook.
        command: The command that cooks it again with ``--out DIR --resume``
            added, for the resume hint (``gan-cookbook cook mnist``).
        quiet: Print nothing while training.
        options: The keyword arguments of :func:`gan_cookbook.cook.prepare`.
    """
    from gan_cookbook.cook import RunStopped, prepare

    context = click.get_current_context()
    context.meta[INTERRUPTED] = lambda: "Interrupted before training: nothing written."
    try:
        # Data and models, built with Ctrl-C held back as while Keras imports.
        with launch.interrupts_deferred():
            run = prepare(recipe, verbose=0 if quiet else 1, **options)
    except ValueError as error:
        # `resume` passes cook's options on: its errors may name them.
        raise usage_error(error, also=[cook]) from None
    resume = resume_command(command, run.out)
    context.meta[INTERRUPTED] = lambda: stopped_at_once(run.out, resume)
    if not quiet:
        click.echo(starting_line(run))
    try:
        result = run.cook()
    except RunStopped as stopped:
        click.echo(name_flags(str(stopped), flags_of(context.command)), err=True)
        if stopped.checkpoint is not None:
            click.echo(f"Resume with: {resume}", err=True)
        sys.exit(stopped.exit_code)
    if not quiet:
        click.echo(f"Done. Samples, history and models are in {run.out}")
        if run.evaluation is not None:
            distances = result.history.history.get(run.evaluation.KEY)
            if distances:
                click.echo(f"Fréchet distance at the end: {distances[-1]:.2f}")


def starting_line(run: Run) -> str:
    """What is about to be cooked, on what, how and where: one line."""
    import keras

    from gan_cookbook.cook import epochs_phrase

    action = f"Resuming from {run.resumed_from.name}" if run.resumed_from else "Cooking"
    how = [f"Keras {keras.__version__}", f"{keras.backend.backend()} backend"]
    if run.trainer.engine != "classic":
        how.append(f"{run.trainer.engine} engine")
    if run.trainer.steps_per_execution > 1:
        how.append(f"{run.trainer.steps_per_execution} steps a call")
    if run.recipe.precision != "float32":
        how.append(run.recipe.precision)
    return (
        f"{action} {run.recipe.name} on {len(run.dataset.images)} images of "
        f"{run.dataset.source} for {epochs_phrase(run.recipe.epochs)} "
        f"({', '.join(how)}) "
        f"into {run.out}"
    )


def stopped_at_once(out: Path, resume: str) -> str:
    """The line for a run ended at once (a second Ctrl-C): what its folder keeps."""
    from gan_cookbook.run_folder import RunFolder

    checkpoints = RunFolder(out).checkpoints()
    if checkpoints:
        return (
            f"Stopped at once. {out} keeps its checkpoint {checkpoints[-1].name} and "
            f"the models from it. Resume with: {resume}"
        )
    return (
        f"Stopped at once, before the first checkpoint: nothing trained was kept in "
        f"{out}. Start again with --overwrite."
    )


def resume_command(command: Sequence[str], out: Path) -> str:
    """The command line that resumes the run in ``out``: the run folder holds its
    settings, so ``command --out OUT --resume`` (or ``gan-cookbook resume OUT``)."""
    if list(command[:2]) == ["gan-cookbook", "resume"]:
        return shlex.join(["gan-cookbook", "resume", str(out)])
    return shlex.join([*command, "--out", str(out), "--resume"])


def recipe_command(recipe: Recipe) -> click.Command:
    """The command of one recipe, for ``python -m gan_cookbook.recipes.<name>``."""

    @click.command(
        name=recipe.name,
        help=f"Cook {recipe.name}: {recipe.description}.",
        cls=Interruptible,
    )
    @run_options
    def command(**options: Any) -> None:
        start_keras()
        module = f"gan_cookbook.recipes.{recipe.name}"
        cook_recipe(recipe, ["python", "-m", module], **options)

    return command


@click.command(cls=Interruptible)
@click.argument("recipe")
@run_options
def cook(recipe: str, **options: Any) -> None:
    """Cook RECIPE: a built-in name (see `list`) or a recipe file's path."""
    try:
        resolved = resolve_recipe(recipe)
    except ValueError as error:
        raise usage_error(error) from None
    cook_recipe(resolved, ["gan-cookbook", "cook", recipe], **options)


@click.command(cls=Interruptible)
@click.argument("run_folder", metavar="RUN", type=click.Path(path_type=Path))
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help="The epoch to train to.  [default: the run's]",
)
@click.option("--quiet", is_flag=True, help="Print nothing while training.")
def resume(run_folder: Path, epochs: int | None, quiet: bool) -> None:
    """Continue the run in RUN from its newest checkpoint, with the recipe and
    settings it was cooked with (its recipe.json)."""
    from gan_cookbook.run_folder import SETTINGS_FILE, RunFolder

    folder = RunFolder(run_folder)
    if not folder.is_run():
        what = (
            "does not exist"
            if not run_folder.exists()
            else f"is not a run folder (it holds no {SETTINGS_FILE})"
        )
        raise click.UsageError(
            f"RUN {run_folder}: {what}. Expected the --out folder of a cook. "
            f"Received: {run_folder}"
        )
    try:
        record = folder.read_record()
    except ValueError as error:
        raise click.UsageError(f"RUN {error}") from None
    file, name = record.recipe_file, record.recipe_name
    if file is None and name not in recipes.BUILTIN:
        raise click.UsageError(
            f"RUN {run_folder}: cooked from a recipe made in Python ({name!r}), which "
            "only its own code can make again: resume it there with "
            "prepare(recipe, out=..., resume=True). Received: recipe "
            f"{name!r}"
        )
    if file is not None and not Path(file).is_file():
        raise click.UsageError(
            f"RUN {run_folder}: cooked from the recipe file {file}, which is no longer "
            "there. Give it with: gan-cookbook cook FILE --out RUN --resume. "
            f"Received: {run_folder}"
        )
    try:
        recipe = resolve_recipe(file or name)
    except ValueError as error:
        raise usage_error(error) from None
    command = ["gan-cookbook", "resume", str(run_folder)]
    cook_recipe(
        recipe, command, quiet=quiet, out=run_folder, epochs=epochs, resume=True
    )


@click.command(name="list", cls=Interruptible)
@click.option(
    "--path",
    "folder",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Also list the recipe files (*.py, not _*.py) in this folder.",
)
def list_recipes(folder: Path | None) -> None:
    """List the built-in recipes, the example recipe files (and the recipe files in
    a folder)."""
    width = max(len(name) for name in recipes.BUILTIN)
    for name in recipes.BUILTIN:
        click.echo(f"{name:<{width}}  {recipes.describe(name)}")
    click.echo(
        "\nExample recipe files, to copy and edit (gan-cookbook copy-recipe NAME): "
        + ", ".join(recipes.examples())
    )
    if folder is None:
        return
    start_keras()
    from gan_cookbook.recipe import load_recipe_file

    files = sorted(path for path in folder.glob("*.py") if path.name[0] not in "._")
    click.echo(f"\nRecipe files in {folder}:" if files else f"\nNo *.py in {folder}.")
    for path in files:
        try:
            description = load_recipe_file(path).description
        except ValueError as error:
            # A broken file is listed with what is wrong, so the others still show.
            description = f"cannot be loaded: {error}"
        click.echo(f"{str(path):<16} {description}")


@click.command(name="copy-recipe", cls=Interruptible)
@click.argument("name")
@click.argument(
    "destination", required=False, type=click.Path(path_type=Path, dir_okay=True)
)
def copy_recipe(name: str, destination: Path | None) -> None:
    """Copy the recipe file NAME (a built-in recipe or an example, see `list`) to
    DESTINATION, a file or folder, to edit and cook.  [default: ./NAME.py]"""
    try:
        written = recipes.copy_recipe_file(name, destination)
    except ValueError as error:
        message = name_flags(str(error), {"destination": "DESTINATION"})
        raise click.UsageError(message) from None
    click.echo(
        f"Wrote {written}. Cook it with: gan-cookbook cook {shlex.quote(str(written))}"
    )
