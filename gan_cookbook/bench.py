"""Timing the training step: ``gan-cookbook bench`` and :func:`benchmark`.

A benchmark prepares a recipe's run exactly as cooking does (same data, models,
optimizers and trainer) in a temporary folder, copies the images to the device once,
and times :meth:`GANTrainer.train_step` step by step on batches sliced on the device,
as :meth:`GANTrainer.fit` feeds them. Each step ends with ``train_on_batch``'s own
loss fetch, a host sync, so a step's wall time is the time the device needed for it.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from gan_cookbook import backend
from gan_cookbook.cook import prepare
from gan_cookbook.recipe import Recipe

DEFAULT_STEPS = 50
DEFAULT_WARMUP = 5


def _check_steps(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(
            f"`{name}` must be at least {minimum}. Received: {name}={value}"
        )
    return int(value)


def machine() -> dict[str, Any]:
    """The device, backend and versions a benchmark ran with."""
    device = backend.describe_device()
    return {
        **device,
        "keras_version": keras.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }


def benchmark(
    recipe: Recipe,
    *,
    steps: int = DEFAULT_STEPS,
    batch_size: int | None = None,
    warmup: int = DEFAULT_WARMUP,
    limit: int | None = None,
    engine: str = "classic",
    precision: str | None = None,
) -> dict[str, Any]:
    """Times ``recipe``'s training step on the running Keras backend.

    Nothing is written outside a temporary folder, which is removed afterwards.

    Args:
        recipe: The recipe whose data, models and optimizers are timed.
        steps: Timed steps. Defaults to 50.
        batch_size: Real images per step (D sees as many fakes). Defaults to the
            recipe's.
        warmup: Steps run first and not timed: they trace and compile the train
            functions. Defaults to 5.
        limit: Use the first ``limit`` images only (steps cycle over them).
            Defaults to all.
        engine: ``"classic"`` or ``"fused"`` (JAX only). Defaults to ``"classic"``.
        precision: ``"float32"`` or ``"mixed_bfloat16"``. Defaults to the recipe's.

    Returns:
        A dict: ``recipe``, ``engine``, ``precision``, ``batch_size``, ``steps``,
        ``warmup``, ``images`` (the training images on the device),
        ``ms_per_step_median`` and
        ``ms_per_step_mean`` (over the timed steps, each timed on its own),
        ``ms_per_step_min``, ``images_per_second`` (real images per step over the
        median step's seconds), ``images_per_second_overall`` (real images over the
        whole timed stretch), ``step_ms`` (every timed step) and ``machine`` (see
        :func:`machine`).

    Raises:
        ValueError: a setting is out of range; the message names it.
    """
    steps = _check_steps("steps", steps, 1)
    warmup = _check_steps("warmup", warmup, 0)
    with tempfile.TemporaryDirectory(prefix="gan-cookbook-bench-") as folder:
        run = prepare(
            recipe,
            out=Path(folder) / "run",
            batch_size=batch_size,
            limit=limit,
            verbose=0,
            engine=engine,
            precision=precision,
        )
        trainer = run.trainer
        batch_size = run.recipe.batch_size
        images = ops.convert_to_tensor(run.dataset.images, dtype="float32")
        steps_per_epoch = int(ops.shape(images)[0]) // batch_size
        # The fused engine compiles its step during the first warm-up step.
        step = trainer.train_step
        batches = trainer._shuffled_batches(images, steps_per_epoch, batch_size)
        for index in range(warmup):
            step(batches[index % steps_per_epoch])
        step_seconds = []
        started = time.perf_counter()
        for index in range(warmup, warmup + steps):
            batch = batches[index % steps_per_epoch]
            step_started = time.perf_counter()
            step(batch)
            step_seconds.append(time.perf_counter() - step_started)
        total_seconds = time.perf_counter() - started
    median = statistics.median(step_seconds)
    return {
        "recipe": run.recipe.name,
        "engine": engine,
        "precision": run.recipe.precision,
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "images": int(len(run.dataset.images)),
        "ms_per_step_median": median * 1000,
        "ms_per_step_mean": statistics.fmean(step_seconds) * 1000,
        "ms_per_step_min": min(step_seconds) * 1000,
        "images_per_second": batch_size / median,
        "images_per_second_overall": batch_size * steps / total_seconds,
        "step_ms": [seconds * 1000 for seconds in step_seconds],
        "machine": machine(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """One line naming the device, backend and versions."""
    device = machine["accelerator"] or f"CPU only, {machine['cpu']}"
    return (
        f"{device} ({machine['cpu_cores']} CPU cores); Keras "
        f"{machine['keras_version']} on {machine['framework']} "
        f"{machine['framework_version']}, NumPy {machine['numpy_version']}, "
        f"Python {machine['python_version']}"
    )


def format_result(result: dict[str, Any]) -> str:
    """The benchmark's figures as a few lines of text, for the command line."""
    return "\n".join(
        [
            f"{result['recipe']}, batch {result['batch_size']}, "
            f"{result['machine']['backend']} backend, {result['engine']} engine, "
            f"{result['precision']}: "
            f"{result['steps']} timed steps after {result['warmup']} warm-up steps "
            f"on {result['images']} images",
            f"  ms per step   median {result['ms_per_step_median']:.2f}, "
            f"mean {result['ms_per_step_mean']:.2f}, "
            f"min {result['ms_per_step_min']:.2f}",
            f"  images/s      {result['images_per_second']:,.0f} (median step), "
            f"{result['images_per_second_overall']:,.0f} (all timed steps)",
            f"  machine       {machine_line(result['machine'])}",
        ]
    )
