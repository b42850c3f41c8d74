"""Measuring a generator against real images, beside the real-data floor.

``measure`` draws N images, passes them and N real reference images (the test split)
through the dataset's classifier (:mod:`gan_cookbook.classifier`), and computes every
metric of :mod:`gan_cookbook.evaluation`. It computes them the same way for N real
training images against the same reference: the floor, what a perfect generator
would score with N images, since no finite sample scores 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gan_cookbook import evaluation
from gan_cookbook.classifier import FeatureExtractor, load_classifier
from gan_cookbook.data import Dataset, load_mnist, load_npz
from gan_cookbook.loop import Noise


@dataclass
class EvaluationData:
    """The images a measurement needs.

    Attributes:
        training: The labelled training set the classifier learns from.
        reference: The real images generated ones are compared with.
        floor: As many other real images, compared with ``reference`` the same way.
        description: Where ``reference`` and ``floor`` come from, in words.
    """

    training: Dataset
    reference: np.ndarray
    floor: np.ndarray
    description: str


def datasets_for_source(source: str) -> tuple[Dataset, Dataset | None]:
    """The training and test datasets of a data source as ``recipe.json`` names it.

    ``"mnist (train)"`` is the shipped MNIST; any other source is an ``.npz`` path,
    whose ``x_test`` (when it has one) is the test split.
    """
    if source.startswith("mnist ("):
        return load_mnist("train"), load_mnist("test")
    path = Path(source)
    if not path.is_file():
        raise ValueError(
            f"The data source {source!r} is neither the shipped MNIST nor an .npz "
            "file that exists here. Pass --data FILE.npz (or --recipe NAME). "
            f"Received: source={source!r}"
        )
    with np.load(path, allow_pickle=False) as arrays:
        has_test = "x_test" in arrays.files
    return load_npz(path, "train"), load_npz(path, "test") if has_test else None


def evaluation_data(
    training: Dataset, test: Dataset | None, count: int, seed: int = 0
) -> EvaluationData:
    """Chooses ``count`` reference images and ``count`` floor images.

    With a test split: test images against training images (the issue's floor). Without
    one: two disjoint halves of the training images, ``count`` at most half of them.
    """
    if count < 2:
        raise ValueError(f"`n` must be at least 2. Received: n={count}")
    rng = np.random.default_rng(seed)
    if test is not None:
        count = min(count, len(test.images), len(training.images))
        reference = test.images[rng.choice(len(test.images), count, replace=False)]
        floor = training.images[rng.choice(len(training.images), count, replace=False)]
        description = (
            f"{count} images of {test.source}; floor: {count} of {training.source}"
        )
    else:
        count = min(count, len(training.images) // 2)
        order = rng.permutation(len(training.images))
        reference = training.images[order[:count]]
        floor = training.images[order[count : 2 * count]]
        description = (
            f"{count} images of {training.source} (it has no test split); floor: "
            f"{count} other images of it"
        )
    return EvaluationData(training, reference, floor, description)


def generate(
    generator: keras.Model,
    noise: Noise,
    count: int,
    seed: int = 0,
    batch_size: int = 500,
) -> np.ndarray:
    """``count`` images from ``generator`` in inference mode, as saved models run."""
    noise_batch = keras.ops.convert_to_numpy(
        noise.sample((count, int(generator.input_shape[-1])), seed=seed)
    )
    return np.asarray(
        generator.predict(noise_batch, batch_size=batch_size, verbose=0),
        dtype=np.float32,
    )


def measure(
    generator: keras.Model,
    noise: Noise,
    data: EvaluationData,
    count: int,
    seed: int = 0,
    extractor: FeatureExtractor | None = None,
    verbose: int = 1,
) -> dict[str, Any]:
    """Every metric of ``count`` generated images and of the floor, as a dict.

    ``count`` is capped at the number of reference images, so both sides of each
    comparison hold the same number of images.
    """
    started = time.perf_counter()
    count = min(count, len(data.reference))
    extractor = extractor or load_classifier(data.training, verbose=verbose)
    images = generate(generator, noise, count, seed)
    features, probabilities = extractor(images)
    real_features, real_probabilities = extractor(data.reference)
    floor_features, floor_probabilities = extractor(data.floor[:count])
    generated = evaluation.compare(
        features, probabilities, real_features, real_probabilities, seed=seed
    )
    floor = evaluation.compare(
        floor_features,
        floor_probabilities,
        real_features,
        real_probabilities,
        seed=seed,
    )
    return {
        "n": count,
        "reference": data.description,
        "classifier": extractor.name,
        "noise": {"distribution": noise.distribution, **_noise_parameters(noise)},
        "seed": seed,
        "generated": generated,
        "floor": floor,
        "real_class_histogram": [
            round(float(share), 6)
            for share in evaluation.class_histogram(real_probabilities)
        ],
        "seconds": round(time.perf_counter() - started, 2),
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
    }


def _noise_parameters(noise: Noise) -> dict[str, float]:
    if noise.distribution == "uniform":
        return {"low": noise.low, "high": noise.high}
    return {"mean": noise.mean, "stddev": noise.stddev}


ROWS = (
    ("frechet_distance", "Fréchet distance", "{:.2f}", "lower is better"),
    ("kid", "KID x 1000", None, "lower is better; ± std over subsets"),
    ("classifier_score", "classifier score", "{:.2f}", "higher is better"),
    ("classes_covered", "classes covered", "{}", "of {classes}"),
    ("class_kl", "class KL (nats)", "{:.4f}", "lower is better"),
)


def table(metrics: dict[str, Any]) -> str:
    """The measurement as a plain-text table: each metric beside its floor."""
    classes = len(metrics["real_class_histogram"])
    lines = [f"{'metric':<18}{'generated':>20}{'real floor':>20}   note"]
    for key, label, form, note in ROWS:
        cells = []
        for side in ("generated", "floor"):
            values = metrics[side]
            if key == "kid":
                cells.append(
                    f"{values['kid'] * 1000:.3f} ± {values['kid_std'] * 1000:.3f}"
                )
            else:
                cells.append(form.format(values[key]))
        lines.append(
            f"{label:<18}{cells[0]:>18}{cells[1]:>18}   {note.format(classes=classes)}"
        )
    return "\n".join(lines)
