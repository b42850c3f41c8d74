"""Local files read into a :class:`Dataset`: ``.npz``, ``.npy``, IDX, image folders.

Every reader returns images as :mod:`gan_cookbook.pixels` makes them: float32 in
[-1, 1], shape ``(N, height, width, channels)``. The readers record no identity
(``Dataset.identity`` stays ``None``): :mod:`gan_cookbook.data`, which imports this
module, holds the loaders users call (``load_path``, ``load_npz``, ...), which read
with these and record where the data came from. Imports :mod:`gan_cookbook.pixels`
(and :mod:`gan_cookbook.checks`) only, and no Keras.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from gan_cookbook.checks import check_integer
from gan_cookbook.pixels import (
    DEFAULT_RESIZE,
    IMAGE_SIZE,
    check_channels,
    check_resize,
    convert_channels,
    fit_pixels,
    image_pixels,
    is_grayscale,
    resize_images,
    to_model_range,
)

IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
    ".pgm", ".ppm", ".pbm", ".pnm",
)  # fmt: skip

SUPPORTED = (
    "an .npz (Keras layout or a single array), an .npy, an IDX file "
    "(*-images-idx3-ubyte, gzipped or not) or a folder of images"
)

_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_NAME = re.compile(r"idx\d+-ubyte$")


@dataclass(frozen=True)
class Dataset:
    """Images ready for training, with their labels when the source has them.

    Attributes:
        images: float32 in [-1, 1], shape ``(N, height, width, channels)``.
        labels: integer class labels, shape ``(N,)``, or ``None``.
        source: where the images came from, for messages and ``recipe.json``.
        class_names: the name of each label (folder names for an image folder), or
            ``None`` where the source does not name its classes.
        identity: how to load the data again, its test split included: a
            :class:`gan_cookbook.data.DataSource`, which every loader of
            :mod:`gan_cookbook.data` sets; ``None`` for data made otherwise.
            :meth:`limit` keeps it: it names the full data, which evaluation
            measures against. Images changed otherwise should drop it.
    """

    images: np.ndarray
    labels: np.ndarray | None
    source: str
    class_names: tuple[str, ...] | None = None
    identity: Any = None

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
        count = check_integer("limit", count, optional=True)
        if count is None:
            return self
        labels = None if self.labels is None else self.labels[:count]
        return dataclasses.replace(self, images=self.images[:count], labels=labels)


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


# --- .npz and .npy -------------------------------------------------------------------


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


def _read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
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


def read_npz(path: str | Path, split: str = "train") -> Dataset:
    """Reads images (and labels if present) from an ``.npz`` file.

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
    contents = _read_npz_arrays(path)
    images_key, labels_key = f"x_{split}", f"y_{split}"
    labels, labels_where = contents.get(labels_key), repr(labels_key)
    if images_key not in contents and len(contents) == 1:
        (images_key,) = contents
        labels, labels_path = None, npz_labels_path(path)
        if labels_path is not None:
            labels_contents = _read_npz_arrays(labels_path)
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
    return Dataset(images, labels, source)


def read_npy(path: str | Path) -> Dataset:
    """Reads one array of images, ``(N, height, width[, channels])``, from ``.npy``."""
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
    return Dataset(to_model_range(array, source), None, source)


# --- IDX (LeCun's MNIST format) ------------------------------------------------------


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


def read_idx_images(path: str | Path, labels_path: str | Path | None = None) -> Dataset:
    """Reads an IDX images file and, when found next to it, its labels file.

    Args:
        path: ``*-images-idx3-ubyte``, gzipped or not.
        labels_path: The labels file. Defaults to the one :func:`idx_labels_path`
            finds; without one the dataset has no labels.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No such file: {path}. Expected an IDX images file.")
    images = to_model_range(read_idx(path, 3), str(path))
    labels_path = idx_labels_path(path) if labels_path is None else Path(labels_path)
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path, 1)
        if len(labels) != len(images):
            raise ValueError(
                f"{path}: {len(images)} images but {labels_path} holds "
                f"{len(labels)} labels; they must match."
            )
    return Dataset(images, labels, str(path))


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


def find_test_split(path: str | Path) -> Path | None:
    """The file that holds the test split of the data file ``path``, if one does.

    An ``.npz`` holds its own (``x_test``); an IDX images file's is the file named
    with ``train`` replaced by ``t10k`` or ``test`` beside it (:func:`idx_test_path`).
    """
    path = Path(path)
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


# --- folders of images ---------------------------------------------------------------


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


def read_image_folder(
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
        resize: A :data:`~gan_cookbook.pixels.RESIZE_METHODS` name: images of another
            size are cropped to a centred square and resized to 28x28 with it.
            ``"none"`` makes them an error.
        skip_bad_images: Leave out files Pillow cannot read instead of stopping.
    """
    folder = Path(folder)
    check_channels(channels)
    method = check_resize(resize)
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
        gray = channels == 1 or (channels is None and is_grayscale(image))
        one_image = image_pixels(image, "L" if gray else "RGB")
        if one_image.shape[:2] != IMAGE_SIZE:
            # Converted first, so that palette images are filtered, not sampled.
            one_image = fit_pixels(one_image, method)
        pixels.append(one_image)
        kept.append(path)
    if not kept:
        raise ValueError(_no_images_message(folder, files, skipped))
    if any(one_image.shape[-1] == 3 for one_image in pixels):
        # Grayscale images in a colour folder: their gray repeated, as convert("RGB").
        pixels = [np.broadcast_to(item, (*IMAGE_SIZE, 3)) for item in pixels]
    images = np.stack(pixels)
    labels, class_names = _folder_labels(folder, kept)
    source = str(folder)
    if skipped:
        source += f" ({len(skipped)} unreadable images skipped, first {skipped[0]})"
    return Dataset(to_model_range(images, source), labels, source, class_names)


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


# --- any file or folder --------------------------------------------------------------


def read_path(
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
        resize: How images of another size become 28x28: a
            :data:`~gan_cookbook.pixels.RESIZE_METHODS` name. ``"none"`` makes other
            sizes an error.
        skip_bad_images: In a folder, leave out files Pillow cannot read.

    Raises:
        ValueError: the path is missing, empty or not what its name says; the
            message names the file and what was expected.
    """
    path = Path(path)
    check_channels(channels)
    check_resize(resize)
    if path.is_dir():
        return read_image_folder(path, channels, resize, skip_bad_images)
    if not path.exists():
        raise ValueError(f"No such file: {path}. Expected {SUPPORTED}.")
    return read_file(path, "train", channels, resize)


def read_file(
    path: Path, split: str, channels: int | None, resize: str | None
) -> Dataset:
    """An .npz (its ``split``), .npy or IDX file, converted and resized.

    ``resize`` ``None`` keeps the images' own size.
    """
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".npz"):
        dataset = read_npz(path, split)
    elif name.endswith(".npy"):
        dataset = read_npy(path)
    elif _IDX_NAME.search(name):
        dataset = read_idx_images(path)
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
