"""A small CNN classifier whose features measure generated images.

Inception networks need weights from the network and were trained on photographs; a
classifier of the dataset itself is offline, quick, and judges digits as digits. Its
128-d penultimate layer gives the features of the Fréchet and kernel distances, its
softmax the classifier score and the class histogram
(:mod:`gan_cookbook.evaluation.scores`).

- MNIST: the weights ship with the package (``data/mnist_classifier.weights.h5``),
  made by ``python -m gan_cookbook.evaluation.classifier``.
- Other datasets with labels: trained on first use and cached under the Keras cache
  folder (``$KERAS_HOME``, by default ``~/.keras``), keyed by the images and labels.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import click
import keras
import numpy as np

from gan_cookbook import backend
from gan_cookbook.data import load_mnist
from gan_cookbook.loaders import Dataset

MNIST_WEIGHTS = "mnist_classifier.weights.h5"
FEATURES_LAYER = "features"
# Bumped whenever build_classifier changes, so that old cached weights are not read.
ARCHITECTURE_VERSION = 1


def build_classifier(
    image_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10
) -> keras.Model:
    """Four 3x3 convolutions, two poolings, a 128-d ``features`` layer, a softmax.

    About 200k parameters (0.8 MB of weights for 28x28 images): small enough to ship,
    large enough to reach 99% on MNIST's test images after a few epochs.
    """
    images = keras.Input(image_shape, name="images")
    x = images
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.25)(x)
    features = keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = keras.layers.Dropout(0.5)(features)
    probabilities = keras.layers.Dense(classes, activation="softmax", name="classes")(x)
    return keras.Model(images, probabilities, name="classifier")


def train_classifier(
    dataset: Dataset,
    *,
    epochs: int = 8,
    batch_size: int = 128,
    seed: int = 0,
    verbose: int | str = "auto",
) -> keras.Model:
    """Trains :func:`build_classifier` on a labelled dataset (images in [-1, 1]).

    Args:
        dataset: The training images and their integer labels.
        epochs: Passes over the images. Defaults to 8.
        batch_size: Images per step. Defaults to 128.
        seed: Seeds the weights and the shuffling. Defaults to 0.
        verbose: Keras' ``fit`` verbosity: a progress bar by default.

    Raises:
        ValueError: the dataset has no labels.
    """
    labels = check_labels(dataset)
    keras.utils.set_random_seed(seed)
    model = build_classifier(
        tuple(int(size) for size in dataset.images.shape[1:]), class_count(labels)
    )
    steps = epochs * (len(labels) // batch_size)
    model.compile(
        # Decaying to 0 settles the last epochs: about 0.2 points of test accuracy
        # over a constant rate in the same epochs on MNIST.
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(1e-3, max(steps, 1))
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        dataset.images,
        labels,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=verbose,
    )
    return model


def save_classifier(model: keras.Model, path: str | Path) -> Path:
    """Writes the classifier's weights only, without its optimizer's state.

    The optimizer's two Adam moments would triple the file, and measuring never
    trains the classifier further.
    """
    image_shape = tuple(int(size) for size in model.input_shape[1:])
    bare = build_classifier(image_shape, int(model.output_shape[-1]))
    bare.set_weights(model.get_weights())
    path = Path(path)
    bare.save_weights(path)
    return path


def class_count(labels: np.ndarray) -> int:
    """The number of classes: labels are taken to be 0 .. K-1."""
    return int(np.max(labels)) + 1


def _where_labels_go(dataset: Dataset) -> str:
    """Where the labels of ``dataset``'s kind of data would have come from."""
    identity = dataset.identity
    if identity is not None and identity.kind == "folder":
        return "its images lie in no class subfolders"
    if identity is not None and identity.kind == "file":
        name = Path(identity.path).name.lower().removesuffix(".gz")
        if name.endswith(".npy"):
            return "an .npy holds images only"
        if "idx" in name:
            return "no *-labels-idx1-ubyte file lies beside it"
    return "y_train"


def check_labels(dataset: Dataset) -> np.ndarray:
    """``dataset``'s labels as int64, checked to be classes 0 .. K-1.

    Raises:
        ValueError: no labels (the message says which metrics need them), or labels
            that are not non-negative integers.
    """
    if dataset.labels is None:
        raise ValueError(
            f"{dataset.source}: has no labels ({_where_labels_go(dataset)}), and "
            "the classifier whose features measure the samples is trained on "
            "labels. Without labels no metric can be computed: the Fréchet distance "
            "and KID need its features, the classifier score and the class "
            "histogram its classes. Received: a dataset of images only"
        )
    labels = np.asarray(dataset.labels).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(
            f"{dataset.source}: labels must be integers 0 .. K-1. "
            f"Received: dtype {labels.dtype}, smallest {labels.min()}"
        )
    return labels.astype(np.int64)


def accuracy(model: keras.Model, dataset: Dataset, batch_size: int = 500) -> float:
    """The share of ``dataset``'s images the classifier labels correctly."""
    labels = check_labels(dataset)
    predicted = np.argmax(
        model.predict(dataset.images, batch_size=batch_size, verbose=0), axis=1
    )
    return float(np.mean(predicted == labels))


@dataclass
class FeatureExtractor:
    """A classifier's 128-d features and class probabilities for batches of images."""

    classifier: keras.Model
    name: str

    def __post_init__(self) -> None:
        self._both = keras.Model(
            self.classifier.inputs,
            [self.classifier.get_layer(FEATURES_LAYER).output, self.classifier.output],
        )

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.classifier.input_shape[1:])

    @property
    def classes(self) -> int:
        return int(self.classifier.output_shape[-1])

    def __call__(
        self, images: np.ndarray, batch_size: int = 500
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, 128), probabilities (N, classes))`` as float64 arrays."""
        shape = tuple(np.shape(images)[1:])
        if shape != self.image_shape:
            raise ValueError(
                f"The classifier {self.name} takes images of shape "
                f"(N, *{self.image_shape}). Received: images of shape "
                f"{np.shape(images)}"
            )
        features, probabilities = self._both.predict(
            np.asarray(images, dtype=np.float32), batch_size=batch_size, verbose=0
        )
        return features.astype(np.float64), probabilities.astype(np.float64)


def shipped_mnist_weights() -> Path:
    """The MNIST classifier's weights inside the package."""
    return Path(str(resources.files("gan_cookbook") / "data" / MNIST_WEIGHTS))


def is_mnist(dataset: Dataset) -> bool:
    """Whether ``dataset`` is the MNIST shipped with the package, in grayscale.

    Told by its identity (:class:`~gan_cookbook.data.DataSource`), not by its
    description: the shipped classifier fits it, limited or not.
    """
    identity = dataset.identity
    return (
        identity is not None
        and identity.kind == "builtin"
        and identity.name == "mnist"
        and tuple(dataset.images.shape[1:]) == (28, 28, 1)
    )


def cache_folder() -> Path:
    """Where classifiers trained on first use are kept: ``$KERAS_HOME/gan_cookbook``."""
    keras_home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return Path(os.path.expanduser(keras_home)) / "gan_cookbook" / "classifiers"


def dataset_key(dataset: Dataset) -> str:
    """A name for ``dataset``'s contents: the same images and labels, the same key."""
    digest = hashlib.sha256()
    digest.update(f"v{ARCHITECTURE_VERSION} {dataset.images.shape}".encode())
    digest.update(np.ascontiguousarray(dataset.images, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(check_labels(dataset)).tobytes())
    return digest.hexdigest()[:20]


def load_classifier(dataset: Dataset, verbose: int = 1) -> FeatureExtractor:
    """The feature extractor for ``dataset`` (its training images and labels).

    MNIST's is shipped; any other labelled dataset's is trained on first use, with a
    progress bar, and cached under :func:`cache_folder`.

    Raises:
        ValueError: the dataset has no labels; the message says what needs them.
    """
    if is_mnist(dataset):
        model = build_classifier((28, 28, 1), 10)
        model.load_weights(shipped_mnist_weights())
        return FeatureExtractor(model, "mnist (shipped)")
    labels = check_labels(dataset)
    image_shape = tuple(int(size) for size in dataset.images.shape[1:])
    path = cache_folder() / f"{dataset_key(dataset)}.weights.h5"
    if path.is_file():
        model = build_classifier(image_shape, class_count(labels))
        model.load_weights(path)
        return FeatureExtractor(model, str(path))
    if verbose:
        click.echo(
            f"Training the feature classifier of {dataset.source} "
            f"({len(labels)} images, {class_count(labels)} classes) once; "
            f"it is cached in {path}"
        )
    model = train_classifier(dataset, verbose=1 if verbose else 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_classifier(model, path)
    return FeatureExtractor(model, str(path))


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Where the weights go.  [default: the package's data/{MNIST_WEIGHTS}]",
)
@click.option("--epochs", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
def main(out: Path | None, epochs: int, seed: int) -> None:
    """Trains the MNIST feature classifier and writes its weights (the shipped file)."""
    # The same weights from the same seed, on a CPU at least.
    backend.enable_determinism()
    model = train_classifier(load_mnist("train"), epochs=epochs, seed=seed)
    out = save_classifier(model, out or shipped_mnist_weights())
    test_accuracy = accuracy(model, load_mnist("test"))
    click.echo(f"Test accuracy on the 10,000 MNIST test images: {test_accuracy:.4f}")
    click.echo(f"Weights written to {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
