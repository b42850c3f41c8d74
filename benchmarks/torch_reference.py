"""Plain PyTorch (no Keras) of the cooking DCGAN and its classic step: the reference.

The same layers as ``gan_cookbook.models.cooking_generator`` and
``cooking_discriminator`` (channels first, as PyTorch lays out images), the same
initialisation (Glorot uniform weights, zero biases, BatchNorm at 1 and 0), BatchNorm
with Keras' momentum 0.99 (PyTorch counts it the other way: 0.01) and epsilon 1e-3,
and the same step as ``GANTrainer.train_step``:

1. uniform noise of 10 drawn on the device, fakes made by G in training mode without
   a gradient (G's BatchNorm uses and updates the batch statistics);
2. D trained on real and fake images, labelled 1 and 0, with binary cross-entropy;
3. G trained through D, whose weights get no gradient, on fresh noise labelled 1;

each with its own Adam(2e-4, beta_1=0.5, epsilon 1e-7 as Keras'), and both losses
fetched to the host at the end of the step, as ``train_on_batch`` does.

``--precision mixed_bfloat16`` runs the forward passes under ``torch.autocast`` with
bfloat16, PyTorch's counterpart of Keras' policy: float32 weights, bfloat16
arithmetic, the loss taken in float32.

``--compile MODE`` runs the same models and step with G and D wrapped in
``torch.compile(mode=MODE)``; ``--compile`` alone is ``torch.compile``'s default
mode, and ``--compile reduce-overhead`` adds CUDA graphs on a GPU (on a CPU that mode
compiles with Inductor and runs without them). The losses and optimizer steps stay
eager, as in the eager step. Compiling happens during the warm-up steps, which are
never timed, and a compiled run warms up for at least ``COMPILED_WARMUP`` steps. Eager
stays the default.

    python benchmarks/torch_reference.py --batch-size 128 --steps 50
    python benchmarks/torch_reference.py --batch-size 128 --steps 50 \
        --compile reduce-overhead
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

MNIST = Path(__file__).resolve().parent.parent / "gan_cookbook" / "data" / "mnist.npz"
PRECISIONS = ("float32", "mixed_bfloat16")
# torch.compile's modes; None (eager) is the default everywhere.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
# Compiled G and D are traced again for each new call pattern (D on 2B then B images,
# G without and with a gradient), and CUDA graphs record on a call after their first:
# three steps run every one of them before the timing starts.
COMPILED_WARMUP = 3


class CompileError(RuntimeError):
    """torch.compile could not compile the step on this machine."""


def _keras_init(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


def _batch_norm(features: int, dimensions: int) -> nn.Module:
    kind = nn.BatchNorm1d if dimensions == 1 else nn.BatchNorm2d
    return kind(features, eps=1e-3, momentum=0.01)


class Generator(nn.Sequential):
    """Dense(128*7*7) -> BN -> LeakyReLU(0.2) -> (128, 7, 7) -> ConvT(64, 2, /2) ->
    Conv(64, 3) -> BN -> ReLU -> ConvT(64, 2, /2) -> Conv(channels, 5) -> tanh."""

    def __init__(self, noise_dim: int = 10, channels: int = 1, size: int = 28):
        seed = size // 4
        super().__init__(
            nn.Linear(noise_dim, 128 * seed * seed),
            _batch_norm(128 * seed * seed, 1),
            nn.LeakyReLU(0.2),
            nn.Unflatten(1, (128, seed, seed)),
            nn.ConvTranspose2d(128, 64, 2, stride=2),
            nn.Conv2d(64, 64, 3, padding=1),
            _batch_norm(64, 2),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 64, 2, stride=2),
            nn.Conv2d(64, channels, 5, padding=2),
            nn.Tanh(),
        )
        _keras_init(self)


class Discriminator(nn.Sequential):
    """Conv(64, 5) -> LeakyReLU(0.2) -> MaxPool(2) -> Conv(128, 5) -> LeakyReLU(0.2)
    -> MaxPool(2) -> Flatten -> Dense(1) -> sigmoid."""

    def __init__(self, channels: int = 1, size: int = 28):
        super().__init__(
            nn.Conv2d(channels, 64, 5, padding=2),
            nn.LeakyReLU(0.2),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 5, padding=2),
            nn.LeakyReLU(0.2),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(128 * (size // 4) ** 2, 1),
            nn.Sigmoid(),
        )
        _keras_init(self)


def parameter_count(module: nn.Module) -> int:
    """Weights plus BatchNorm's moving statistics, as Keras' ``count_params`` counts."""
    buffers = sum(
        buffer.numel()
        for name, buffer in module.named_buffers()
        if not name.endswith("num_batches_tracked")
    )
    return sum(parameter.numel() for parameter in module.parameters()) + buffers


class ReferenceGAN:
    """G, D, their optimizers and the classic two-phase step, in plain PyTorch.

    Args:
        noise_dim: G's input size. Defaults to 10.
        device: Where to compute. Defaults to the first CUDA device, else the CPU.
        compile_mode: Wrap G and D in ``torch.compile`` with this mode, one of
            ``COMPILE_MODES``. Defaults to None (eager).
        seed: Seeds the weights and the noise. Defaults to 0.
        precision: ``"float32"`` or ``"mixed_bfloat16"`` (forward passes under
            ``torch.autocast`` with bfloat16). Defaults to ``"float32"``.
        generator: Another G to run the same step with (``host_cost.py`` times it
            with tiny models). Defaults to the cooking :class:`Generator`.
        discriminator: Another D. Defaults to the cooking :class:`Discriminator`.
    """

    def __init__(
        self,
        noise_dim: int = 10,
        device: str | torch.device | None = None,
        compile_mode: str | None = None,
        seed: int = 0,
        precision: str = "float32",
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
    ):
        if precision not in PRECISIONS:
            raise ValueError(
                f"`precision` must be one of {', '.join(PRECISIONS)}. "
                f"Received: precision={precision!r}"
            )
        if compile_mode is not None and compile_mode not in COMPILE_MODES:
            raise ValueError(
                f"`compile_mode` must be None (eager) or one of "
                f"{', '.join(COMPILE_MODES)}. Received: compile_mode={compile_mode!r}"
            )
        self.precision = precision
        self.compile_mode = compile_mode
        torch.manual_seed(seed)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.noise_dim = noise_dim
        generator = generator if generator is not None else Generator(noise_dim)
        discriminator = discriminator if discriminator is not None else Discriminator()
        self.generator = generator.to(self.device).train()
        self.discriminator = discriminator.to(self.device).train()
        self.generator_optimizer = torch.optim.Adam(
            self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7
        )
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7
        )
        self.run_generator, self.run_discriminator = (
            (
                torch.compile(self.generator, mode=compile_mode),
                torch.compile(self.discriminator, mode=compile_mode),
            )
            if compile_mode is not None
            else (self.generator, self.discriminator)
        )
        self.loss = nn.BCELoss()
        self._labels: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _labels_for(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if batch_size not in self._labels:
            ones = torch.ones(batch_size, 1, device=self.device)
            zeros = torch.zeros(batch_size, 1, device=self.device)
            self._labels[batch_size] = (torch.cat([ones, zeros]), ones)
        return self._labels[batch_size]

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def make_fakes(self, real_images: torch.Tensor) -> torch.Tensor:
        """Real images followed by as many fakes from G in training mode."""
        with torch.no_grad(), self._autocast():
            noise = torch.rand(real_images.shape[0], self.noise_dim, device=self.device)
            fakes = self.run_generator(noise)
        return torch.cat([real_images, fakes.float()])

    def discriminator_step(self, images: torch.Tensor) -> torch.Tensor:
        """Trains D on real then fake images (labels 1 and 0); returns the loss."""
        d_labels, _ = self._labels_for(images.shape[0] // 2)
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            probabilities = self.run_discriminator(images)
        # Outside autocast: PyTorch refuses BCELoss under it.
        loss = self.loss(probabilities.float(), d_labels)
        loss.backward()
        self.discriminator_optimizer.step()
        return loss

    def generator_step(self, batch_size: int) -> torch.Tensor:
        """Trains G through D on fresh noise labelled 1; D's weights do not move."""
        _, g_labels = self._labels_for(batch_size)
        # D is frozen for G's update: no gradient for its weights, as in d_on_g.
        self.discriminator.requires_grad_(False)
        self.generator_optimizer.zero_grad(set_to_none=True)
        noise = torch.rand(batch_size, self.noise_dim, device=self.device)
        with self._autocast():
            probabilities = self.run_discriminator(self.run_generator(noise))
        loss = self.loss(probabilities.float(), g_labels)
        loss.backward()
        self.generator_optimizer.step()
        self.discriminator.requires_grad_(True)
        return loss

    def train_step(self, real_images: torch.Tensor) -> dict[str, float]:
        """One D update on real and fake images, then one G update through D."""
        if self.compile_mode == "reduce-overhead":
            # CUDA graphs reuse their output memory from one replay to the next; this
            # says that nothing from the previous step is still read, as is the case.
            torch.compiler.cudagraph_mark_step_begin()
        d_loss = self.discriminator_step(self.make_fakes(real_images))
        g_loss = self.generator_step(real_images.shape[0])
        # The host fetch that train_on_batch makes for its logs, and the step's sync.
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}


def load_images(limit: int | None = None) -> np.ndarray:
    """The package's MNIST training images, float32 in [-1, 1], shape (N, 1, 28, 28)."""
    with np.load(MNIST) as data:
        images = data["x_train"][:limit]
    return (images.astype("float32") / 127.5 - 1.0)[:, None]


def describe_device(device: torch.device) -> dict[str, Any]:
    """The device and versions, with the keys ``gan_cookbook.bench.machine`` uses."""
    import os

    accelerator = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in cpuinfo
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass  # keep the platform module's name
    return {
        "backend": "plain PyTorch",
        "framework": "torch",
        "framework_version": torch.__version__,
        "device": device.type,
        "accelerator": accelerator,
        "cpu": cpu,
        "cpu_cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }


def implementation_name(compile_mode: str | None) -> str:
    """``torch eager``, ``torch.compile`` (its default mode) or ``torch.compile
    MODE``."""
    if compile_mode is None:
        return "torch eager"
    if compile_mode == "default":
        return "torch.compile"
    return f"torch.compile {compile_mode}"


def benchmark(
    *,
    steps: int = 50,
    batch_size: int = 128,
    warmup: int = 5,
    limit: int | None = None,
    compile_mode: str | None = None,
    precision: str = "float32",
) -> dict[str, Any]:
    """Times :meth:`ReferenceGAN.train_step` as ``gan_cookbook.bench`` times ours.

    The images go to the device once and are shuffled there; each step is timed on
    its own and ends with the loss fetch. With ``compile_mode``, G and D run under
    ``torch.compile(mode=compile_mode)`` and the warm-up is at least
    ``COMPILED_WARMUP`` steps, so that no compilation is timed.

    Raises:
        ValueError: a setting is out of range; the message names it.
        CompileError: torch.compile failed on this machine; the message gives the
            mode and PyTorch's reason.
    """
    if steps < 1 or warmup < 0 or batch_size < 1:
        raise ValueError(
            "`steps` and `batch_size` must be at least 1 and `warmup` at least 0. "
            f"Received: steps={steps}, batch_size={batch_size}, warmup={warmup}"
        )
    if compile_mode is not None:
        # Compiled code is cached per Python function, and G and D share
        # nn.Sequential's forward with every model an earlier benchmark in this
        # process compiled: past the cache's limit, torch.compile would fall back to
        # eager without a word.
        torch.compiler.reset()
        warmup = max(warmup, COMPILED_WARMUP)
    gan = ReferenceGAN(compile_mode=compile_mode, precision=precision)
    images = torch.from_numpy(load_images(limit)).to(gan.device)
    steps_per_epoch = images.shape[0] // batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"`batch_size` must be at most the {images.shape[0]} images. "
            f"Received: batch_size={batch_size}"
        )
    order = torch.randperm(images.shape[0], device=gan.device)
    batches = images[order[: steps_per_epoch * batch_size]].reshape(
        steps_per_epoch, batch_size, *images.shape[1:]
    )
    try:
        for index in range(warmup):
            gan.train_step(batches[index % steps_per_epoch])
    except Exception as error:
        if compile_mode is None:
            raise
        # torch.compile compiles on the first call, and what it lacks (a C++
        # compiler for Inductor on a CPU, Triton on a GPU) shows up only then.
        reason = str(error).strip().splitlines() or [type(error).__name__]
        raise CompileError(
            f"torch.compile(mode={compile_mode!r}) could not compile the step on "
            f"{gan.device.type}: {type(error).__name__}: {reason[0]}"
        ) from error
    step_seconds = []
    started = time.perf_counter()
    for index in range(warmup, warmup + steps):
        batch = batches[index % steps_per_epoch]
        step_started = time.perf_counter()
        gan.train_step(batch)
        step_seconds.append(time.perf_counter() - step_started)
    total_seconds = time.perf_counter() - started
    median = statistics.median(step_seconds)
    return {
        "recipe": "mnist",
        "implementation": implementation_name(compile_mode),
        "precision": precision,
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "images": int(images.shape[0]),
        "ms_per_step_median": median * 1000,
        "ms_per_step_mean": statistics.fmean(step_seconds) * 1000,
        "ms_per_step_min": min(step_seconds) * 1000,
        "images_per_second": batch_size / median,
        "images_per_second_overall": batch_size * steps / total_seconds,
        "step_ms": [seconds * 1000 for seconds in step_seconds],
        "machine": describe_device(gan.device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="timed steps")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps")
    parser.add_argument("--limit", type=int, help="use the first N images only")
    parser.add_argument(
        "--compile",
        nargs="?",
        const="default",
        choices=COMPILE_MODES,
        metavar="MODE",
        help="torch.compile G and D with MODE: default (the mode when none is "
        "given), reduce-overhead (CUDA graphs on a GPU), max-autotune; eager if "
        "left out",
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--json", action="store_true", help="print JSON")
    arguments = parser.parse_args()
    try:
        result = benchmark(
            steps=arguments.steps,
            batch_size=arguments.batch_size,
            warmup=arguments.warmup,
            limit=arguments.limit,
            compile_mode=arguments.compile,
            precision=arguments.precision,
        )
    except ValueError as error:
        parser.error(str(error))
    except CompileError as error:
        raise SystemExit(f"torch_reference.py: {error}") from None
    if arguments.json:
        print(json.dumps(result, indent=2))
    else:
        device = result["machine"]["accelerator"] or result["machine"]["cpu"]
        print(
            f"{result['implementation']}, {result['precision']}, batch "
            f"{result['batch_size']}: "
            f"{result['ms_per_step_median']:.2f} ms per step (median, mean "
            f"{result['ms_per_step_mean']:.2f}), {result['images_per_second']:,.0f} "
            f"images/s on {device}"
        )


if __name__ == "__main__":
    main()
