"""Measuring a generator against real images, beside the real-data floor.

The one place that draws noise and generates images for measuring and sampling
(:func:`draw_noise`, :func:`generate`). An :class:`Evaluator` owns the dataset's
classifier (:mod:`gan_cookbook.evaluation.classifier`), the reference images'
features and statistics (computed once) and the floor; it computes every metric of
:mod:`gan_cookbook.evaluation.scores` for N generated images, and the same way for N
real training images against the same reference: the floor, what a perfect generator
would score with N images, since no finite sample scores 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from gan_cookbook.data import Dataset
from gan_cookbook.evaluation import scores
from gan_cookbook.loop import Noise

# The classifier module is imported where it is used: the package's import (through
# gan_cookbook.callbacks) must not load it, or `python -m
# gan_cookbook.evaluation.classifier` would run a second copy of it.
if TYPE_CHECKING:
    from gan_cookbook.callbacks import FrechetEvaluation
    from gan_cookbook.evaluation.classifier import FeatureExtractor

FRECHET_KEY = "frechet_distance"
"""The column of ``history.csv`` (and the key in Keras' logs) ``--eval-every`` fills."""

FRECHET_RAW_KEY = "frechet_distance_raw"
"""The trained generator's column when the sampled one is its average."""


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


def evaluation_data(
    training: Dataset, test: Dataset | None, count: int, seed: int = 0
) -> EvaluationData:
    """Chooses ``count`` reference images and ``count`` floor images.

    With a test split: test images against training images. Without one: two
    disjoint halves of the training images, ``count`` at most half of them.
    """
    if count < 2:
        raise ValueError(f"`count` must be at least 2. Received: count={count}")
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


def splits_of(dataset: Dataset) -> tuple[Dataset, Dataset | None]:
    """The full training and test splits ``dataset`` was taken from.

    Loaded again through its identity, so that a limited dataset is measured
    against all of its data; without an identity, ``dataset`` itself, with no test
    split.
    """
    if dataset.identity is None:
        return dataset, None
    return dataset.identity.load_splits()


class Evaluator:
    """Measures generators against one :class:`EvaluationData`.

    The classifier, the reference images' features and statistics, and the floor's
    features are computed once, on first use, and shared by every measurement.

    Args:
        data: The classifier's training data, the reference and the floor.
        extractor: The feature extractor. Defaults to the training data's classifier
            (:func:`~gan_cookbook.evaluation.classifier.load_classifier`: shipped for
            MNIST, trained on first use and cached otherwise).
        verbose: Say so (with a progress bar) when a classifier is trained.
    """

    def __init__(
        self,
        data: EvaluationData,
        extractor: FeatureExtractor | None = None,
        verbose: int = 1,
    ):
        self.data = data
        self.verbose = verbose
        self._extractor = extractor
        self._reference: tuple[np.ndarray, np.ndarray] | None = None
        self._statistics: tuple[np.ndarray, np.ndarray] | None = None
        self._floor: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one reference image."""
        return tuple(int(size) for size in self.data.reference.shape[1:])

    @property
    def size(self) -> int:
        """The number of reference images: the most a measurement compares."""
        return len(self.data.reference)

    @property
    def extractor(self) -> FeatureExtractor:
        """The classifier's features and probabilities, loaded on first use."""
        if self._extractor is None:
            from gan_cookbook.evaluation.classifier import load_classifier

            self._extractor = load_classifier(self.data.training, verbose=self.verbose)
        return self._extractor

    def reference_features(self) -> tuple[np.ndarray, np.ndarray]:
        """``(features, probabilities)`` of every reference image, computed once."""
        if self._reference is None:
            self._reference = self.extractor(self.data.reference)
        return self._reference

    def reference_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and covariance of the reference features, computed once."""
        if self._statistics is None:
            self._statistics = scores.gaussian_statistics(self.reference_features()[0])
        return self._statistics

    def floor_features(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``(features, probabilities)`` of the first ``count`` floor images."""
        if self._floor is None or len(self._floor[0]) < count:
            self._floor = self.extractor(self.data.floor[:count])
        features, probabilities = self._floor
        return features[:count], probabilities[:count]

    def prepare(self) -> None:
        """Loads (or trains) the classifier and computes the reference statistics."""
        self.reference_statistics()

    def check_generator(self, generator: keras.Model) -> None:
        """Raises a ValueError unless ``generator`` makes images of the data's shape."""
        made = tuple(generator.output_shape[1:])
        if made != self.image_shape:
            raise ValueError(
                f"`generator` makes images of shape {made}, but the real images it is "
                f"measured against ({self.data.training.source}) have shape "
                f"{self.image_shape}: measure it against data of its own shape. "
                f"Received: generator output shape {made}"
            )

    def frechet_distance(
        self,
        generator: keras.Model,
        noise_vectors: np.ndarray,
        labels: np.ndarray | None = None,
    ) -> float:
        """The Fréchet distance of the images of ``noise_vectors`` (and ``labels``,
        for a conditional generator) to the reference."""
        features, _ = self.extractor(generate(generator, noise_vectors, labels))
        return scores.frechet_distance_from_statistics(
            *scores.gaussian_statistics(features), *self.reference_statistics()
        )

    def measure(
        self, generator: keras.Model, noise: Noise, count: int, seed: int = 0
    ) -> dict[str, Any]:
        """Every metric of ``count`` generated images and of the floor, as a dict.

        ``count`` is capped at the number of reference images, so both sides of each
        comparison hold the same number of images.

        Returns:
            ``n``, ``reference`` (in words), ``classifier``, ``noise``, ``seed``,
            ``generated`` and ``floor`` (each :func:`~gan_cookbook.evaluation.scores.
            compare`'s dict), ``real_class_histogram``, ``seconds``,
            ``keras_version`` and ``backend``: what ``metrics.json`` holds.
        """
        self.check_generator(generator)
        started = time.perf_counter()
        count = min(count, self.size)
        noise_vectors = draw_noise(noise, count, noise_size(generator), seed)
        features, probabilities = self.extractor(generate(generator, noise_vectors))
        real_features, real_probabilities = self.reference_features()
        floor_features, floor_probabilities = self.floor_features(count)
        generated = scores.compare(
            features, probabilities, real_features, real_probabilities, seed=seed
        )
        floor = scores.compare(
            floor_features,
            floor_probabilities,
            real_features,
            real_probabilities,
            seed=seed,
        )
        return {
            "n": count,
            "reference": self.data.description,
            "classifier": self.extractor.name,
            "noise": {"distribution": noise.distribution, **_noise_parameters(noise)},
            "seed": seed,
            "generated": generated,
            "floor": floor,
            "real_class_histogram": [
                round(float(share), 6)
                for share in scores.class_histogram(real_probabilities)
            ],
            "seconds": round(time.perf_counter() - started, 2),
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
        }


def measure(
    generator: keras.Model,
    noise: Noise,
    data: EvaluationData,
    count: int,
    seed: int = 0,
    extractor: FeatureExtractor | None = None,
    verbose: int = 1,
) -> dict[str, Any]:
    """:meth:`Evaluator.measure` of a new :class:`Evaluator` of ``data``."""
    evaluator = Evaluator(data, extractor=extractor, verbose=verbose)
    return evaluator.measure(generator, noise, count, seed)


def frechet_callback(
    generator: keras.Model,
    noise: Noise,
    dataset: Dataset,
    *,
    every: int,
    count: int = 10000,
    seed: int = 0,
    verbose: int = 1,
    raw_generator: keras.Model | None = None,
) -> FrechetEvaluation:
    """The ``--eval-every`` callback, its data loaded and checked before training.

    The data are the full splits of ``dataset``'s identity (:func:`splits_of`); the
    classifier itself is loaded (or trained) when training begins.

    Args:
        generator: The generator being trained.
        noise: The distribution of its input.
        dataset: The training data.
        every: Measures after epochs ``every``, ``2 * every``, ...
        count: Generated (and reference) images per measurement.
        seed: Seeds the noise and the choice of real images.
        verbose: Say so when a classifier is trained.
        raw_generator: The trained generator when ``generator`` is its average:
            measured beside it, as ``frechet_distance_raw``. Defaults to ``None``.

    Raises:
        ValueError: ``every`` or ``count`` is not a valid count, the data have no
            labels (the classifier needs them), or the generator's images do not
            have the data's shape.
    """
    from gan_cookbook.callbacks import FrechetEvaluation
    from gan_cookbook.evaluation.classifier import check_labels

    _check_at_least("every", every, 1)
    _check_at_least("count", count, 2)
    training, test = splits_of(dataset)
    check_labels(training)
    evaluator = Evaluator(evaluation_data(training, test, count, seed), verbose=verbose)
    evaluator.check_generator(generator)
    return FrechetEvaluation(
        generator, noise, evaluator, every, count, seed, raw_generator=raw_generator
    )


def _check_at_least(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(
            f"`{name}` must be an integer of at least {low}. Received: {name}={value!r}"
        )


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
    lines = [f"{'metric':<18}{'generated':>22}{'real floor':>22}   note"]
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
            f"{label:<18}{cells[0]:>22}{cells[1]:>22}   {note.format(classes=classes)}"
        )
    return "\n".join(lines)
