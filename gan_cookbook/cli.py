"""The ``gan-cookbook`` command line: ``cook``, ``list``, and one command per recipe."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import keras

from gan_cookbook import recipes
from gan_cookbook.bench import DEFAULT_STEPS, DEFAULT_WARMUP, benchmark, format_result
from gan_cookbook.cook import Run, RunStopped, prepare
from gan_cookbook.data import DEFAULT_RESIZE, RESIZE_METHODS
from gan_cookbook.recipe import Recipe, load_recipe_file


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
            help="Leave out files in a --data folder that cannot be read as images.",
        ),
        click.option("--quiet", is_flag=True, help="Print nothing while training."),
        click.option(
            "--resume",
            is_flag=True,
            help="Continue the run in --out from its newest checkpoint to --epochs.",
        ),
        click.option(
            "--overwrite",
            is_flag=True,
            help="Replace the run already in --out (only a folder with recipe.json).",
        ),
        click.option(
            "--checkpoint-every",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            metavar="N",
            help="Write a checkpoint every N epochs (and after the last).",
        ),
        click.option(
            "--keep-checkpoints",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            metavar="K",
            help="Keep the newest K checkpoints.",
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
        command: The command that names the recipe, for the resume hint.
        quiet: Print nothing while training.
        options: The keyword arguments of :func:`gan_cookbook.cook.prepare`.
    """
    try:
        run = prepare(recipe, verbose=0 if quiet else 1, **options)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if not quiet:
        action = (
            f"Resuming from {run.resumed_from.name}" if run.resumed_from else "Cooking"
        )
        click.echo(
            f"{action} {run.recipe.name} on {len(run.dataset.images)} images of "
            f"{run.dataset.source} for {run.recipe.epochs} epochs "
            f"(Keras {keras.__version__}, {keras.backend.backend()} backend) "
            f"into {run.out}"
        )
    try:
        run.cook()
    except RunStopped as stopped:
        click.echo(str(stopped), err=True)
        if stopped.checkpoint is not None:
            click.echo(
                f"Resume with: {resume_command(command, run, options)}", err=True
            )
        sys.exit(stopped.exit_code)
    if not quiet:
        click.echo(f"Done. Samples, history and models are in {run.out}")


def resume_command(command: Sequence[str], run: Run, options: dict[str, Any]) -> str:
    """The exact command line that resumes ``run``."""
    words = [*command, "--out", str(run.out), "--resume"]
    for name in ("epochs", "batch_size", "seed", "limit", "data", "resize"):
        if options.get(name) is not None:
            words += [f"--{name.replace('_', '-')}", str(options[name])]
    if options.get("skip_bad_images"):
        words.append("--skip-bad-images")
    for name in ("checkpoint_every", "keep_checkpoints"):
        if options.get(name, 1) != 1:
            words += [f"--{name.replace('_', '-')}", str(options[name])]
    return shlex.join(words)


def recipe_command(recipe: Recipe) -> click.Command:
    """The command of one recipe, for ``python -m gan_cookbook.recipes.<name>``."""

    @click.command(name=recipe.name, help=f"Cook {recipe.name}: {recipe.description}.")
    @run_options
    def command(**options: Any) -> None:
        module = f"gan_cookbook.recipes.{recipe.name}"
        cook_recipe(recipe, ["python", "-m", module], **options)

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
    cook_recipe(resolved, ["gan-cookbook", "cook", recipe], **options)


@main.command(name="list")
@click.option(
    "--path",
    "folder",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Also list the recipe files (*.py, not _*.py) in this folder.",
)
def list_recipes(folder: Path | None) -> None:
    """List the built-in recipes (and the recipe files in a folder)."""
    for name in recipes.BUILTIN:
        click.echo(f"{name:<16} {recipes.get(name).description}")
    if folder is None:
        return
    files = sorted(path for path in folder.glob("*.py") if path.name[0] not in "._")
    click.echo(f"\nRecipe files in {folder}:" if files else f"\nNo *.py in {folder}.")
    for path in files:
        try:
            description = load_recipe_file(path).description
        except ValueError as error:
            # A broken file is listed with what is wrong, so the others still show.
            description = f"cannot be loaded: {error}"
        click.echo(f"{str(path):<16} {description}")


BACKENDS = ("tensorflow", "jax", "torch")


@main.command()
@click.argument("recipe")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=DEFAULT_STEPS,
    show_default=True,
    help="Timed steps.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Real images per step.  [default: the recipe's]",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=0),
    default=DEFAULT_WARMUP,
    show_default=True,
    help="Steps run before timing (tracing and compiling).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Put only the first N images on the device.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    help="Keras backend to time, run in a fresh process.  "
    "[default: KERAS_BACKEND's, else tensorflow]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench(
    recipe: str,
    steps: int,
    batch_size: int | None,
    warmup: int,
    limit: int | None,
    backend: str | None,
    as_json: bool,
) -> None:
    """Time RECIPE's training step: ms per step and images per second.

    Prepares the recipe's data and models as `cook` does, in a temporary folder,
    runs --warmup steps, then times --steps steps one by one. Keras picks its
    backend when it is first imported, from KERAS_BACKEND; --backend runs the
    benchmark in a fresh process with KERAS_BACKEND set to it.
    """
    if backend is not None and backend != keras.backend.backend():
        rerun_on_backend(
            backend,
            ["bench", recipe, "--steps", str(steps), "--warmup", str(warmup)]
            + (["--batch-size", str(batch_size)] if batch_size else [])
            + (["--limit", str(limit)] if limit else [])
            + (["--json"] if as_json else []),
        )
        return
    try:
        result = benchmark(
            resolve_recipe(recipe),
            steps=steps,
            batch_size=batch_size,
            warmup=warmup,
            limit=limit,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(json.dumps(result, indent=2) if as_json else format_result(result))


def rerun_on_backend(backend: str, arguments: Sequence[str]) -> None:
    """Runs ``gan-cookbook ARGUMENTS`` in a fresh process on another Keras backend.

    Keras reads KERAS_BACKEND once, when it is imported, and this process has
    imported it already; only a new interpreter can run on another backend.
    """
    if importlib.util.find_spec(backend) is None:
        installed = [name for name in BACKENDS if importlib.util.find_spec(name)]
        raise click.UsageError(
            f"--backend {backend}: {backend} is not installed. "
            f"Received: --backend {backend}; installed: {', '.join(installed)}"
        )
    result = subprocess.run(
        [sys.executable, "-m", "gan_cookbook", *arguments],
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
    )
    click.echo(result.stdout, nl=False)
    if result.stderr:
        click.echo(result.stderr, nl=False, err=True)
    if result.returncode:
        sys.exit(result.returncode)
