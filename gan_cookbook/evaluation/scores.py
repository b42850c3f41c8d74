"""Quality metrics of generated images, in NumPy, on a classifier's features.

All four compare generated images with real ones through a classifier of the dataset
(:mod:`gan_cookbook.evaluation.classifier`): its 128-d features for the two distances,
its class probabilities for the score and the histogram.

- :func:`frechet_distance`: the Fréchet distance between Gaussians fitted to the two
  feature sets (FID's formula, on this classifier's features rather than Inception's).
- :func:`kernel_distance`: KID, the unbiased estimate of the squared maximum mean
  discrepancy with the cubic polynomial kernel, averaged over subsets; its
  :func:`standard_error` says how far that mean may move.
- :func:`classifier_score`: the Inception score formula, ``exp E[KL(p(y|x) || p(y))]``.
- :func:`class_histogram`, :func:`classes_covered`, :func:`histogram_divergence`: which
  classes the samples fall in, against the real images.
- :func:`label_accuracy`: for a conditional generator, how often the classifier sees
  the class each image was drawn for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gan_cookbook.checks import check_integer


def _as_matrix(features: np.ndarray, argument: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(
            f"`{argument}` must be a (N, dimensions) array with N >= 2. "
            f"Received: shape {features.shape}"
        )
    return features


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the (unbiased) covariance of ``(N, dimensions)`` features."""
    features = _as_matrix(features, "features")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_square_root(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    # Rounding leaves tiny negative eigenvalues in a covariance that is only
    # semi-definite (fewer samples than dimensions, dead ReLU features).
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance_from_statistics(
    mean_1: np.ndarray,
    covariance_1: np.ndarray,
    mean_2: np.ndarray,
    covariance_2: np.ndarray,
) -> float:
    """``|m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))`` for two Gaussians.

    ``C1 C2`` is not symmetric, but it has the eigenvalues of the positive semi-definite
    ``C1^(1/2) C2 C1^(1/2)``; the trace of its square root is the sum of their square
    roots, computed with symmetric eigen-decompositions only (no ``scipy.linalg.sqrtm``
    and none of its complex round-off).
    """
    mean_1, mean_2 = np.asarray(mean_1, np.float64), np.asarray(mean_2, np.float64)
    covariance_1 = np.atleast_2d(np.asarray(covariance_1, np.float64))
    covariance_2 = np.atleast_2d(np.asarray(covariance_2, np.float64))
    if not (
        mean_1.shape == mean_2.shape
        and covariance_1.shape == covariance_2.shape == (mean_1.size, mean_1.size)
    ):
        raise ValueError(
            "The means must have one shape (d,) and the covariances (d, d). Received: "
            f"means {mean_1.shape} and {mean_2.shape}, covariances "
            f"{covariance_1.shape} and {covariance_2.shape}"
        )
    root_1 = _psd_square_root(covariance_1)
    product = root_1 @ covariance_2 @ root_1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_of_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    difference = mean_1 - mean_2
    distance = (
        difference @ difference
        + np.trace(covariance_1)
        + np.trace(covariance_2)
        - 2 * trace_of_root
    )
    # Identical sets give 0 up to rounding, which may fall just below it.
    return float(max(distance, 0.0))


def frechet_distance(features_1: np.ndarray, features_2: np.ndarray) -> float:
    """The Fréchet distance between two feature sets, each fitted by a Gaussian."""
    _check_same_dimensions(features_1, features_2)
    return frechet_distance_from_statistics(
        *gaussian_statistics(features_1), *gaussian_statistics(features_2)
    )


def _check_same_dimensions(features_1: np.ndarray, features_2: np.ndarray) -> None:
    shape_1, shape_2 = np.shape(features_1), np.shape(features_2)
    if len(shape_1) != 2 or len(shape_2) != 2 or shape_1[1] != shape_2[1]:
        raise ValueError(
            "Both feature sets must be (N, d) arrays of the same d. "
            f"Received: shapes {shape_1} and {shape_2}"
        )


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """KID's kernel ``(x . y / d + 1) ** 3``, d the feature dimension."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd_squared_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimate of MMD^2 between samples ``x`` and ``y`` (cubic kernel).

    Diagonal terms ``k(x_i, x_i)`` are left out of the within-sample means, which is
    what makes the estimate unbiased: its expectation is 0 for one distribution, and
    a single estimate can be slightly negative.
    """
    m, n = len(x), len(y)
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


def kernel_distance_estimates(
    features_1: np.ndarray,
    features_2: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """The unbiased MMD^2 of each of ``subsets`` random pairs of subsets: what KID
    averages.

    Each subset draws ``subset_size`` features (without replacement) from each set, as
    the KID paper and its common implementations do (100 subsets of 1,000); at most
    half of the smaller set (:func:`kernel_subset_size`).

    Returns:
        ``(subsets,)`` float64: one estimate per subset pair, in the order drawn.
    """
    features_1 = _as_matrix(features_1, "features_1")
    features_2 = _as_matrix(features_2, "features_2")
    _check_same_dimensions(features_1, features_2)
    subsets = check_integer("subsets", subsets, 1)
    size = kernel_subset_size(subset_size, len(features_1), len(features_2))
    rng = np.random.default_rng(seed)
    return np.array(
        [
            mmd_squared_unbiased(
                features_1[rng.choice(len(features_1), size, replace=False)],
                features_2[rng.choice(len(features_2), size, replace=False)],
            )
            for _ in range(subsets)
        ]
    )


def kernel_subset_size(subset_size: int, count_1: int, count_2: int) -> int:
    """The features a KID subset draws from each set: ``subset_size``, at most half of
    the smaller set.

    Raises:
        ValueError: that is under 2, too few for an unbiased estimate.
    """
    # At most half of each set, so that subsets differ and their spread means
    # something: with subsets as large as the sets, every subset is the whole set.
    size = min(subset_size, count_1 // 2, count_2 // 2)
    if size < 2:
        raise ValueError(
            "`subset_size` and half of each feature set must be at least 2. "
            f"Received: subset_size={subset_size}, sets of {count_1} and {count_2}"
        )
    return size


def kernel_distance(
    features_1: np.ndarray,
    features_2: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: the mean and standard deviation of unbiased MMD^2 over random subsets
    (:func:`kernel_distance_estimates`).

    Returns:
        ``(mean, standard deviation)`` over the subsets. The standard deviation is
        the spread of one subset's estimate; the mean's own uncertainty is its
        :func:`standard_error`, ten times smaller for 100 subsets.
    """
    estimates = kernel_distance_estimates(
        features_1, features_2, subsets, subset_size, seed
    )
    return float(np.mean(estimates)), float(np.std(estimates))


def standard_error(values: np.ndarray) -> float | None:
    """The standard error of the mean of ``values``: their standard deviation (with
    ``n - 1``) over ``sqrt(n)``; ``None`` for fewer than two values."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def _as_probabilities(probabilities: np.ndarray) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError(
            "`probabilities` must be a non-empty (N, classes) array. "
            f"Received: shape {probabilities.shape}"
        )
    if probabilities.min() < 0 or not np.allclose(probabilities.sum(axis=1), 1, 1e-3):
        raise ValueError(
            "`probabilities` must be non-negative rows that sum to 1. Received: "
            f"values from {probabilities.min()}, row sums from "
            f"{probabilities.sum(axis=1).min()} to {probabilities.sum(axis=1).max()}"
        )
    return probabilities


def _entropy_terms(p: np.ndarray) -> np.ndarray:
    # 0 log 0 is 0.
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)


def classifier_score(probabilities: np.ndarray) -> float:
    """``exp(mean_x KL(p(y|x) || p(y)))``, the Inception score on this classifier.

    From 1 (every image gets the same prediction) to K (confident predictions spread
    evenly over the K classes): high when each image is clearly one class and the
    classes are varied.
    """
    probabilities = _as_probabilities(probabilities)
    marginal = probabilities.mean(axis=0)
    log_marginal = np.log(np.where(marginal > 0, marginal, 1))
    divergences = _entropy_terms(probabilities).sum(axis=1) - probabilities @ (
        log_marginal
    )
    return float(np.exp(divergences.mean()))


def class_histogram(probabilities: np.ndarray) -> np.ndarray:
    """The share of images the classifier puts in each class (its top class)."""
    probabilities = _as_probabilities(probabilities)
    counts = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    return counts / counts.sum()


def classes_covered(
    histogram: np.ndarray, real_histogram: np.ndarray, ratio: float = 0.2
) -> int:
    """How many classes the samples hold at least ``ratio`` times as often as real.

    A bare count of classes seen would count a class the generator never draws but the
    classifier now and then mistakes a blurred image for; a fifth of the real share is
    well above those stray mistakes and well below a class that is really drawn.
    """
    histogram, real_histogram = _same_histograms(histogram, real_histogram)
    return int(np.sum((real_histogram > 0) & (histogram >= ratio * real_histogram)))


def histogram_divergence(histogram: np.ndarray, real_histogram: np.ndarray) -> float:
    """``KL(samples || real)`` of two class histograms, in nats.

    This direction is finite whenever every class occurs among the real images (it
    does in a labelled dataset), and grows as the samples pile into fewer classes: all
    samples in one of ten even classes give ``log 10 = 2.30``.
    """
    histogram, real_histogram = _same_histograms(histogram, real_histogram)
    # A class missing from the real images would make the divergence infinite.
    real_histogram = np.clip(real_histogram, 1e-12, None)
    return float(
        np.sum(
            np.where(
                histogram > 0,
                histogram * np.log(np.where(histogram > 0, histogram, 1)),
                0.0,
            )
            - histogram * np.log(real_histogram)
        )
    )


def _same_histograms(
    histogram: np.ndarray, real_histogram: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    histogram = np.asarray(histogram, dtype=np.float64)
    real_histogram = np.asarray(real_histogram, dtype=np.float64)
    if histogram.shape != real_histogram.shape or histogram.ndim != 1:
        raise ValueError(
            "The two histograms must be 1-d arrays of the same length. "
            f"Received: shapes {histogram.shape} and {real_histogram.shape}"
        )
    return histogram, real_histogram


def label_accuracy(
    probabilities: np.ndarray, labels: np.ndarray, num_classes: int
) -> dict[str, Any]:
    """The share of images whose top class is their label, overall and per class.

    For images drawn for a class (a conditional generator's, with the labels it was
    given) or labelled real images (the same measure's floor: the classifier's own
    accuracy).

    Args:
        probabilities: ``(N, classes)``: the classifier's class probabilities.
        labels: ``(N,)`` integers in 0 .. ``num_classes`` - 1: each image's class.
        num_classes: The number of classes, and of ``per_class``'s entries.

    Returns:
        ``overall``: the share of the N images whose argmax is their label;
        ``per_class``: one share per class, over the images of that label, ``None``
        for a class no image has.
    """
    probabilities = _as_probabilities(probabilities)
    labels = np.asarray(labels)
    num_classes = check_integer("num_classes", num_classes, 1)
    if labels.shape != (len(probabilities),) or not np.issubdtype(
        labels.dtype, np.integer
    ):
        raise ValueError(
            "`labels` must be integers of shape (N,), one per row of `probabilities` "
            f"{probabilities.shape}. Received: shape {labels.shape}, dtype "
            f"{labels.dtype}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"`labels` must lie in 0 .. {num_classes - 1} (num_classes={num_classes}). "
            f"Received: labels from {labels.min()} to {labels.max()}"
        )
    correct = probabilities.argmax(axis=1) == labels
    hits = np.bincount(labels[correct], minlength=num_classes)
    counts = np.bincount(labels, minlength=num_classes)
    return {
        "overall": float(correct.mean()),
        "per_class": [
            float(hit / count) if count else None
            for hit, count in zip(hits, counts, strict=True)
        ],
    }


def compare(
    features: np.ndarray,
    probabilities: np.ndarray,
    real_features: np.ndarray,
    real_probabilities: np.ndarray,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of one image set against the real (reference) images.

    Both sets' class histograms come from the classifier's predictions, so its own
    mistakes weigh on both sides alike.

    Returns:
        ``frechet_distance``; ``kid`` (the mean over the subsets), ``kid_std`` (the
        subsets' standard deviation), ``kid_standard_error`` (the mean's:
        :func:`standard_error`), ``kid_subsets`` and ``kid_subset_size``;
        ``classifier_score``, ``classes_covered``, ``class_kl`` and
        ``class_histogram``.
    """
    estimates = kernel_distance_estimates(
        features, real_features, kid_subsets, kid_subset_size, seed
    )
    histogram = class_histogram(probabilities)
    real_histogram = class_histogram(real_probabilities)
    return {
        "frechet_distance": frechet_distance(features, real_features),
        "kid": float(np.mean(estimates)),
        "kid_std": float(np.std(estimates)),
        "kid_standard_error": standard_error(estimates),
        "kid_subsets": len(estimates),
        "kid_subset_size": kernel_subset_size(
            kid_subset_size, len(features), len(real_features)
        ),
        "classifier_score": classifier_score(probabilities),
        "classes_covered": classes_covered(histogram, real_histogram),
        "class_kl": histogram_divergence(histogram, real_histogram),
        "class_histogram": [round(float(share), 6) for share in histogram],
    }
