"""The commands that measure and search: ``bench`` and ``tune``."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from gan_cookbook import launch
from gan_cookbook.choices import (
    BACKENDS,
    DEFAULT_STEPS,
    DEFAULT_WARMUP,
    ENGINES,
    ORACLES,
    PRECISIONS,
)
from gan_cookbook.cli.common import (
    INTERRUPTED,
    Interruptible,
    flags_of,
    name_flags,
    repeat_command,
    resolve_recipe,
    start_keras,
    usage_error,
)
from gan_cookbook.pixels import DEFAULT_RESIZE, RESIZE_METHODS


@click.command(cls=Interruptible)
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
    "--steps-per-execution",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="K",
    help="Whole steps one compiled call runs (--engine fused); each step is timed "
    "as its call's time over K.",
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
    steps_per_execution: int,
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
            + (
                ["--steps-per-execution", str(steps_per_execution)]
                if steps_per_execution != 1
                else []
            )
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
            steps_per_execution=steps_per_execution,
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


@click.command(name="tune", cls=Interruptible)
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
    type=click.Choice(ORACLES),
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
@click.option(
    "--worker-timeout",
    type=click.FloatRange(min=10),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long the chief waits for word from a worker in a trial before it "
    "records the trial as failed and gives up on the worker.",
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
