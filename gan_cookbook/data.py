"""Training images from local files: shipped MNIST, ``.npz``, ``.npy``, IDX, folders.

Every loader returns a :class:`Dataset` whose images are float32 in [-1, 1] with shape
``(N, height, width, channels)``, the range of the generators' ``tanh``.
:func:`load_path` reads any supported file or folder and brings it to 28x28 with 1 or
3 channels. Downloads (Fashion-MNIST, KMNIST) live in :mod:`gan_cookbook.datasets`.
Every loader records where its data came from in ``Dataset.identity``, a
:class:`DataSource` that loads the data (and their test split) again.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

MNIST_FILE = "mnist.npz"

IMAGE_SIZE = (28, 28)
"""Height and width every :func:`load_path` dataset has."""

RESIZE_METHODS: dict[str, Image.Resampling | None] = {
    "lanczos": Image.Resampling.LANCZOS,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "none": None,
}
"""Pillow filters by name; ``"none"`` turns resizing off (other sizes are an error)."""

# Lanczos keeps strokes sharp and, as Pillow widens its support when shrinking, does
# not alias; "area" (Pillow's box filter) is the softer choice for large photos.
DEFAULT_RESIZE = "lanczos"

IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
    ".pgm", ".ppm", ".pbm", ".pnm",
)  # fmt: skip

SUPPORTED = (
    "an .npz (Keras layout or a single array), an .npy, an IDX file "
    "(*-images-idx3-ubyte, gzipped or not) or a folder of images"
)

_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_NAME = re.compile(r"idx\d+-ubyte$")


BUILTIN_DATASETS = ("mnist", "fashion_mnist", "kmnist")
"""The datasets :class:`DataSource` loads by name: MNIST ships with the package, the
others come from the Keras cache (:mod:`gan_cookbook.datasets`)."""

SOURCE_KINDS = ("builtin", "file", "folder")

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DataSource:
    """Where a dataset came from: enough to load its train and test splits again.

    A run records it in ``recipe.json`` (:meth:`to_config`), so that its generator
    can be measured later against the same data (:meth:`load_splits`).

    Attributes:
        kind: ``"builtin"`` (a dataset of :data:`BUILTIN_DATASETS`, by ``name``),
            ``"file"`` (an ``.npz``, ``.npy`` or IDX images file at ``path``) or
            ``"folder"`` (a folder of images at ``path``).
        name: The built-in dataset's name; ``None`` for the other kinds.
        path: The file or folder, absolute; ``None`` for a built-in dataset.
        channels: The channels the images were converted to (1 or 3), or ``None``
            for the data's own.
        resize: The :data:`RESIZE_METHODS` filter that brought the images to 28x28,
            or ``None`` for a file read as it is (:func:`load_npz`, :func:`load_npy`
            and :func:`load_idx` resize nothing).
        skip_bad_images: Whether a folder's unreadable images were left out.
    """

    kind: str
    name: str | None = None
    path: str | None = None
    channels: int | None = None
    resize: str | None = DEFAULT_RESIZE
    skip_bad_images: bool = False

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(
                f"`kind` must be one of {', '.join(SOURCE_KINDS)}. "
                f"Received: kind={self.kind!r}"
            )
        if self.kind == "builtin":
            if self.name not in BUILTIN_DATASETS:
                raise ValueError(
                    f"`name` of a built-in data source must be one of "
                    f"{', '.join(BUILTIN_DATASETS)}. Received: name={self.name!r}"
                )
            if self.path is not None:
                raise ValueError(
                    "`path` must be None for a built-in data source. "
                    f"Received: path={self.path!r}"
                )
        else:
            if not isinstance(self.path, (str, os.PathLike)) or not str(self.path):
                raise ValueError(
                    f"`path` of a {self.kind} data source must be a path. "
                    f"Received: path={self.path!r}"
                )
            if self.name is not None:
                raise ValueError(
                    f"`name` must be None for a {self.kind} data source. "
                    f"Received: name={self.name!r}"
                )
            object.__setattr__(self, "path", os.path.abspath(self.path))
        if self.channels not in (None, 1, 3) or isinstance(self.channels, bool):
            raise ValueError(
                "`channels` must be 1 (grayscale), 3 (RGB) or None (keep the data's). "
                f"Received: channels={self.channels!r}"
            )
        if self.resize is not None or self.kind == "folder":
            if not isinstance(self.resize, str) or self.resize not in RESIZE_METHODS:
                allowed = ", ".join(RESIZE_METHODS)
                if self.kind != "folder":
                    allowed += " or None (read as it is)"
                raise ValueError(
                    f"`resize` must be one of {allowed}. "
                    f"Received: resize={self.resize!r}"
                )
        if not isinstance(self.skip_bad_images, bool):
            raise ValueError(
                "`skip_bad_images` must be True or False. "
                f"Received: skip_bad_images={self.skip_bad_images!r}"
            )

    @classmethod
    def builtin(cls, name: str, channels: int | None = None) -> DataSource:
        """A dataset of :data:`BUILTIN_DATASETS`."""
        return cls("builtin", name=name, channels=channels, resize=None)

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        channels: int | None = None,
        resize: str | None = DEFAULT_RESIZE,
        skip_bad_images: bool = False,
    ) -> DataSource:
        """The file or folder at ``path``, as :func:`load_path` reads it."""
        kind = "folder" if Path(path).is_dir() else "file"
        return cls(
            kind,
            path=str(path),
            channels=channels,
            resize=resize,
            skip_bad_images=skip_bad_images,
        )

    def to_config(self) -> dict[str, Any]:
        """The source as JSON-ready values; :meth:`from_config` reads them back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DataSource:
        """The source :meth:`to_config` wrote.

        Raises:
            ValueError: not a dict, a key missing or unknown, or a bad value; the
                message names it.
        """
        if not isinstance(config, dict):
            raise ValueError(
                "A data source config must be a dict. "
                f"Received: {type(config).__name__} {config!r}"
            )
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(config) - set(known), key=str)
        if unknown:
            raise ValueError(
                f"Unknown key {unknown[0]!r} in a data source config. Expected keys: "
                f"{', '.join(known)}. Received: {config!r}"
            )
        if "kind" not in config:
            raise ValueError(
                "A data source config needs the key 'kind' "
                f"({', '.join(SOURCE_KINDS)}). Received: {config!r}"
            )
        return cls(**config)

    def test_path(self) -> Path | None:
        """The file that holds a file source's test split, or ``None`` if none does.

        An ``.npz`` holds its own (``x_test``); an IDX images file's is the file named
        with ``train`` replaced by ``t10k`` or ``test`` beside it, gzipped or not.
        """
        if self.kind != "file":
            return None
        path = Path(self.path)
        name = path.name.lower().removesuffix(".gz")
        if name.endswith(".npz"):
            try:
                arrays = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError, zipfile.BadZipFile):
                return None
            if not isinstance(arrays, np.lib.npyio.NpzFile):
                return None
            with arrays:
                return path if "x_test" in arrays.files else None
        if not _IDX_NAME.search(name):
            return None
        return idx_test_path(path)

    def load(self, split: str = "train") -> Dataset:
        """The ``"train"`` or ``"test"`` split, as it was loaded the first time.

        Raises:
            ValueError: the data cannot be read, or it has no such split.
        """
        if split not in SPLITS:
            raise ValueError(
                f'`split` must be "train" or "test". Received: split={split!r}'
            )
        if self.kind == "builtin":
            dataset = with_channels(_load_builtin(self.name, split), self.channels)
        elif split == "test" and self.test_path() is None:
            raise ValueError(
                f"{self.path}: has no test split. Expected {_TEST_SPLITS}. "
                "Received: split='test'"
            )
        elif self.kind == "folder":
            dataset = load_image_folder(
                self.path, self.channels, self.resize, self.skip_bad_images
            )
        else:
            path = Path(self.path) if split == "train" else self.test_path()
            dataset = _load_file(path, split, self.channels, self.resize)
        return dataclasses.replace(dataset, identity=self)

    def load_splits(self) -> tuple[Dataset, Dataset | None]:
        """``(train, test)``; ``test`` is ``None`` when the data has no test split."""
        has_test = self.kind == "builtin" or self.test_path() is not None
        return self.load("train"), self.load("test") if has_test else None


_TEST_SPLITS = (
    "a built-in dataset, an .npz with x_test, or an IDX train file with its "
    "t10k (or test) file beside it"
)


def _load_builtin(name: str, split: str) -> Dataset:
    if name == "mnist":
        return load_mnist(split)
    # Imported here: gan_cookbook.datasets imports this module.
    from gan_cookbook import datasets

    loader = {
        "fashion_mnist": datasets.load_fashion_mnist,
        "kmnist": datasets.load_kmnist,
    }
    return loader[name](split)


@dataclass(frozen=True)
class Dataset:
    """Images ready for training, with their labels when the source has them.

    Attributes:
        images: float32 in [-1, 1], shape ``(N, height, width, channels)``.
        labels: integer class labels, shape ``(N,)``, or ``None``.
        source: where the images came from, for messages and ``recipe.json``.
        class_names: the name of each label (folder names for an image folder), or
            ``None`` where the source does not name its classes.
        identity: how to load the data again, its test split included (every loader
            sets it); ``None`` for data made otherwise. :meth:`limit` keeps it: it
            names the full data, which evaluation measures against. Images changed
            otherwise should drop it.
    """

    images: np.ndarray
    labels: np.ndarray | None
    source: str
    class_names: tuple[str, ...] | None = None
    identity: DataSource | None = None

    @property
    def num_classes(self) -> int | None:
        """The number of classes: as many as :attr:`class_names` when the source
        names them, else the largest label plus one; ``None`` without labels."""
        if self.labels is None:
            return None
        if self.class_names is not None:
            return len(self.class_names)
        return int(np.max(self.labels)) + 1

    def limit(self, count: int | None) -> Dataset:
        """The first ``count`` images (all of them when ``count`` is ``None``)."""
        if count is None:
            return self
        if count < 1:
            raise ValueError(f"`limit` must be at least 1. Received: limit={count}")
        labels = None if self.labels is None else self.labels[:count]
        return dataclasses.replace(self, images=self.images[:count], labels=labels)


_UINT8_TO_MODEL_RANGE = (np.arange(256, dtype=np.float32) - 127.5) / 127.5


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
        # One lookup per pixel instead of three array passes: the same float32
        # values, 8x faster on MNIST's 47M pixels.
        return _UINT8_TO_MODEL_RANGE[images]
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


def _check_labels(
    labels: np.ndarray | None, count: int, source: str, where: str
) -> np.ndarray | None:
    if labels is None:
        return None
    if len(labels) != count:
        raise ValueError(
            f"{source}: {count} images but {len(labels)} labels in {where}; "
            "they must match."
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{source}: labels in {where} must be one integer per image. "
            f"Received: shape {labels.shape}, dtype {labels.dtype}"
        )
    return labels


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        arrays = np.load(path, allow_pickle=False)
        if not isinstance(arrays, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not named arrays")
        with arrays:
            return {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error}).") from None


def npz_labels_path(images_path: str | Path) -> Path | None:
    """The labels file beside a single-array images ``.npz``, if there is one.

    Kuzushiji-MNIST's NumPy files pair ``kmnist-train-imgs.npz`` with
    ``kmnist-train-labels.npz``; ``*-images.npz`` pairs with ``*-labels.npz``.
    """
    images_path = Path(images_path)
    for images_part in ("-imgs.npz", "-images.npz"):
        if images_path.name.endswith(images_part):
            name = images_path.name.removesuffix(images_part) + "-labels.npz"
            if (images_path.parent / name).is_file():
                return images_path.parent / name
    return None


def load_npz(path: str | Path, split: str = "train") -> Dataset:
    """Loads images (and labels if present) from an ``.npz`` file.

    Two layouts are read: the Keras one of ``keras.datasets.mnist.load_data()``
    (``x_train``, optional ``y_train``, ``x_test``, ``y_test``; ``split`` picks
    ``x_{split}``), and a file holding a single array of images under any name (as
    ``np.savez(path, images)`` writes it), whose labels are read from the file
    :func:`npz_labels_path` finds beside it.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ValueError(f"No such file: {source}. Expected an .npz file of images.")
    contents = _read_npz(path)
    images_key, labels_key = f"x_{split}", f"y_{split}"
    labels, labels_where = contents.get(labels_key), repr(labels_key)
    if images_key not in contents and len(contents) == 1:
        (images_key,) = contents
        labels, labels_path = None, npz_labels_path(path)
        if labels_path is not None:
            labels_contents = _read_npz(labels_path)
            if len(labels_contents) != 1:
                raise ValueError(
                    f"{labels_path}: expected a single array of labels for {source}. "
                    f"Received arrays: {sorted(labels_contents)}"
                )
            (labels,) = labels_contents.values()
            labels_where = str(labels_path)
    if images_key not in contents:
        raise ValueError(
            f"{source}: has no array {images_key!r}. Expected the Keras layout "
            f"(x_train, y_train, x_test, y_test) or a single array of images. "
            f"Received arrays: {sorted(contents)}"
        )
    images = to_model_range(contents[images_key], source)
    labels = _check_labels(labels, len(images), source, labels_where)
    return Dataset(images, labels, source, identity=_file_identity(path))


def load_npy(path: str | Path) -> Dataset:
    """Loads one array of images, ``(N, height, width[, channels])``, from ``.npy``."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ValueError(f"No such file: {source}. Expected an .npy file of images.")
    try:
        array = np.load(path, allow_pickle=False)
        if not isinstance(array, np.ndarray):
            array.close()
            raise ValueError("it is an .npz archive; name it .npz")
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{source}: not a readable .npy file ({error}).") from None
    return Dataset(
        to_model_range(array, source), None, source, identity=_file_identity(path)
    )


def _read_maybe_gzipped(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":  # gzip's magic number, whatever the file is called
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"{path}: a damaged or truncated gzip file ({error}). "
            "Expected a complete .gz file: download or copy it again."
        ) from None


def read_idx(path: str | Path, dimensions: int) -> np.ndarray:
    """The array in an IDX file (LeCun's MNIST format), gzipped or not.

    ``dimensions`` is 3 for an images file and 1 for a labels file.
    """
    path = Path(path)
    raw = _read_maybe_gzipped(path)
    expected_magic = f"0x000008{dimensions:02x}"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path}: not an IDX file (wrong magic number). Expected "
            f"{expected_magic}, as LeCun's MNIST files start. "
            f"Received: 0x{raw[:4].hex()}"
        )
    if raw[3] != dimensions:
        hint = (
            " It looks like a labels file: pass its *-images-idx3-ubyte file."
            if raw[3] == 1
            else ""
        )
        raise ValueError(
            f"{path}: an IDX file of {raw[3]} dimensions. Expected {dimensions} "
            f"(magic {expected_magic}).{hint} Received: 0x{raw[:4].hex()}"
        )
    header = 4 + 4 * dimensions
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX file. Expected a {header}-byte header. "
            f"Received: {len(raw)} bytes"
        )
    shape = struct.unpack(f">{dimensions}I", raw[4:header])
    dtype = _IDX_TYPES[raw[2]]
    size = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != size:
        raise ValueError(
            f"{path}: truncated or padded IDX file. Expected {size} bytes of data "
            f"for shape {shape}. Received: {len(raw) - header} bytes"
        )
    array = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def idx_labels_path(images_path: str | Path) -> Path | None:
    """The labels file next to an IDX images file, gzipped or not, if there is one.

    ``train-images-idx3-ubyte.gz`` pairs with ``train-labels-idx1-ubyte[.gz]``.
    """
    images_path = Path(images_path)
    name = images_path.name.removesuffix(".gz")
    if "images" not in name or "idx3" not in name:
        return None
    labels_name = name.replace("images", "labels").replace("idx3", "idx1")
    for candidate in (labels_name, f"{labels_name}.gz"):
        if (images_path.parent / candidate).is_file():
            return images_path.parent / candidate
    return None


def load_idx(path: str | Path, labels_path: str | Path | None = None) -> Dataset:
    """Loads an IDX images file and, when found next to it, its labels file.

    Args:
        path: ``*-images-idx3-ubyte``, gzipped or not.
        labels_path: The labels file. Defaults to the one :func:`idx_labels_path`
            finds; without one the dataset has no labels.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No such file: {path}. Expected an IDX images file.")
    images = to_model_range(read_idx(path, 3), str(path))
    beside = idx_labels_path(path)
    # Labels from elsewhere than beside the images: loading the file again would not
    # find them, so the dataset has no identity.
    identity = (
        _file_identity(path)
        if labels_path is None or (beside is not None and Path(labels_path) == beside)
        else None
    )
    labels_path = beside if labels_path is None else Path(labels_path)
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path, 1)
        if len(labels) != len(images):
            raise ValueError(
                f"{path}: {len(images)} images but {labels_path} holds "
                f"{len(labels)} labels; they must match."
            )
    return Dataset(images, labels, str(path), identity=identity)


def idx_test_path(images_path: str | Path) -> Path | None:
    """The test images file beside an IDX training images file, if there is one.

    ``train-images-idx3-ubyte[.gz]`` (or ``X-train-images-idx3-ubyte``) pairs with
    the file named with ``train`` replaced by ``t10k`` or ``test``, gzipped or not.
    """
    images_path = Path(images_path)
    name = images_path.name.removesuffix(".gz")
    if "train" not in name:
        return None
    for test_word in ("t10k", "test"):
        test_name = name.replace("train", test_word)
        for candidate in (test_name, f"{test_name}.gz"):
            if (images_path.parent / candidate).is_file():
                return images_path.parent / candidate
    return None


def _file_identity(path: Path) -> DataSource:
    """A file read as it is: no channels converted, no resizing."""
    return DataSource("file", path=str(path), channels=None, resize=None)


def _check_channels(channels: int | None) -> None:
    if channels not in (None, 1, 3):
        raise ValueError(
            "`channels` must be 1 (grayscale), 3 (RGB) or None (keep the data's). "
            f"Received: channels={channels!r}"
        )


def _check_resize(resize: str) -> Image.Resampling | None:
    if resize not in RESIZE_METHODS:
        raise ValueError(
            f"`resize` must be one of {', '.join(RESIZE_METHODS)}. "
            f"Received: resize={resize!r}"
        )
    return RESIZE_METHODS[resize]


def _pixels(image: Image.Image, mode: str) -> np.ndarray:
    """uint8 ``(height, width, channels)`` pixels of a Pillow image in ``mode``."""
    if image.mode.startswith("I"):
        # 16-bit grayscale: Pillow's own conversion to "L" clips instead of scaling.
        wide = np.asarray(image, dtype=np.float64) / 257
        image = Image.fromarray(np.round(wide).clip(0, 255).astype(np.uint8))
    pixels = np.asarray(image.convert(mode))
    return pixels[..., np.newaxis] if pixels.ndim == 2 else pixels


def _image_files(folder: Path) -> list[Path]:
    # Hidden files are left out: macOS leaves "._name.png" companions that are not
    # images, and ".DS_Store" beside them.
    files = [
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(files, key=lambda path: path.relative_to(folder).parts)


def load_image_folder(
    folder: str | Path,
    channels: int | None = None,
    resize: str = DEFAULT_RESIZE,
    skip_bad_images: bool = False,
) -> Dataset:
    """Reads every image in ``folder`` and its subfolders with Pillow.

    Images are taken in the sorted order of their paths, so the order is the same on
    every machine. When every image lies in a subfolder, the first-level subfolder's
    name is the image's class: labels count the sorted class names from 0.

    Args:
        folder: A folder of PNG, JPEG, BMP, GIF, TIFF, WebP or PNM images.
        channels: 1 (grayscale) or 3 (RGB). Defaults to 1 when every image is
            grayscale, else 3.
        resize: A :data:`RESIZE_METHODS` name: images of another size are cropped
            to a centred square and resized to 28x28 with it. ``"none"`` makes them
            an error.
        skip_bad_images: Leave out files Pillow cannot read instead of stopping.
    """
    folder = Path(folder)
    _check_channels(channels)
    method = _check_resize(resize)
    if not folder.is_dir():
        raise ValueError(f"No such folder: {folder}. Expected a folder of images.")
    files = _image_files(folder)
    pixels, kept, skipped = [], [], []
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            if skip_bad_images:
                skipped.append(path)
                continue
            raise ValueError(
                f"{path}: Pillow cannot read this image ({err}). Remove it, or pass "
                "--skip-bad-images (skip_bad_images=True) to leave such files out."
            ) from None
        if image.size != IMAGE_SIZE[::-1] and method is None:
            raise ValueError(
                f"{path}: the image is {image.width}x{image.height} pixels and "
                "resizing is off (--resize none). Expected 28x28. Received: "
                f"{image.width}x{image.height}"
            )
        gray = channels == 1 or (channels is None and image.mode in _GRAY_MODES)
        image_pixels = _pixels(image, "L" if gray else "RGB")
        if image_pixels.shape[:2] != IMAGE_SIZE:
            # Converted first, so that palette images are filtered, not sampled.
            fitted = ImageOps.fit(
                Image.fromarray(image_pixels.squeeze(-1) if gray else image_pixels),
                IMAGE_SIZE[::-1],
                method=method,
            )
            image_pixels = _pixels(fitted, "L" if gray else "RGB")
        pixels.append(image_pixels)
        kept.append(path)
    if not kept:
        raise ValueError(_no_images_message(folder, files, skipped))
    if any(image_pixels.shape[-1] == 3 for image_pixels in pixels):
        # Grayscale images in a colour folder: their gray repeated, as convert("RGB").
        pixels = [np.broadcast_to(item, (*IMAGE_SIZE, 3)) for item in pixels]
    images = np.stack(pixels)
    labels, class_names = _folder_labels(folder, kept)
    source = str(folder)
    if skipped:
        source += f" ({len(skipped)} unreadable images skipped, first {skipped[0]})"
    identity = DataSource(
        "folder",
        path=str(folder),
        channels=channels,
        resize=resize,
        skip_bad_images=skip_bad_images,
    )
    return Dataset(
        to_model_range(images, source), labels, source, class_names, identity
    )


def _folder_labels(
    folder: Path, files: list[Path]
) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    classes = [path.relative_to(folder).parts for path in files]
    if any(len(parts) < 2 for parts in classes):
        return None, None
    class_names = tuple(sorted({parts[0] for parts in classes}))
    index = {name: label for label, name in enumerate(class_names)}
    labels = np.array([index[parts[0]] for parts in classes], dtype=np.int64)
    return labels, class_names


def _no_images_message(folder: Path, files: list[Path], skipped: list[Path]) -> str:
    if files:
        return (
            f"{folder}: none of its {len(files)} image files could be read "
            f"(first: {skipped[0]}). Expected images Pillow can open."
        )
    data_files = sorted(
        path.name
        for path in folder.iterdir()
        if path.suffix in (".npz", ".npy")
        or _IDX_NAME.search(path.name.removesuffix(".gz"))
    )
    hint = ""
    if data_files:
        hint = f" It holds {', '.join(data_files)}: pass one of those files."
    return (
        f"{folder}: holds no images. Expected {', '.join(IMAGE_SUFFIXES)} files, "
        f"in it or in its subfolders.{hint}"
    )


def convert_channels(
    images: np.ndarray, channels: int | None, source: str
) -> np.ndarray:
    """Images in [-1, 1] with ``channels`` channels (``None``: unchanged).

    Grayscale is repeated into RGB; RGB becomes grayscale with the ITU-R 601-2 luma
    weights Pillow's ``convert("L")`` uses, so arrays and image folders agree.
    """
    _check_channels(channels)
    present = images.shape[-1]
    if present not in (1, 3):
        hint = (
            " They look channels-first: move the channel axis last."
            if images.shape[1] in (1, 3)
            else ""
        )
        raise ValueError(
            f"{source}: images must have 1 (grayscale) or 3 (RGB) channels, last."
            f"{hint} Received: shape {images.shape}"
        )
    if channels is None or channels == present:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (images @ luma)[..., np.newaxis].astype(np.float32)


def resize_images(images: np.ndarray, resize: str, source: str) -> np.ndarray:
    """Images in [-1, 1] brought to 28x28 as :func:`load_image_folder` does."""
    method = _check_resize(resize)
    height, width = images.shape[1:3]
    if (height, width) == IMAGE_SIZE:
        return images
    if method is None:
        raise ValueError(
            f"{source}: images are {width}x{height} pixels and resizing is off "
            f"(--resize none). Expected 28x28. Received: shape {images.shape}"
        )
    resized = np.empty((len(images), *IMAGE_SIZE, images.shape[-1]), np.float32)
    for index, image in enumerate(images):
        for channel in range(images.shape[-1]):
            plane = Image.fromarray(np.ascontiguousarray(image[..., channel]), "F")
            plane = ImageOps.fit(plane, IMAGE_SIZE[::-1], method=method)
            resized[index, ..., channel] = np.asarray(plane)
    # Lanczos and bicubic overshoot at edges; the models' range is [-1, 1].
    return np.clip(resized, -1, 1)


def load_path(
    path: str | Path,
    channels: int | None = None,
    resize: str = DEFAULT_RESIZE,
    skip_bad_images: bool = False,
) -> Dataset:
    """Any supported file or folder as a 28x28 dataset with 1 or 3 channels.

    Args:
        path: An ``.npz`` (Keras layout or a single array), an ``.npy``, an IDX
            images file (``*-images-idx3-ubyte``, gzipped or not; its labels file
            is read when it lies next to it) or a folder of images.
        channels: 1 or 3 to convert to; ``None`` keeps the data's own.
        resize: How images of another size become 28x28: a :data:`RESIZE_METHODS`
            name. ``"none"`` makes other sizes an error.
        skip_bad_images: In a folder, leave out files Pillow cannot read.

    The dataset's ``identity`` records the path (absolute) and these options, so
    that its test split, when it has one, can be found and read alike.

    Raises:
        ValueError: the path is missing, empty or not what its name says; the
            message names the file and what was expected.
    """
    path = Path(path)
    _check_channels(channels)
    _check_resize(resize)
    if path.is_dir():
        return load_image_folder(path, channels, resize, skip_bad_images)
    if not path.exists():
        raise ValueError(f"No such file: {path}. Expected {SUPPORTED}.")
    dataset = _load_file(path, "train", channels, resize)
    identity = DataSource("file", path=str(path), channels=channels, resize=resize)
    return dataclasses.replace(dataset, identity=identity)


def _load_file(
    path: Path, split: str, channels: int | None, resize: str | None
) -> Dataset:
    """An .npz (its ``split``), .npy or IDX file, converted and resized.

    ``resize`` ``None`` keeps the images' own size.
    """
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".npz"):
        dataset = load_npz(path, split)
    elif name.endswith(".npy"):
        dataset = load_npy(path)
    elif _IDX_NAME.search(name):
        dataset = load_idx(path)
    elif name.endswith(IMAGE_SUFFIXES):
        raise ValueError(
            f"{path}: a single image. Expected {SUPPORTED}: pass the folder that "
            "holds your images."
        )
    else:
        raise ValueError(
            f"{path}: not a supported file type. Expected {SUPPORTED}. "
            f"Received: {path.name}"
        )
    images = convert_channels(dataset.images, channels, dataset.source)
    if resize is not None:
        images = resize_images(images, resize, dataset.source)
    return dataclasses.replace(dataset, images=images)


def with_channels(dataset: Dataset, channels: int | None) -> Dataset:
    """``dataset`` with its images converted to ``channels`` (``None``: unchanged).

    Its identity says the channels too, so that loading it again converts alike.
    """
    if channels is None:
        return dataset
    images = convert_channels(dataset.images, channels, dataset.source)
    identity = dataset.identity
    if identity is not None:
        identity = dataclasses.replace(identity, channels=channels)
    return dataclasses.replace(dataset, images=images, identity=identity)


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
    return Dataset(
        dataset.images,
        dataset.labels,
        f"mnist ({split})",
        identity=DataSource.builtin("mnist"),
    )
