"""The fixed host cost of one training step: what bounds the classic loop on a GPU.

Times the step with models so small (G: Dense 2 -> 4, D: Dense 4 -> 1) that their
arithmetic is negligible, so what is left is the per-step cost of the host: Python,
Keras' bookkeeping around each ``train_on_batch`` (building its data, resetting
metrics from host scalars, syncing the state back into the variables, fetching the
logs) and the launches. A GPU step cannot take less than this plus the device's own
time, so it shows what the classic loop can reach against plain PyTorch eager.

Each case runs in its own process (Keras fixes its backend per process):

    python benchmarks/host_cost.py                 # every installed backend
    python benchmarks/host_cost.py --steps 500 --backends jax
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

# benchmarks/run.py, beside this script
from run import child_environment

ROOT = Path(__file__).resolve().parent.parent
BATCH = 4


def median_ms(step, steps: int) -> float:
    for _ in range(10):
        step()
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000


def keras_case(engine: str, metrics: bool, steps: int) -> dict[str, float]:
    """Ours: GANTrainer.train_step, and each of its three calls on its own."""
    import keras
    from keras import layers, ops

    from gan_cookbook.gan_model import (
        GANModel,
        discriminator_metrics,
        make_trainer,
        stack,
    )

    keras.utils.set_random_seed(0)
    noise = keras.Input((2,))
    images = layers.Reshape((2, 2, 1))(layers.Dense(4, activation="tanh")(noise))
    generator = keras.Model(noise, images)
    image = keras.Input((2, 2, 1))
    probability = layers.Dense(1, activation="sigmoid")(layers.Flatten()(image))
    discriminator = keras.Model(image, probability)
    discriminator.compile(
        optimizer=keras.optimizers.Adam(2e-4),
        loss="binary_crossentropy",
        metrics=discriminator_metrics() if metrics else None,
    )
    d_on_g = stack(generator, discriminator, keras.optimizers.Adam(2e-4))
    gan_model = GANModel(generator, discriminator, d_on_g)
    trainer = make_trainer(gan_model, seed=0, engine=engine)
    real = ops.convert_to_tensor(keras.random.uniform((BATCH, 2, 2, 1)))
    trainer.train_step(real)  # builds, and compiles the fused step
    figures = {"step": median_ms(lambda: trainer.train_step(real), steps)}
    if engine == "classic":
        d_labels, g_labels = trainer.labels_for(BATCH)
        d_images, g_noise = trainer.make_fake_batch(real)

        def train_discriminator():
            discriminator.trainable = True
            discriminator.train_on_batch(d_images, d_labels)

        def train_generator():
            discriminator.trainable = False
            d_on_g.train_on_batch(g_noise, g_labels)

        figures["D.train_on_batch"] = median_ms(train_discriminator, steps)
        figures["d_on_g.train_on_batch"] = median_ms(train_generator, steps)
    return figures


def torch_case(steps: int) -> dict[str, float]:
    """Plain PyTorch eager: the reference's own step, with the same tiny models."""
    import torch
    from torch import nn
    from torch_reference import ReferenceGAN  # benchmarks/, beside this script

    torch.manual_seed(0)
    gan = ReferenceGAN(
        noise_dim=2,
        generator=nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Unflatten(1, (1, 2, 2))),
        discriminator=nn.Sequential(nn.Flatten(), nn.Linear(4, 1), nn.Sigmoid()),
    )
    real = torch.rand(BATCH, 1, 2, 2, device=gan.device)
    return {"step": median_ms(lambda: gan.train_step(real), steps)}


def choose_cases(backends: list[str]) -> list[tuple]:
    """(name, Keras backend or None for plain PyTorch, engine, D's metrics) rows."""
    cases: list[tuple] = []
    for backend in backends:
        if importlib.util.find_spec(backend) is None:
            continue
        cases.append((f"Keras on {backend}, classic", backend, "classic", True))
        cases.append(
            (
                f"Keras on {backend}, classic, D without metrics",
                backend,
                "classic",
                False,
            )
        )
        if backend == "jax":
            cases.append(("Keras on jax, fused", "jax", "fused", True))
    if importlib.util.find_spec("torch") is not None:
        cases.append(("plain PyTorch eager", None, None, None))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in a child
    arguments = parser.parse_args()
    if arguments.steps < 1:
        parser.error(f"--steps must be at least 1. Received: {arguments.steps}")
    if arguments.case:
        backend, engine, metrics = json.loads(arguments.case)
        figures = (
            torch_case(arguments.steps)
            if backend is None
            else keras_case(engine, metrics, arguments.steps)
        )
        print(json.dumps(figures))
        return
    cases = choose_cases(arguments.backends.split(","))
    print("| case | ms per step | D.train_on_batch | d_on_g.train_on_batch |")
    print("| --- | ---: | ---: | ---: |")
    for name, backend, engine, metrics in cases:
        environment = child_environment()
        if backend is not None:
            environment["KERAS_BACKEND"] = backend
        result = subprocess.run(
            [sys.executable, __file__, "--steps", str(arguments.steps), "--case",
             json.dumps([backend, engine, metrics])],
            env=environment, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        if result.returncode:
            sys.exit(f"{name} failed:\n{result.stderr[-3000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        parts = [
            f"{figures[key]:.2f}" if key in figures else ""
            for key in ("step", "D.train_on_batch", "d_on_g.train_on_batch")
        ]
        print(f"| {name} | {' | '.join(parts)} |", flush=True)


if __name__ == "__main__":
    main()
