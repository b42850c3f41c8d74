"""Generating images to measure or show, and the names of what is measured.

The one place that draws noise and labels and generates images, for measuring
(:mod:`gan_cookbook.evaluation.measure`), for the ``--eval-every`` callback
(:mod:`gan_cookbook.callbacks`) and for ``sample`` and ``interpolate``
(:mod:`gan_cookbook.sampling`). It imports nothing of the package, so that each of
those can import it without importing the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np

if TYPE_CHECKING:
    from gan_cookbook.noise import Noise

FRECHET_KEY = "frechet_distance"
"""The column of ``history.csv`` (and the key in Keras' logs) ``--eval-every`` fills."""

FRECHET_RAW_KEY = "frechet_distance_raw"
"""The trained generator's column when the sampled one is its average."""

LABEL_KEY = "label_accuracy"
"""The column a conditional run's ``--eval-every`` fills beside the Fréchet distance:
the share of samples the classifier assigns to the class they were drawn for."""


def draw_noise(noise: Noise, count: int, noise_dim: int, seed: int) -> np.ndarray:
    """``count`` noise vectors of ``noise_dim``, the same ones for the same seed."""
    return keras.ops.convert_to_numpy(noise.sample((count, noise_dim), seed=seed))


def noise_size(generator: keras.Model) -> int:
    """The size of ``generator``'s noise input (its first input)."""
    return int(generator.inputs[0].shape[-1])


def takes_labels(generator: keras.Model) -> bool:
    """Whether ``generator`` is conditional: it takes ``[noise, labels]``."""
    return len(generator.inputs) == 2


def draw_labels(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` class labels (int32) drawn with the frequencies of ``labels``, the
    same ones for the same seed."""
    counts = np.bincount(np.asarray(labels).reshape(-1))
    rng = np.random.default_rng(seed)
    return rng.choice(len(counts), count, p=counts / counts.sum()).astype(np.int32)


def generate(
    generator: keras.Model,
    noise_vectors: np.ndarray,
    labels: np.ndarray | None = None,
    batch_size: int = 500,
) -> np.ndarray:
    """The images of ``noise_vectors`` (and, for a conditional generator, of the
    class ``labels``), float32 in [-1, 1].

    The generator runs in inference mode (``predict``: BatchNorm's moving
    statistics), as a saved generator does.
    """
    inputs: Any = np.asarray(noise_vectors, dtype=np.float32)
    if takes_labels(generator):
        if labels is None or len(labels) != len(inputs):
            raise ValueError(
                "A conditional generator draws each image for a class: give one "
                f"label per noise vector ({len(inputs)}). Received: labels="
                + ("None" if labels is None else f"{len(labels)} labels")
            )
        inputs = [inputs, np.asarray(labels, dtype=np.int32)]
    return np.asarray(
        generator.predict(inputs, batch_size=batch_size, verbose=0),
        dtype=np.float32,
    )
