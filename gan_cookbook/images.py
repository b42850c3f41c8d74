"""Image grids: generated batches to PNG files with Pillow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from gan_cookbook.files import replacing


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Maps images in [-1, 1] to uint8 pixels (values outside are clipped)."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + 1) * 127.5), 0, 255).astype(np.uint8)


def make_grid(
    images: np.ndarray, columns: int | None = None, padding: int = 2
) -> np.ndarray:
    """Tiles ``(N, height, width, channels)`` images in [-1, 1] into one uint8 image.

    Args:
        images: The batch to tile.
        columns: Images per row. Defaults to the square root of N, rounded up.
        padding: Pixels of black between and around the images. Defaults to 2.

    Returns:
        ``(rows * (height + padding) + padding, ..., channels)`` uint8 pixels.
    """
    images = to_uint8(images)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
            "`images` must be a non-empty batch of shape (N, height, width, channels). "
            f"Received: shape {images.shape}"
        )
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros(
        (
            rows * (height + padding) + padding,
            columns * (width + padding) + padding,
            channels,
        ),
        dtype=np.uint8,
    )
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_grid(
    images: np.ndarray, path: str | Path, columns: int | None = None, scale: int = 1
) -> Path:
    """Writes a grid of images in [-1, 1] to a PNG file (grayscale or RGB).

    Args:
        images: ``(N, height, width, channels)``, 1 or 3 channels.
        path: The PNG to write; its folder is created.
        columns: Images per row. Defaults to a square grid.
        scale: Integer upscaling of the whole grid (nearest neighbour). Defaults to 1.
    """
    grid = make_grid(images, columns)
    if grid.shape[-1] == 1:
        picture = Image.fromarray(grid[..., 0])
    elif grid.shape[-1] == 3:
        picture = Image.fromarray(grid)
    else:
        raise ValueError(
            f"`images` must have 1 or 3 channels. Received: {grid.shape[-1]} channels"
        )
    if scale != 1:
        picture = picture.resize(
            (picture.width * scale, picture.height * scale), Image.Resampling.NEAREST
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as temporary:
        picture.save(temporary)
    return path


def save_gif(
    frames: list[np.ndarray],
    path: str | Path,
    duration: int | list[int] = 200,
    scale: int = 1,
) -> Path:
    """Writes uint8 frames ``(height, width, 1 or 3)`` as a looping animated GIF.

    Pillow folds identical consecutive frames into one that shows for their summed
    duration, so a GIF may hold fewer frames than were given when some repeat.

    Args:
        frames: The pictures, all of one size.
        path: The GIF to write; its folder is created.
        duration: Milliseconds each frame shows, one value or one per frame.
        scale: Integer upscaling of every frame (nearest neighbour). Defaults to 1.
    """
    if not frames:
        raise ValueError("`frames` must hold at least one picture. Received: 0 frames")
    pictures = []
    for frame in frames:
        frame = np.asarray(frame, dtype=np.uint8)
        picture = Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)
        if scale != 1:
            picture = picture.resize(
                (picture.width * scale, picture.height * scale),
                Image.Resampling.NEAREST,
            )
        pictures.append(picture)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as temporary:
        pictures[0].save(
            temporary,
            save_all=True,
            append_images=pictures[1:],
            duration=duration,
            loop=0,
        )
    return path
