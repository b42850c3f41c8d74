import numpy as np
import pytest
from PIL import Image

from gan_cookbook.images import make_grid, save_grid, to_uint8


def test_to_uint8_maps_the_tanh_range():
    np.testing.assert_array_equal(
        to_uint8(np.array([-1.5, -1.0, 0.0, 1.0, 2.0])), [0, 0, 128, 255, 255]
    )


def test_grayscale_grid_decodes_with_the_images_in_place(tmp_path):
    images = -np.ones((64, 28, 28, 1), dtype="float32")
    images[9] = 1.0  # second row, second column
    path = save_grid(images, tmp_path / "nested" / "grid.png", columns=8)
    picture = Image.open(path)
    assert picture.mode == "L" and picture.size == (8 * 30 + 2, 8 * 30 + 2)
    pixels = np.asarray(picture)
    assert (pixels[32:60, 32:60] == 255).all()
    assert pixels.sum() == 255 * 28 * 28  # padding and other images black


def test_rgb_grid_and_scale(tmp_path):
    images = np.zeros((6, 28, 28, 3), dtype="float32")
    images[..., 0] = 1.0
    picture = Image.open(save_grid(images, tmp_path / "rgb.png", columns=3, scale=2))
    assert picture.mode == "RGB"
    assert picture.size == (2 * (3 * 30 + 2), 2 * (2 * 30 + 2))
    assert tuple(np.asarray(picture)[4, 4]) == (255, 128, 128)


def test_grid_rejects_bad_batches():
    with pytest.raises(ValueError, match=r"Received: shape \(0, 28, 28, 1\)"):
        make_grid(np.zeros((0, 28, 28, 1)))
    with pytest.raises(ValueError, match="Received: 2 channels"):
        save_grid(np.zeros((4, 28, 28, 2)), "unused.png")
