"""The ``gan-cookbook`` command line: ``cook``, ``list``, and one command per recipe."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gan_cookbook import launch, recipes
from gan_cookbook.choices import DEFAULT_STEPS, DEFAULT_WARMUP, ENGINES, PRECISIONS
from gan_cookbook.pixels import DEFAULT_RESIZE, RESIZE_METHODS

if TYPE_CHECKING:
    from gan_cookbook.cook import Run
    from gan_cookbook.loaders import Dataset
    from gan_cookbook.recipe import Recipe
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
            help="Keep the newest K checkpoints.  [default: 1]",
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


def flags_of(command: click.Command) -> dict[str, str]:
    """The command's options by Python argument: ``{"batch_size": "--batch-size"}``."""
    return {
        param.name: max(param.opts, key=len)
        for param in command.params
        if isinstance(param, click.Option) and param.name
    }


def name_flags(message: str, flags: dict[str, str]) -> str:
    """A library message with its Python arguments written as the flags that set them.

    The library names arguments Keras style: ```out``` in the text, ``out=value``
    after "Received:". ``resume=True`` becomes ``--resume``, ``out=None`` ``no --out``
    and ``batch_size=64`` ``--batch-size 64``.
    """
    for name, flag in flags.items():
        message = re.sub(rf"`{name}=True`", flag, message)
        message = re.sub(rf"`{name}`", flag, message)
        message = re.sub(rf"(?<![\w.-]){name}=None\b", f"no {flag}", message)
        message = re.sub(rf"(?<![\w.-]){name}=True\b", flag, message)
        message = re.sub(rf"(?<![\w.-]){name}='([^']*)'", rf"{flag} \1", message)
        message = re.sub(rf"(?<![\w.-]){name}=", f"{flag} ", message)
    return message


def usage_error(error: ValueError) -> click.UsageError:
    """A library ``ValueError`` as a usage error that names the command's flags."""
    context = click.get_current_context(silent=True)
    message = str(error)
    if context is not None:
        # cook's flags too: `resume` passes on errors about the options of cook.
        flags = {**flags_of(cook), **flags_of(context.command)}
        message = name_flags(message, flags)
    return click.UsageError(message)


def start_keras() -> None:
    """Starts Keras for a command; a missing backend is a one-line error."""
    try:
        launch.start_keras()
    except ImportError as error:
        raise click.ClickException(str(error)) from None


INTERRUPTED = "gan_cookbook.interrupted"
"""The ``ctx.meta`` key of what an interrupted command says it kept."""


class Interruptible(click.Command):
    """A command that Ctrl-C ends with status 130 and one line, at any moment, and
    whose stderr is without TensorFlow's lines about the machine
    (:func:`~gan_cookbook.launch.backend_noise_filtered`).

    Click would print "Aborted!" and exit with 1, or a traceback come from the
    middle of an import. A command that has something to keep says what in
    ``ctx.meta[INTERRUPTED]``, a function that returns the line.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:
            click.echo(f"\n{launch.NOTHING_WRITTEN}", err=True)
            sys.exit(130)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with launch.backend_noise_filtered():
                return super().invoke(ctx)
        except KeyboardInterrupt:
            explain = ctx.meta.get(INTERRUPTED, lambda: launch.NOTHING_WRITTEN)
            click.echo(f"\n{explain()}", err=True)
            sys.exit(130)


class InterruptibleGroup(Interruptible, click.Group):
    """The ``gan-cookbook`` group: every subcommand is :class:`Interruptible`."""

    command_class = Interruptible


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
        raise usage_error(error) from None
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

    action = f"Resuming from {run.resumed_from.name}" if run.resumed_from else "Cooking"
    how = [f"Keras {keras.__version__}", f"{keras.backend.backend()} backend"]
    if run.trainer.engine != "classic":
        how.append(f"{run.trainer.engine} engine")
    if run.recipe.precision != "float32":
        how.append(run.recipe.precision)
    return (
        f"{action} {run.recipe.name} on {len(run.dataset.images)} images of "
        f"{run.dataset.source} for {run.recipe.epochs} epochs ({', '.join(how)}) "
        f"into {run.out}"
    )


def stopped_at_once(out: Path, resume: str) -> str:
    """The line for a run ended at once (a second Ctrl-C): what its folder keeps."""
    from gan_cookbook.checkpoint import list_checkpoints

    checkpoints = list_checkpoints(out)
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


def resolve_recipe(name_or_path: str) -> Recipe:
    """A built-in recipe by name, or the recipe in a ``.py`` file; Keras starts
    (quietly) once the name is known to be good."""
    if name_or_path.endswith(".py") or Path(name_or_path).is_file():
        start_keras()
        from gan_cookbook.recipe import load_recipe_file

        return load_recipe_file(name_or_path)
    recipes.check_name(name_or_path)
    start_keras()
    return recipes.get(name_or_path)


@click.group(
    cls=InterruptibleGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
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
        raise usage_error(error) from None
    cook_recipe(resolved, ["gan-cookbook", "cook", recipe], **options)


@main.command()
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
    from gan_cookbook.checkpoint import SETTINGS_FILE, read_settings

    if not (run_folder / SETTINGS_FILE).is_file():
        raise click.UsageError(
            f"RUN {run_folder}: not a run folder (it holds no {SETTINGS_FILE}). "
            f"Expected the --out folder of a cook. Received: {run_folder}"
        )
    try:
        recorded = read_settings(run_folder).get("recipe", {})
    except ValueError as error:
        raise click.UsageError(f"RUN {error}") from None
    file, name = recorded.get("file"), recorded.get("name")
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


@main.command(name="list")
@click.option(
    "--path",
    "folder",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Also list the recipe files (*.py, not _*.py) in this folder.",
)
def list_recipes(folder: Path | None) -> None:
    """List the built-in recipes (and the recipe files in a folder)."""
    width = max(len(name) for name in recipes.BUILTIN)
    for name in recipes.BUILTIN:
        click.echo(f"{name:<{width}}  {recipes.describe(name)}")
    if folder is None:
        return
    from gan_cookbook.recipe import load_recipe_file

    start_keras()
    files = sorted(path for path in folder.glob("*.py") if path.name[0] not in "._")
    click.echo(f"\nRecipe files in {folder}:" if files else f"\nNo *.py in {folder}.")
    for path in files:
        try:
            description = load_recipe_file(path).description
        except ValueError as error:
            # A broken file is listed with what is wrong, so the others still show.
            description = f"cannot be loaded: {error}"
        click.echo(f"{str(path):<16} {description}")


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
) -> Cooked:
    """Loads a run folder or a generator file for a command; errors are usage errors.

    ``load_recipe_data``: with ``--recipe``, load its data to learn their identity
    (only ``evaluate`` needs it).
    """
    start_keras()
    from gan_cookbook.sampling import load_cooked

    try:
        cooked = load_cooked(
            run_or_model,
            resolve_recipe(recipe) if recipe is not None else None,
            load_recipe_data=load_recipe_data,
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
    from gan_cookbook.sampling import save_samples

    cooked = load_for_command(run_or_model, recipe, load_recipe_data=False)
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
    from gan_cookbook.sampling import save_interpolation

    cooked = load_for_command(run_or_model, recipe, load_recipe_data=False)
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
    import dataclasses

    from gan_cookbook.data import DataSource
    from gan_cookbook.evaluation import Evaluator, evaluation_data, table

    cooked = load_for_command(run_or_model, recipe)
    raw = None
    if compare_raw:
        if cooked.raw_path is None:
            raise click.UsageError(
                f"--compare-raw: {run_or_model} holds no trained generator beside an "
                f"averaged one (expected {cooked.folder / 'generator_raw.keras'}, "
                "written by a recipe with an average). Received: --compare-raw"
            )
        raw = load_for_command(cooked.raw_path, recipe, load_recipe_data=False)
    # Measured in the generator's channels: an RGB generator of grayscale data
    # against that data in RGB.
    channels = int(cooked.generator.output_shape[-1])
    if data is None and cooked.data is None:
        if cooked.data_description is None:
            raise click.UsageError(
                f"{run_or_model}: no recipe.json tells what it was trained on. Pass "
                "--data PATH or --recipe NAME. Received: a generator without its run "
                "folder"
            )
        raise click.UsageError(
            f"{run_or_model}: trained on {cooked.data_description}, which only its "
            "recipe's own code loads (recipe.json records no data identity). Pass "
            "--data PATH or --recipe NAME."
        )
    try:
        if data is not None:
            source = DataSource.from_path(data, channels=channels)
        else:
            source = dataclasses.replace(cooked.data, channels=channels)
        training, test = source.load_splits()
        check_classes(cooked, training)
        evaluator = Evaluator(evaluation_data(training, test, count, seed))
        metrics = evaluator.measure(cooked.generator, cooked.noise, count, seed)
        if raw is not None:
            raw_metrics = evaluator.measure(raw.generator, raw.noise, count, seed)
    except ValueError as error:
        raise usage_error(error) from None
    metrics["model"] = str(run_or_model)
    metrics["generator"] = cooked.description
    if raw is not None:
        metrics["raw"] = {
            "generator": raw.description,
            "generated": raw_metrics["generated"],
        }
        if "label_accuracy" in raw_metrics:
            metrics["raw"]["label_accuracy"] = raw_metrics["label_accuracy"]
    out = out or cooked.folder / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2))
    click.echo(
        f"{metrics['n']} images of {cooked.description} against {metrics['reference']}"
    )
    click.echo(table(metrics))
    if raw is not None:
        click.echo(f"\nThe same, for {raw.description}:")
        click.echo(table({**metrics, **metrics["raw"]}))
    click.echo(f"Written to {out} ({metrics['seconds']:.1f} s)")


def check_classes(cooked: Cooked, training: Dataset) -> None:
    """Raises a ValueError when a conditional generator would be given labels it
    has no class for: the data it is measured on hold more classes than it draws."""
    classes = training.num_classes
    if cooked.num_classes is None or classes is None:
        return
    if classes > cooked.num_classes:
        raise ValueError(
            f"The generator draws {cooked.num_classes} classes, but "
            f"{training.source} has {classes} (labels 0 to {classes - 1}): measure "
            "it on data of its own classes. Received: labels up to "
            f"{classes - 1}"
        )


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
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="classic",
    show_default=True,
    help="The step to time: classic, or fused (JAX).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    help="Keras dtype policy of the models.  [default: the recipe's]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench(
    recipe: str,
    steps: int,
    batch_size: int | None,
    warmup: int,
    limit: int | None,
    backend: str | None,
    engine: str,
    precision: str | None,
    as_json: bool,
) -> None:
    """Time RECIPE's training step: ms per step and images per second.

    Prepares the recipe's data and models as `cook` does, in a temporary folder,
    runs --warmup steps, then times --steps steps one by one. Keras picks its
    backend when it is first imported, from KERAS_BACKEND; --backend runs the
    benchmark in a fresh process with KERAS_BACKEND set to it.
    """
    if backend is not None and backend != launch.backend_name():
        rerun_on_backend(
            backend,
            ["bench", recipe, "--steps", str(steps), "--warmup", str(warmup)]
            + ["--engine", engine]
            + (["--precision", precision] if precision else [])
            + (["--batch-size", str(batch_size)] if batch_size else [])
            + (["--limit", str(limit)] if limit else [])
            + (["--json"] if as_json else []),
        )
        return
    start_keras()
    from gan_cookbook.bench import benchmark, format_result

    try:
        result = benchmark(
            resolve_recipe(recipe),
            steps=steps,
            batch_size=batch_size,
            warmup=warmup,
            limit=limit,
            engine=engine,
            precision=precision,
        )
    except ValueError as error:
        raise usage_error(error) from None
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


TUNE_ORACLES = ("random", "bayesian")
"""``gan_cookbook.tune.ORACLES``, named here: ``--help`` starts no Keras backend."""


@main.command(name="tune")
@click.argument("recipe")
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    required=True,
    metavar="N",
    help="Trials in all (a search continued with more extends it).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help="Epochs each trial cooks.  [default: the recipe's]",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="K",
    help="Each trial trains on the first K images only.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Train on this instead, as cook's --data; its test split, when it has one, "
    "is what each trial is measured against.",
)
@click.option(
    "--resize",
    type=click.Choice(list(RESIZE_METHODS)),
    help="How --data images of another size become 28x28.  "
    f"[default: {DEFAULT_RESIZE}]",
)
@click.option(
    "--skip-bad-images",
    is_flag=True,
    default=None,
    help="Leave out files in a --data folder that cannot be read as images.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="The search folder: new, empty, or a search to continue.",
)
@click.option(
    "--n",
    "count",
    type=click.IntRange(min=2),
    default=10000,
    show_default=True,
    metavar="N",
    help="Generated and real images each trial's Fréchet distance compares.",
)
@click.option(
    "--oracle",
    type=click.Choice(TUNE_ORACLES),
    default="random",
    show_default=True,
    help="KerasTuner's random search, or its Bayesian optimisation (needs "
    'scikit-learn: pip install "gan-cookbook[bayesian]").',
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the search's draws (each trial cooks with the recipe's seed).",
)
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Cook the recipe's own settings as the first trial, where the space holds "
    "them.",
)
@click.option(
    "--chief-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a worker waits for its chief (KERASTUNER_ORACLE_IP and _PORT).",
)
@click.option("--quiet", is_flag=True, help="Print only the table at the end.")
def tune_recipe(recipe: str, out: Path, quiet: bool, **options: Any) -> None:
    """Search RECIPE's settings with KerasTuner: each trial cooks it into
    OUT/trials/<id> and is measured by its Fréchet distance; the end prints and
    writes a table of every trial and OUT/best_recipe.py.

    The search space is the SEARCH of RECIPE's file, else the default (D's and G's
    learning rates, beta_1, batch size, noise size and distribution, the average's
    decay). The same command run again continues a stopped search. With
    KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT set, one
    process (ID "chief") serves the search and the others run its trials.
    """
    try:
        resolved = resolve_recipe(recipe)
    except ValueError as error:
        raise usage_error(error) from None
    from gan_cookbook.tune import SearchStopped, tune

    context = click.get_current_context()
    again = repeat_command(context, [recipe])
    context.meta[INTERRUPTED] = lambda: (
        f"Stopped: {out} keeps every finished trial. Continue the search with: {again}"
    )
    try:
        result = tune(resolved, out=out, verbose=0 if quiet else 1, **options)
    except ValueError as error:
        # This command's flags only: a search space's `batch_size` is no flag here.
        message = name_flags(str(error), flags_of(context.command))
        raise click.UsageError(message) from None
    except SearchStopped as stopped:
        click.echo(f"{stopped} Continue it with: {again}", err=True)
        sys.exit(stopped.exit_code)
    if result.role.kind == "worker":
        ran = ", ".join(result.ran) or "none"
        click.echo(
            f"No trials left. This worker ran trials: {ran}; the chief at "
            f"{result.role.address} writes the table."
        )
        return
    click.echo(f"\nEvery trial ({out / 'trials.md'}, {out / 'trials.csv'}):\n")
    click.echo(result.table)
    if result.best is None:
        click.echo("\nNo trial completed: no best_recipe.py.")
    elif result.best_recipe is None:
        click.echo(
            f"\nBest: trial {result.best['trial']}, Fréchet distance "
            f"{result.best['frechet_distance']:.2f}. {resolved.name} was made in "
            "Python, so no recipe file can import it: no best_recipe.py."
        )
    else:
        click.echo(
            f"\nBest: trial {result.best['trial']}, Fréchet distance "
            f"{result.best['frechet_distance']:.2f} (N = {options['count']:,}). Its "
            f"settings are in {result.best_recipe}; cook it with: gan-cookbook cook "
            f"{shlex.quote(str(result.best_recipe))}"
        )


def repeat_command(context: click.Context, arguments: Sequence[str]) -> str:
    """The command line of ``context`` again: its ``arguments`` and every option
    given on the command line (or by its environment variable)."""
    words = ["gan-cookbook", context.info_name or "", *arguments]
    for param in context.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        source = context.get_parameter_source(param.name)
        if source not in (
            click.core.ParameterSource.COMMANDLINE,
            click.core.ParameterSource.ENVIRONMENT,
        ):
            continue
        value = context.params[param.name]
        if param.is_flag and param.secondary_opts:
            words.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.is_flag:
            if value:
                words.append(param.opts[0])
        else:
            words += [max(param.opts, key=len), str(value)]
    return shlex.join(words)
