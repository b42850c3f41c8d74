"""Timing the training step: ``gan-cookbook bench`` and :func:`benchmark`.

A benchmark loads a recipe's data and builds its models and trainer exactly as cooking
does (:func:`~gan_cookbook.gan_model.build_gan_model`), without a run folder, copies
the images to the device once, and times :meth:`GANTrainer.train_step` step by step on
batches sliced on the device, as :meth:`GANTrainer.fit` feeds them. Each step ends
with ``train_on_batch``'s own loss fetch, a host sync, so a step's wall time is the
time the device needed for it.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

import keras
import numpy as np
from keras import ops

from gan_cookbook import backend
from gan_cookbook.checks import check_integer
from gan_cookbook.choices import DEFAULT_STEPS, DEFAULT_WARMUP
from gan_cookbook.options import CookOptions
from gan_cookbook.recipe import Recipe
from gan_cookbook.training import build_trainer, load_training_data


class _Calls:
    """Runs a trainer's calls (:meth:`~gan_cookbook.loop.GANTrainer.train_block`)
    over an epoch's batches, cycling, each call of ``steps_per_execution`` steps:
    every call has the shape the warm-up compiled."""

    def __init__(self, trainer: Any, batches: Any, epoch_steps: int):
        self.trainer, self.batches = trainer, batches
        self.per_call = trainer.steps_per_execution
        # Only whole calls: a shorter one would compile while being timed.
        self.span = epoch_steps // self.per_call * self.per_call
        self.position = 0
        self.count = 0

    def run(self) -> int:
        """Runs one call; returns its steps."""
        end = self.position + self.per_call
        steps = len(self.trainer.train_block(self.batches, self.position, end))
        self.position += steps
        if self.position + self.per_call > self.span:
            self.position = 0
        self.count += 1
        return steps


def cpu_name() -> str:
    """The CPU's model name, as the operating system reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: fall back on what the platform module knows
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def machine() -> dict[str, Any]:
    """The device, backend and versions a benchmark ran with.

    :func:`gan_cookbook.backend.describe_device`'s keys, plus ``cpu`` (the CPU's
    model name), ``cpu_cores``, and the Keras, NumPy and Python versions.
    """
    return {
        **backend.describe_device(),
        "cpu": cpu_name(),
        "cpu_cores": cpu_cores(),
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
    steps_per_execution: int = 1,
) -> dict[str, Any]:
    """Times ``recipe``'s training step on the running Keras backend.

    Nothing is written to disk.

    Args:
        recipe: The recipe whose data, models and optimizers are timed.
        steps: Timed steps. Defaults to 50.
        batch_size: Real images per D update (D sees as many fakes); a step
            takes the recipe's ``d_steps`` of them. Defaults to the recipe's.
        warmup: Steps run first and not timed: they trace and compile the train
            functions. Defaults to 5.
        limit: Use the first ``limit`` images only (steps cycle over them).
            Defaults to all.
        engine: ``"classic"`` or ``"fused"`` (JAX only). Defaults to ``"classic"``.
        precision: ``"float32"`` or ``"mixed_bfloat16"``. Defaults to the recipe's.
        steps_per_execution: Whole steps a compiled call runs (the fused
            engine's); each step is timed as its call's time over its steps, and
            ``steps`` and ``warmup`` are rounded up to whole calls. Defaults to 1.

    Returns:
        A dict: ``recipe``, ``engine``, ``steps_per_execution``, ``precision``,
        ``batch_size``,
        ``d_steps``, ``steps``,
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
    steps = check_integer("steps", steps, 1)
    warmup = check_integer("warmup", warmup, 0)
    recipe = recipe.replace(batch_size=batch_size, precision=precision)
    dataset, num_classes = load_training_data(recipe, CookOptions(limit=limit))
    batch_size = recipe.batch_size
    # A step trains D d_steps times, each on its own batch.
    block = batch_size * recipe.d_steps
    # A decaying recipe's rates fall to 0 at the last step timed.
    _, trainer = build_trainer(
        recipe,
        dataset,
        num_classes,
        engine,
        steps=warmup + steps,
        steps_per_execution=steps_per_execution,
    )
    epoch_steps = len(dataset.images) // block
    if trainer.steps_per_execution > epoch_steps:
        raise ValueError(
            "`steps_per_execution` must be at most the steps of an epoch "
            f"({epoch_steps}: {len(dataset.images)} images in steps of {block}). "
            f"Received: steps_per_execution={trainer.steps_per_execution}"
        )
    images = ops.convert_to_tensor(dataset.images, dtype="float32")
    labels = None
    if num_classes is not None:
        labels = trainer.check_labels(dataset.labels, len(dataset.images))
        labels = ops.convert_to_tensor(labels, dtype="int32")
    calls = _Calls(trainer, trainer.epoch_batches(images, block, labels), epoch_steps)
    # The fused engine compiles its step (or its call of several steps) during the
    # first warm-up call; two calls make sure a timed one compiles nothing.
    warmed = 0
    while warmed < warmup or (trainer.steps_per_execution > 1 and calls.count < 2):
        warmed += calls.run()
    step_seconds: list[float] = []
    started = time.perf_counter()
    while len(step_seconds) < steps:
        call_started = time.perf_counter()
        call_steps = calls.run()
        seconds = time.perf_counter() - call_started
        step_seconds.extend([seconds / call_steps] * call_steps)
    total_seconds = time.perf_counter() - started
    steps, warmup = len(step_seconds), warmed
    median = statistics.median(step_seconds)
    return {
        "recipe": recipe.name,
        "engine": engine,
        "steps_per_execution": trainer.steps_per_execution,
        "precision": recipe.precision,
        "batch_size": batch_size,
        "d_steps": recipe.d_steps,
        "steps": steps,
        "warmup": warmup,
        "images": int(len(dataset.images)),
        "ms_per_step_median": median * 1000,
        "ms_per_step_mean": statistics.fmean(step_seconds) * 1000,
        "ms_per_step_min": min(step_seconds) * 1000,
        "images_per_second": block / median,
        "images_per_second_overall": block * steps / total_seconds,
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


def calls_phrase(steps_per_execution: int) -> str:
    """`` (K steps a call)`` for K above 1, else nothing."""
    if steps_per_execution == 1:
        return ""
    return f" ({steps_per_execution} steps a call)"


def format_result(result: dict[str, Any]) -> str:
    """The benchmark's figures as a few lines of text, for the command line."""
    d_steps = result.get("d_steps", 1)
    batch = f"batch {result['batch_size']}"
    if d_steps > 1:
        batch += f" x {d_steps} D updates a step"
    return "\n".join(
        [
            f"{result['recipe']}, {batch}, "
            f"{result['machine']['backend']} backend, {result['engine']} engine"
            f"{calls_phrase(result.get('steps_per_execution', 1))}, "
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
