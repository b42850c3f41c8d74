"""Pixel conversions: images to the models' range, channels, size; no files, no Keras.

Arrays in, arrays out (and Pillow images in :func:`image_pixels`): the models' range is
float32 in [-1, 1], shape ``(N, height, width, channels)``, the range of the
generators' ``tanh``, at :data:`IMAGE_SIZE`. Imports nothing of the package:
:mod:`gan_cookbook.loaders` (files) and :mod:`gan_cookbook.data` (data sources) import
it, and so does the command line for :data:`RESIZE_METHODS`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

IMAGE_SIZE = (28, 28)
"""Height and width every :func:`gan_cookbook.data.load_path` dataset has."""

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

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
"""Pillow's modes of grayscale images."""

_UINT8_TO_MODEL_RANGE = (np.arange(256, dtype=np.float32) - 127.5) / 127.5


def check_channels(channels: int | None) -> None:
    """Raises a ``ValueError`` unless ``channels`` is 1, 3 or ``None``."""
    if channels not in (None, 1, 3):
        raise ValueError(
            "`channels` must be 1 (grayscale), 3 (RGB) or None (keep the data's). "
            f"Received: channels={channels!r}"
        )


def check_resize(resize: str) -> Image.Resampling | None:
    """The Pillow filter of a :data:`RESIZE_METHODS` name (``None`` for ``"none"``).

    Raises:
        ValueError: ``resize`` is not one of :data:`RESIZE_METHODS`.
    """
    if resize not in RESIZE_METHODS:
        raise ValueError(
            f"`resize` must be one of {', '.join(RESIZE_METHODS)}. "
            f"Received: resize={resize!r}"
        )
    return RESIZE_METHODS[resize]


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


def convert_channels(
    images: np.ndarray, channels: int | None, source: str
) -> np.ndarray:
    """Images in [-1, 1] with ``channels`` channels (``None``: unchanged).

    Grayscale is repeated into RGB; RGB becomes grayscale with the ITU-R 601-2 luma
    weights Pillow's ``convert("L")`` uses, so arrays and image folders agree.
    """
    check_channels(channels)
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
    """Images in [-1, 1] brought to 28x28 as an image folder's are (:func:`fit_pixels`).

    Raises:
        ValueError: ``resize`` is ``"none"`` and the images are another size.
    """
    method = check_resize(resize)
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


def is_grayscale(image: Image.Image) -> bool:
    """Whether a Pillow image's mode is one of :data:`GRAY_MODES`."""
    return image.mode in GRAY_MODES


def image_pixels(image: Image.Image, mode: str) -> np.ndarray:
    """uint8 ``(height, width, channels)`` pixels of a Pillow image in ``mode``."""
    if image.mode.startswith("I"):
        # 16-bit grayscale: Pillow's own conversion to "L" clips instead of scaling.
        wide = np.asarray(image, dtype=np.float64) / 257
        image = Image.fromarray(np.round(wide).clip(0, 255).astype(np.uint8))
    pixels = np.asarray(image.convert(mode))
    return pixels[..., np.newaxis] if pixels.ndim == 2 else pixels


def fit_pixels(pixels: np.ndarray, method: Image.Resampling) -> np.ndarray:
    """uint8 ``(height, width, 1 or 3)`` pixels cropped to a centred square and
    resized to :data:`IMAGE_SIZE` with the Pillow filter ``method``."""
    gray = pixels.shape[-1] == 1
    fitted = ImageOps.fit(
        Image.fromarray(pixels.squeeze(-1) if gray else pixels),
        IMAGE_SIZE[::-1],
        method=method,
    )
    return image_pixels(fitted, "L" if gray else "RGB")
