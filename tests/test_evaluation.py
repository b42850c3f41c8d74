"""The metrics' mathematics against closed forms and known bounds, and the table
that prints them."""

import numpy as np
import pytest

from gan_cookbook.evaluation import table
from gan_cookbook.evaluation.scores import (
    class_histogram,
    classes_covered,
    classifier_score,
    compare,
    frechet_distance,
    frechet_distance_from_statistics,
    histogram_divergence,
    kernel_distance,
    kernel_distance_estimates,
    mmd_squared_unbiased,
    standard_error,
)


def gaussian_samples(mean, covariance, count, seed):
    return np.random.default_rng(seed).multivariate_normal(mean, covariance, count)


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mean_1, variances_1 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 4.0, 0.25])
    mean_2, variances_2 = np.array([1.0, 1.0, 0.0]), np.array([9.0, 1.0, 0.25])
    # For commuting covariances: |m1 - m2|^2 + sum (s1 - s2)^2 over the std devs.
    expected = np.sum((mean_1 - mean_2) ** 2) + np.sum(
        (np.sqrt(variances_1) - np.sqrt(variances_2)) ** 2
    )
    assert expected == pytest.approx(5 + 4 + 1)
    distance = frechet_distance_from_statistics(
        mean_1, np.diag(variances_1), mean_2, np.diag(variances_2)
    )
    assert distance == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_of_full_covariances_is_the_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    covariance_1, covariance_2 = a @ a.T, b @ b.T
    mean_1, mean_2 = rng.normal(size=4), rng.normal(size=4)
    # (C1 C2)^(1/2) through a general (non-symmetric) eigen-decomposition.
    values, vectors = np.linalg.eig(covariance_1 @ covariance_2)
    root = (vectors * np.sqrt(values.astype(complex))) @ np.linalg.inv(vectors)
    expected = (
        np.sum((mean_1 - mean_2) ** 2)
        + np.trace(covariance_1 + covariance_2)
        - 2 * np.trace(root).real
    )
    assert frechet_distance_from_statistics(
        mean_1, covariance_1, mean_2, covariance_2
    ) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_samples():
    features = gaussian_samples([0, 0], np.eye(2), 20000, seed=0)
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-9)
    # Fewer samples than dimensions: a singular covariance, still 0 and finite.
    few = np.random.default_rng(1).normal(size=(5, 128))
    assert frechet_distance(few, few) == pytest.approx(0, abs=1e-8)
    shifted = gaussian_samples([3, 0], np.diag([4, 1]), 20000, seed=1)
    # Closed form: 3^2 + (2 - 1)^2 = 10.
    assert frechet_distance(features, shifted) == pytest.approx(10, rel=0.03)


def test_kernel_distance_is_near_zero_for_one_distribution_and_positive_otherwise():
    covariance = np.eye(8)
    first = gaussian_samples(np.zeros(8), covariance, 2000, seed=0)
    second = gaussian_samples(np.zeros(8), covariance, 2000, seed=1)
    other = gaussian_samples(np.full(8, 0.5), covariance, 2000, seed=2)
    same, same_std = kernel_distance(first, second, 20, subset_size=500)
    different, different_std = kernel_distance(first, other, 20, subset_size=500)
    assert abs(same) < 3 * same_std / np.sqrt(20) + 1e-3
    assert different > 0.05 and different > 20 * different_std / np.sqrt(20)
    assert different > 50 * abs(same)


def test_unbiased_mmd_leaves_out_the_diagonal():
    x = np.array([[1.0], [2.0]])
    y = np.array([[0.0], [3.0]])
    kernel = lambda a, b: (a * b + 1) ** 3  # noqa: E731 - d = 1
    expected = (
        2 * kernel(1, 2) / 2
        + 2 * kernel(0, 3) / 2
        - 2 * (kernel(1, 0) + kernel(1, 3) + kernel(2, 0) + kernel(2, 3)) / 4
    )
    assert mmd_squared_unbiased(x, y) == pytest.approx(expected)


def test_classifier_score_bounds():
    constant = np.tile([0.1, 0.7, 0.2], (50, 1))
    assert classifier_score(constant) == pytest.approx(1)
    confident = np.eye(4)[np.arange(100) % 4]
    assert classifier_score(confident) == pytest.approx(4)
    unsure = np.full((40, 4), 0.25)
    assert classifier_score(unsure) == pytest.approx(1)
    mixed = np.eye(4)[np.arange(100) % 2]  # confident, two of four classes
    assert classifier_score(mixed) == pytest.approx(2)
    with pytest.raises(ValueError, match="sum to 1"):
        classifier_score(np.ones((3, 4)))


def test_class_histogram_coverage_and_divergence():
    real = np.full(10, 0.1)
    probabilities = np.eye(10)[[0] * 50 + [1] * 30 + [2] * 19 + [3]]
    histogram = class_histogram(probabilities)
    np.testing.assert_allclose(histogram[:4], [0.5, 0.3, 0.19, 0.01])
    # Class 3's 1% is under a fifth of its real 10%: a stray mistake, not covered.
    assert classes_covered(histogram, real) == 3
    assert classes_covered(real, real) == 10
    assert histogram_divergence(real, real) == pytest.approx(0)
    assert histogram_divergence(np.eye(10)[0], real) == pytest.approx(np.log(10))
    with pytest.raises(ValueError, match=r"Received: shapes \(10,\) and \(3,\)"):
        histogram_divergence(real, real[:3])


def test_compare_reports_every_metric():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 16))
    probabilities = np.eye(3)[rng.integers(0, 3, 300)]
    metrics = compare(
        features, probabilities, features, probabilities, kid_subsets=5, seed=1
    )
    assert metrics["frechet_distance"] == pytest.approx(0, abs=1e-8)
    assert metrics["classes_covered"] == 3 and metrics["class_kl"] == 0
    assert metrics["classifier_score"] == pytest.approx(3, rel=0.02)
    assert sorted(metrics) == [
        "class_histogram", "class_kl", "classes_covered", "classifier_score",
        "frechet_distance", "kid", "kid_standard_error", "kid_std", "kid_subset_size",
        "kid_subsets",
    ]  # fmt: skip
    # KID's figures are those of its five subsets' estimates: the subsets draw
    # half of the 300 features each.
    estimates = kernel_distance_estimates(features, features, 5, 150, seed=1)
    assert metrics["kid_subsets"] == 5 and metrics["kid_subset_size"] == 150
    assert metrics["kid"] == pytest.approx(estimates.mean())
    assert metrics["kid_std"] == pytest.approx(estimates.std())
    assert metrics["kid_standard_error"] == pytest.approx(
        estimates.std(ddof=1) / np.sqrt(5)
    )


def test_standard_error_is_the_closed_form():
    # Deviations from the mean 2.5: -1.5, -0.5, 0.5, 1.5; their squares sum to 5.
    assert standard_error(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(
        np.sqrt(5 / 3) / np.sqrt(4)
    )
    assert standard_error(np.full(100, 0.2)) == pytest.approx(0, abs=1e-15)
    assert standard_error(np.array([0.2])) is None


def metrics_with_kid(generated, floor, subsets=100, subset_size=1000):
    """A measurement's dict as :func:`table` reads it, with KID's ``(mean, std)`` of
    ``subsets`` subsets on each side and every other metric fixed."""
    sides = {}
    for side, (kid, kid_std) in (("generated", generated), ("floor", floor)):
        sides[side] = {
            "frechet_distance": 1.0, "classifier_score": 9.0, "classes_covered": 10,
            "class_kl": 0.01, "kid": kid, "kid_std": kid_std,
            # The standard deviation (over n) as the subsets' estimates give it,
            # made the standard error of their mean (std with n - 1, over sqrt(n)).
            "kid_standard_error": kid_std / np.sqrt(subsets - 1),
            "kid_subsets": subsets, "kid_subset_size": subset_size,
        }  # fmt: skip
    return {**sides, "real_class_histogram": [0.1] * 10}


def kid_row(text):
    """The KID row's generated and floor cells, and its note."""
    (row,) = [line for line in text.splitlines() if line.startswith("KID x 1000")]
    # The table's columns: 18 characters of label, then two of 22, then the note.
    return row[18:40].strip(), row[40:62].strip(), row[62:].strip()


def test_table_prints_kid_with_the_standard_error_of_its_mean():
    # What `evaluate` printed as 225.860 ± 222.654 beside a floor of 17.195 ±
    # 151.075: each subset's spread, as large as the figure. The mean of 100
    # subsets is ten times surer: 222.654 / sqrt(99) = 22.4 and 151.075 / sqrt(99)
    # = 15.2, printed to two significant digits.
    metrics = metrics_with_kid((0.225860, 0.222654), (0.017195, 0.151075))
    assert kid_row(table(metrics)) == (
        "226 ± 22",
        "17 ± 15",
        "lower is better; ± standard error of the mean of 100 subsets of 1000",
    )


def test_table_shows_a_spread_well_below_a_kid_whose_subsets_agree():
    # Subsets whose estimates agree to a tenth of the figure: its ± is a hundredth.
    estimates = np.random.default_rng(0).normal(0.3, 0.03, 100)
    metrics = metrics_with_kid((estimates.mean(), estimates.std()), (0.0001, 0.0002))
    generated, _, _ = kid_row(table(metrics))
    mean, error = (float(part) for part in generated.split(" ± "))
    assert mean == pytest.approx(1000 * estimates.mean(), abs=0.05)
    assert error == pytest.approx(1000 * standard_error(estimates), abs=0.051)
    assert error < mean / 50


def test_table_prints_small_kids_to_the_digits_of_their_error():
    metrics = metrics_with_kid((0.0000123, 0.000045), (-0.000002, 0.00003))
    # 0.045 / sqrt(99) = 0.00452 and 0.03 / sqrt(99) = 0.00302, x 1000.
    assert kid_row(table(metrics))[:2] == ("0.0123 ± 0.0045", "-0.0020 ± 0.0030")
    # One subset leaves no standard error: the mean alone.
    metrics["generated"]["kid_standard_error"] = None
    assert kid_row(table(metrics))[0] == "0.012"
