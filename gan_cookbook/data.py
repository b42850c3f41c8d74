"""Training images: MNIST shipped with the package, and ``.npz`` files in its layout.

Every loader returns a :class:`Dataset` whose images are float32 in [-1, 1] with shape
``(N, height, width, channels)``, the range of the generators' ``tanh``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

MNIST_FILE = "mnist.npz"


@dataclass(frozen=True)
class Dataset:
    """Images ready for training, with their labels when the source has them.

    Attributes:
        images: float32 in [-1, 1], shape ``(N, height, width, channels)``.
        labels: integer class labels, shape ``(N,)``, or ``None``.
        source: where the images came from, for messages and ``recipe.json``.
    """

    images: np.ndarray
    labels: np.ndarray | None
    source: str

    def limit(self, count: int | None) -> Dataset:
        """The first ``count`` images (all of them when ``count`` is ``None``)."""
        if count is None:
            return self
        if count < 1:
            raise ValueError(f"`limit` must be at least 1. Received: limit={count}")
        labels = None if self.labels is None else self.labels[:count]
        return Dataset(self.images[:count], labels, self.source)


def to_model_range(images: np.ndarray, source: str) -> np.ndarray:
    """Scales uint8 pixels (0..255) to float32 in [-1, 1] and adds a channel axis.

    Floating-point input is taken to be in [0, 1] or already in [-1, 1].
    """
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(
            f"{source}: images must have shape (N, height, width) or "
            f"(N, height, width, channels). Received: shape {images.shape}"
        )
    if len(images) == 0:
        raise ValueError(f"{source}: holds no images. Received: shape {images.shape}")
    if images.dtype == np.uint8:
        return (images.astype(np.float32) - 127.5) / 127.5
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"{source}: images must be uint8 (0..255) or float (in [0, 1] or "
            f"[-1, 1]). Received: dtype {images.dtype}"
        )
    images = images.astype(np.float32)
    low, high = float(images.min()), float(images.max())
    if not (np.isfinite(low) and np.isfinite(high)) or low < -1 or high > 1:
        raise ValueError(
            f"{source}: float images must lie in [0, 1] or [-1, 1]. "
            f"Received: values from {low} to {high}"
        )
    return images * 2 - 1 if low >= 0 else images


def load_npz(path: str | Path, split: str = "train") -> Dataset:
    """Loads ``x_{split}`` (and ``y_{split}`` if present) from a Keras-layout ``.npz``.

    The layout is the one ``keras.datasets.mnist.load_data()`` reads: ``x_train``,
    ``y_train``, ``x_test``, ``y_test``.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ValueError(f"No such file: {source}. Expected an .npz file of images.")
    try:
        arrays = np.load(path, allow_pickle=False)
        if not isinstance(arrays, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not named arrays")
        with arrays:
            contents = {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{source}: not a readable .npz file ({error}).") from None
    images_key, labels_key = f"x_{split}", f"y_{split}"
    if images_key not in contents:
        raise ValueError(
            f"{source}: has no array {images_key!r}. Expected the Keras layout "
            f"(x_train, y_train, x_test, y_test). Received arrays: {sorted(contents)}"
        )
    images = to_model_range(contents[images_key], source)
    labels = contents.get(labels_key)
    if labels is not None and len(labels) != len(images):
        raise ValueError(
            f"{source}: {len(images)} images but {len(labels)} labels in "
            f"{labels_key!r}; they must match."
        )
    return Dataset(images, labels, source)


def mnist_path() -> Path:
    """The MNIST file shipped inside the package."""
    return Path(str(resources.files("gan_cookbook") / "data" / MNIST_FILE))


def load_mnist(split: str = "train") -> Dataset:
    """MNIST (LeCun, Cortes, Burges), read from the copy shipped with the package.

    No network is needed. ``split`` is ``"train"`` (60,000 images) or ``"test"``
    (10,000).
    """
    if split not in ("train", "test"):
        raise ValueError(
            f'`split` must be "train" or "test". Received: split={split!r}'
        )
    dataset = load_npz(mnist_path(), split)
    return Dataset(dataset.images, dataset.labels, f"mnist ({split})")
