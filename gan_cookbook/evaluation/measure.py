"""Measuring a generator against real images, beside the real-data floor.

An :class:`Evaluator` owns the dataset's classifier
(:mod:`gan_cookbook.evaluation.classifier`), the reference images' features and
statistics (computed once) and the floor; it computes every metric of
:mod:`gan_cookbook.evaluation.scores` for N generated images (drawn with
:mod:`gan_cookbook.evaluation.generation`), and the same way for N real training
images against the same reference: the floor, what a perfect generator would score
with N images, since no finite sample scores 0. :func:`table` prints a measurement.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from gan_cookbook.checks import check_integer
from gan_cookbook.evaluation import scores
from gan_cookbook.evaluation.generation import (
    FRECHET_KEY,
    LABEL_KEY,
    draw_labels,
    draw_noise,
    generate,
    noise_size,
    takes_labels,
)
from gan_cookbook.loaders import Dataset
from gan_cookbook.noise import Noise

# The classifier module is imported where it is used: the package's import must not
# load it, or `python -m gan_cookbook.evaluation.classifier` would run a second copy
# of it.
if TYPE_CHECKING:
    from gan_cookbook.evaluation.classifier import FeatureExtractor


@dataclass
class EvaluationData:
    """The images a measurement needs.

    Attributes:
        training: The labelled training set the classifier learns from.
        reference: The real images generated ones are compared with.
        floor: As many other real images, compared with ``reference`` the same way.
        description: Where ``reference`` and ``floor`` come from, in words.
        reference_labels: The class of each ``reference`` image, or ``None`` when
            its split has no labels: the floor of a conditional generator's label
            accuracy (the classifier's own accuracy on them).
    """

    training: Dataset
    reference: np.ndarray
    floor: np.ndarray
    description: str
    reference_labels: np.ndarray | None = None


def evaluation_data(
    training: Dataset, test: Dataset | None, count: int, seed: int = 0
) -> EvaluationData:
    """Chooses ``count`` reference images and ``count`` floor images.

    With a test split: test images against training images. Without one: two
    disjoint halves of the training images, ``count`` at most half of them. The
    reference images' labels come with them, where their split has labels.
    """
    count = check_integer("count", count, 2)
    rng = np.random.default_rng(seed)
    if test is not None:
        count = min(count, len(test.images), len(training.images))
        chosen = rng.choice(len(test.images), count, replace=False)
        reference = test.images[chosen]
        reference_labels = _labels_at(test, chosen)
        floor = training.images[rng.choice(len(training.images), count, replace=False)]
        description = (
            f"{count} images of {test.source}; floor: {count} of {training.source}"
        )
    else:
        count = min(count, len(training.images) // 2)
        order = rng.permutation(len(training.images))
        reference = training.images[order[:count]]
        reference_labels = _labels_at(training, order[:count])
        floor = training.images[order[count : 2 * count]]
        description = (
            f"{count} images of {training.source} (it has no test split); floor: "
            f"{count} other images of it"
        )
    return EvaluationData(training, reference, floor, description, reference_labels)


def _labels_at(dataset: Dataset, indices: np.ndarray) -> np.ndarray | None:
    if dataset.labels is None:
        return None
    return np.asarray(dataset.labels).reshape(-1)[indices].astype(np.int64)


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
        return self.epoch_scores(generator, noise_vectors, labels)[FRECHET_KEY]

    def epoch_scores(
        self,
        generator: keras.Model,
        noise_vectors: np.ndarray,
        labels: np.ndarray | None = None,
    ) -> dict[str, float]:
        """What ``--eval-every`` logs: the Fréchet distance (``frechet_distance``)
        of the images of ``noise_vectors`` and, for a conditional generator and its
        ``labels``, the share classified as their label (``label_accuracy``)."""
        features, probabilities = self.extractor(
            generate(generator, noise_vectors, labels)
        )
        logged = {
            FRECHET_KEY: scores.frechet_distance_from_statistics(
                *scores.gaussian_statistics(features), *self.reference_statistics()
            )
        }
        if labels is not None:
            accuracy = scores.label_accuracy(
                probabilities, labels, self.extractor.classes
            )
            logged[LABEL_KEY] = accuracy["overall"]
        return logged

    def measure(
        self, generator: keras.Model, noise: Noise, count: int, seed: int = 0
    ) -> dict[str, Any]:
        """Every metric of ``count`` generated images and of the floor, as a dict.

        ``count`` is capped at the number of reference images, so both sides of each
        comparison hold the same number of images. A conditional generator draws
        each image for a label drawn with the training labels' class frequencies
        (:func:`~gan_cookbook.evaluation.generation.draw_labels`: the same labels
        for the same seed, so two generators measured with one seed compare), and
        is measured on its label accuracy too.

        Returns:
            ``n``, ``reference`` (in words), ``classifier``, ``noise``, ``seed``,
            ``generated`` and ``floor`` (each :func:`~gan_cookbook.evaluation.scores.
            compare`'s dict), ``real_class_histogram``, ``seconds``,
            ``keras_version`` and ``backend``: what ``metrics.json`` holds. For a
            conditional generator also ``label_accuracy``: ``overall`` and
            ``per_class`` (:func:`~gan_cookbook.evaluation.scores.label_accuracy` of
            the generated images and their drawn labels), ``real`` and
            ``real_per_class`` (the same of the labelled reference images: the
            floor; ``None`` when the reference has no labels).

        Raises:
            ValueError: the generator's images do not have the data's shape, or it
                is conditional and the training data have no labels to draw from.
        """
        self.check_generator(generator)
        started = time.perf_counter()
        count = min(count, self.size)
        noise_vectors = draw_noise(noise, count, noise_size(generator), seed)
        labels = None
        if takes_labels(generator):
            # The classifier first: its loading says best what unlabelled data lack.
            self.prepare()
            training_labels = self.data.training.labels
            if training_labels is None:
                raise ValueError(
                    f"{self.data.training.source}: has no labels to draw a "
                    "conditional generator's classes from. Received: a generator "
                    "that takes [noise, labels] and unlabelled training data"
                )
            labels = draw_labels(training_labels, count, seed)
        features, probabilities = self.extractor(
            generate(generator, noise_vectors, labels)
        )
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
        label_accuracy = (
            None if labels is None else self.label_accuracy(probabilities, labels)
        )
        metrics = {
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
        if label_accuracy is not None:
            metrics["label_accuracy"] = label_accuracy
        return metrics

    def label_accuracy(
        self, probabilities: np.ndarray, labels: np.ndarray
    ) -> dict[str, Any]:
        """``metrics.json``'s ``label_accuracy`` of generated images' class
        ``probabilities`` and the ``labels`` they were drawn for, beside the
        reference images' (the floor)."""
        classes = self.extractor.classes
        generated = scores.label_accuracy(probabilities, labels, classes)
        real: dict[str, Any] = {"overall": None, "per_class": None}
        if self.data.reference_labels is not None:
            real = scores.label_accuracy(
                self.reference_features()[1], self.data.reference_labels, classes
            )
        return {
            "overall": generated["overall"],
            "per_class": generated["per_class"],
            "real": real["overall"],
            "real_per_class": real["per_class"],
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


def evaluator_of(
    dataset: Dataset, count: int, seed: int = 0, verbose: int = 1
) -> Evaluator:
    """An :class:`Evaluator` against the full splits of ``dataset``'s identity
    (:func:`splits_of`), ``count`` images a side; its classifier is loaded (or
    trained) on first use.

    Raises:
        ValueError: the training split has no labels (the classifier needs them).
    """
    from gan_cookbook.evaluation.classifier import check_labels

    training, test = splits_of(dataset)
    check_labels(training)
    return Evaluator(evaluation_data(training, test, count, seed), verbose=verbose)


def _noise_parameters(noise: Noise) -> dict[str, float]:
    if noise.distribution == "uniform":
        return {"low": noise.low, "high": noise.high}
    return {"mean": noise.mean, "stddev": noise.stddev}


ROWS = (
    ("frechet_distance", "Fréchet distance", "{:.2f}", "lower is better"),
    (
        "kid",
        "KID x 1000",
        None,
        "lower is better; ± standard error of the mean of {subsets} subsets of "
        "{subset_size}",
    ),
    ("classifier_score", "classifier score", "{:.2f}", "higher is better"),
    ("classes_covered", "classes covered", "{}", "of {classes}"),
    ("class_kl", "class KL (nats)", "{:.4f}", "lower is better"),
)


def table(metrics: dict[str, Any]) -> str:
    """The measurement as a plain-text table: each metric beside its floor."""
    generated = metrics["generated"]
    notes = {
        "classes": len(metrics["real_class_histogram"]),
        "subsets": generated["kid_subsets"],
        "subset_size": generated["kid_subset_size"],
    }
    lines = [f"{'metric':<18}{'generated':>22}{'real floor':>22}   note"]
    for key, label, form, note in ROWS:
        cells = []
        for side in ("generated", "floor"):
            values = metrics[side]
            if key == "kid":
                cells.append(kid_text(values))
            else:
                cells.append(form.format(values[key]))
        lines.append(
            f"{label:<18}{cells[0]:>22}{cells[1]:>22}   {note.format(**notes)}"
        )
    if "label_accuracy" in metrics:
        lines.extend(_label_accuracy_lines(metrics["label_accuracy"]))
    return "\n".join(lines)


def kid_text(values: dict[str, Any]) -> str:
    """One side's KID x 1000 as :func:`table` prints it: ``mean ± standard error``
    (``kid`` and ``kid_standard_error`` of
    :func:`~gan_cookbook.evaluation.scores.compare`'s dict), the error to two
    significant digits and the mean to the same decimal place; the mean alone, to
    three decimals, when one subset left no standard error."""
    mean, error = values["kid"] * 1000, values["kid_standard_error"]
    if error is None:
        return f"{mean:.3f}"
    error *= 1000
    decimals = 3
    if error > 0 and math.isfinite(error):
        # More digits than the error's second would print noise; beyond 6 decimals
        # (1e-9 of MMD^2) the error is the rounding of the kernel sums.
        decimals = min(max(0, 1 - math.floor(math.log10(error))), 6)
    return f"{mean:.{decimals}f} ± {error:.{decimals}f}"


PER_CLASS_COLUMNS = 10
"""Classes per line of the per-class label accuracy."""


def _share(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _label_accuracy_lines(accuracy: dict[str, Any]) -> list[str]:
    """The label accuracy row beside its floor, then the per-class shares (in %,
    ``-`` for a class never drawn), ten classes to a line."""
    generated, real = _share(accuracy["overall"]), _share(accuracy["real"])
    lines = [
        f"{'label accuracy':<18}{generated:>22}{real:>22}   higher is better; "
        "floor: on the real images"
    ]
    per_class = accuracy["per_class"]
    real_per_class = accuracy["real_per_class"] or [None] * len(per_class)
    for start in range(0, len(per_class), PER_CLASS_COLUMNS):
        classes = range(start, min(start + PER_CLASS_COLUMNS, len(per_class)))
        lines.append(f"{'  per class (%)':<18}" + "".join(f"{c:>6}" for c in classes))
        for name, shares in (("generated", per_class), ("real floor", real_per_class)):
            cells = (
                "-" if shares[c] is None else f"{shares[c]:.1%}"[:-1] for c in classes
            )
            lines.append(
                f"{'    ' + name:<18}" + "".join(f"{cell:>6}" for cell in cells)
            )
    return lines
