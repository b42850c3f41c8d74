import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_cookbook.data import DataSource, load_mnist, load_npz, mnist_path
from gan_cookbook.loaders import Dataset, with_channels
from gan_cookbook.pixels import to_model_range

from conftest import write_npz


def test_shipped_mnist_loads_offline_in_the_model_range():
    train = load_mnist()
    assert train.images.shape == (60000, 28, 28, 1) and train.images.dtype == np.float32
    assert train.images.min() == -1.0 and train.images.max() == 1.0
    assert list(train.labels[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(train.labels).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]  # fmt: skip
    # Mean pixel 33.318 of 255, mapped to [-1, 1].
    assert float(train.images.mean()) == pytest.approx(33.318 / 127.5 - 1, abs=1e-4)
    test = load_mnist("test")
    assert test.images.shape == (10000, 28, 28, 1)
    assert list(test.labels[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert mnist_path().stat().st_size > 10_000_000


def test_npz_in_keras_layout(tmp_path):
    path = write_npz(tmp_path / "digits.npz", count=20)
    dataset = load_npz(path)
    raw = np.load(path)["x_train"]
    assert dataset.images.shape == (20, 28, 28, 1)
    np.testing.assert_allclose(dataset.images[..., 0], (raw - 127.5) / 127.5)
    assert len(dataset.labels) == 20 and dataset.source == str(path)
    rgb = load_npz(write_npz(tmp_path / "rgb.npz", count=4, channels=3))
    assert rgb.images.shape == (4, 28, 28, 3)
    limited = dataset.limit(5)
    assert limited.images.shape[0] == 5 and len(limited.labels) == 5


def test_every_uint8_value_maps_to_its_closed_form():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    scaled = to_model_range(pixels, "array")
    assert scaled.dtype == np.float32 and scaled.shape == (1, 16, 16, 1)
    expected = (np.arange(256, dtype=np.float64) - 127.5) / 127.5
    np.testing.assert_allclose(scaled.reshape(-1), expected, rtol=0, atol=1e-7)
    assert scaled.min() == -1 and scaled.max() == 1


def test_float_images_in_unit_range_are_rescaled():
    images = np.linspace(0, 1, 2 * 28 * 28, dtype="float32").reshape(2, 28, 28)
    scaled = to_model_range(images, "array")
    assert scaled.min() == -1 and scaled.max() == 1 and scaled.shape == (2, 28, 28, 1)
    already = to_model_range(images * 2 - 1, "array")
    np.testing.assert_allclose(already, scaled)


@pytest.mark.parametrize(
    "arrays, message",
    [
        (
            {"images": np.zeros((2, 28, 28), np.uint8), "masks": np.zeros(2)},
            r"no array 'x_train'.*\['images', 'masks'\]",
        ),
        ({"x_train": np.zeros((0, 28, 28), np.uint8)}, "holds no images"),
        ({"x_train": np.zeros((3, 28), np.uint8)}, r"Received: shape \(3, 28\)"),
        ({"x_train": np.full((2, 28, 28), 3.0)}, "Received: values from 3.0 to 3.0"),
        ({"x_train": np.zeros((2, 28, 28), np.int64)}, "Received: dtype int64"),
        (
            {"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.zeros(3)},
            "2 images but 3 labels",
        ),
    ],
)
def test_bad_npz_contents_name_the_file(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message) as error:
        load_npz(path)
    assert str(path) in str(error.value)


def test_missing_or_broken_files(tmp_path):
    with pytest.raises(ValueError, match="No such file: .*missing.npz"):
        load_npz(tmp_path / "missing.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="broken.npz: not a readable .npz"):
        load_npz(broken)
    single = tmp_path / "single.npz"
    with single.open("wb") as file:
        np.save(file, np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(
        ValueError, match="single.npz: not a readable .npz.*single .npy"
    ):
        load_npz(single)
    with pytest.raises(ValueError, match="Received: split='valid'"):
        load_mnist("valid")


# --- DataSource: the data's identity ------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        DataSource.builtin("mnist"),
        DataSource.builtin("kmnist", channels=3),
        DataSource("file", path="/data/train-images-idx3-ubyte.gz", resize=None),
        DataSource("file", path="/data/digits.npz", channels=1, resize="area"),
        DataSource("folder", path="/data/pets", channels=3, skip_bad_images=True),
    ],
)
def test_data_source_round_trips_through_its_json_config(source):
    config = source.to_config()
    assert json.loads(json.dumps(config)) == config
    assert DataSource.from_config(json.loads(json.dumps(config))) == source


def test_data_source_paths_are_stored_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = DataSource.from_path("images")
    assert source.kind == "file" and source.path == str(tmp_path / "images")
    (tmp_path / "images").mkdir()
    folder = DataSource.from_path("images", channels=1)
    assert folder.kind == "folder" and os.path.isabs(folder.path)
    assert folder.to_config() == {
        "kind": "folder", "name": None, "path": str(tmp_path / "images"),
        "channels": 1, "resize": "lanczos", "skip_bad_images": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    "config, message",
    [
        ({"kind": "builtin", "name": "mnist", "colour": 1}, "Unknown key 'colour'"),
        ({"name": "mnist"}, "needs the key 'kind'"),
        (
            {"kind": "url", "path": "x"},
            "`kind` must be one of builtin, file, folder. Received: kind='url'",
        ),
        ({"kind": "builtin", "name": "cifar10"}, "Received: name='cifar10'"),
        ({"kind": "builtin", "name": "mnist", "path": "/x"}, "Received: path='/x'"),
        (
            {"kind": "file"},
            "`path` of a file data source must be a path. Received: path=None",
        ),
        ({"kind": "folder", "path": "/x", "channels": 2}, "Received: channels=2"),
        ({"kind": "folder", "path": "/x", "resize": None}, "Received: resize=None"),
        ({"kind": "file", "path": "/x", "resize": "cubic"}, "Received: resize='cubic'"),
        (
            {"kind": "folder", "path": "/x", "skip_bad_images": "yes"},
            "Received: skip_bad_images='yes'",
        ),
        (["builtin", "mnist"], "must be a dict. Received: list"),
    ],
)
def test_a_bad_data_source_config_names_the_key(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        DataSource.from_config(config)


def test_shipped_mnist_has_its_identity_and_limit_keeps_it():
    train = load_mnist()
    assert train.identity == DataSource.builtin("mnist")
    assert train.limit(10).identity == train.identity
    rgb = with_channels(train.limit(10), 3)
    assert rgb.images.shape == (10, 28, 28, 3)
    assert rgb.identity == DataSource.builtin("mnist", channels=3)
    again, test = rgb.identity.load_splits()
    assert again.images.shape == (60000, 28, 28, 3) and again.identity == rgb.identity
    assert test.source == "mnist (test)" and test.images.shape == (10000, 28, 28, 3)
    np.testing.assert_array_equal(test.labels, load_mnist("test").labels)
    assert Dataset(train.images[:2], None, "made here").identity is None


@pytest.mark.parametrize("count", [0, -3, 2.0, True, "5"])
def test_limit_takes_a_positive_integer_or_none(count):
    dataset = Dataset(np.zeros((4, 28, 28, 1), np.float32), np.arange(4), "made here")
    with pytest.raises(ValueError) as error:
        dataset.limit(count)
    assert str(error.value) == (
        f"`limit` must be an integer of at least 1. Received: limit={count!r}"
    )
    assert dataset.limit(None) is dataset
    assert dataset.limit(np.int64(3)).labels.tolist() == [0, 1, 2]


def test_the_data_modules_load_shipped_mnist_without_keras():
    """pixels, loaders and data import no backend: only a download needs Keras."""
    code = (
        "import sys\n"
        "from gan_cookbook.data import load_mnist\n"
        "import gan_cookbook.loaders, gan_cookbook.pixels\n"
        "assert load_mnist('test').images.shape == (10000, 28, 28, 1)\n"
        "print(sorted(name for name in ('keras', 'tensorflow', 'jax', 'torch')"
        " if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
