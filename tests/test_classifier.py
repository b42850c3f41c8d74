"""The feature classifier: the shipped MNIST weights, and training on first use."""

import subprocess
import sys

import numpy as np
import pytest

from gan_cookbook.data import DataSource, load_mnist
from gan_cookbook.evaluation import classifier
from gan_cookbook.evaluation.classifier import (
    accuracy,
    check_labels,
    is_mnist,
    load_classifier,
    shipped_mnist_weights,
)
from gan_cookbook.loaders import Dataset, with_channels


def test_shipped_mnist_classifier_reaches_its_stated_accuracy():
    assert shipped_mnist_weights().stat().st_size < 2_000_000
    extractor = load_classifier(load_mnist("train"))
    test = load_mnist("test")
    subset = Dataset(test.images[:2000], test.labels[:2000], test.source)
    # README states the accuracy on all 10,000 test images; 2,000 keep this quick.
    assert accuracy(extractor.classifier, subset) >= 0.985
    features, probabilities = extractor(subset.images[:10])
    assert features.shape == (10, 128) and probabilities.shape == (10, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_other_labelled_data_trains_once_then_comes_from_the_cache(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    rng = np.random.default_rng(0)
    # Three classes told apart by brightness: learnable in a few steps.
    labels = rng.integers(0, 3, 192)
    images = (labels[:, None, None, None] - 1) * 0.6 + rng.normal(
        0, 0.05, (192, 28, 28, 1)
    )
    dataset = Dataset(images.astype("float32"), labels, "digits.npz")
    extractor = load_classifier(dataset, verbose=0)
    cached = list((tmp_path / "keras" / "gan_cookbook" / "classifiers").iterdir())
    assert len(cached) == 1 and cached[0].name.endswith(".weights.h5")
    assert extractor.classes == 3

    def no_training(*arguments, **options):
        raise AssertionError("trained again")

    monkeypatch.setattr(classifier, "train_classifier", no_training)
    again = load_classifier(dataset, verbose=0)
    np.testing.assert_allclose(again(images[:5])[1], extractor(images[:5])[1])


def test_data_without_labels_says_which_metrics_need_them():
    dataset = Dataset(np.zeros((4, 28, 28, 1), "float32"), None, "faces.npz")
    with pytest.raises(ValueError) as error:
        load_classifier(dataset)
    message = str(error.value)
    assert message.startswith("faces.npz: has no labels (y_train)")
    for metric in ("Fréchet distance", "KID", "classifier score", "class histogram"):
        assert metric in message


def test_the_shipped_classifier_is_chosen_by_identity_not_by_description():
    mnist = load_mnist("test").limit(100)
    assert is_mnist(mnist)  # limited, it is still MNIST
    assert load_classifier(mnist, verbose=0).name == "mnist (shipped)"
    assert not is_mnist(Dataset(mnist.images, mnist.labels, "mnist (train)"))
    # In RGB the shipped (grayscale) classifier does not fit.
    assert not is_mnist(with_channels(mnist, 3))


@pytest.mark.parametrize(
    "identity, where",
    [
        (DataSource("folder", path="/data/faces"), "its images lie in no class "
                                                   "subfolders"),
        (DataSource("file", path="/data/faces.npy"), "an .npy holds images only"),
        (DataSource("file", path="/data/train-images-idx3-ubyte.gz"),
         "no *-labels-idx1-ubyte file lies beside it"),
        (DataSource("file", path="/data/faces.npz"), "y_train"),
    ],
)  # fmt: skip
def test_missing_labels_are_told_in_the_data_s_own_terms(identity, where):
    images = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(ValueError) as error:
        check_labels(Dataset(images, None, "faces", identity=identity))
    assert str(error.value).startswith(f"faces: has no labels ({where}), and the ")


def test_the_module_runs_as_the_command_that_makes_the_shipped_weights():
    result = subprocess.run(
        [sys.executable, "-m", "gan_cookbook.evaluation.classifier", "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m gan_cookbook.evaluation.classifier" in result.stdout
    assert "Trains the MNIST feature classifier" in result.stdout
    # Imported once: the package does not load it before it runs as __main__.
    assert "found in sys.modules" not in result.stderr
