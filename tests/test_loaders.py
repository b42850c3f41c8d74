"""Loaders for local files and folders, and the cached downloads, on data made here."""

import dataclasses
import gzip
import hashlib
import struct

import numpy as np
import pytest
from PIL import Image

from gan_cookbook import data, recipes
from gan_cookbook.data import (
    DataSource,
    load_idx,
    load_image_folder,
    load_npy,
    load_npz,
    load_path,
)
from gan_cookbook.loaders import idx_labels_path, idx_test_path, read_idx, with_channels
from gan_cookbook.pixels import convert_channels
from gan_cookbook.recipe import Recipe


def pixels(count, shape=(28, 28), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, *shape), np.uint8)


def idx_bytes(array):
    """LeCun's layout: 0, 0, type 0x08 (ubyte), rank, big-endian sizes, data."""
    header = struct.pack(f">HBB{array.ndim}I", 0, 0x08, array.ndim, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path, array, gz):
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def model_range(uint8_pixels):
    return (uint8_pixels.astype(np.float32) - 127.5) / 127.5


def write_images(folder, arrays, suffix=".png"):
    """One image file per array, named 000.png, 001.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, array in enumerate(arrays):
        Image.fromarray(array).save(folder / f"{index:03d}{suffix}")
    return folder


# --- IDX ---------------------------------------------------------------------------


@pytest.mark.parametrize("images_gz, labels_gz", [(True, True), (False, False),
                                                  (True, False)])  # fmt: skip
def test_idx_images_with_their_labels(tmp_path, images_gz, labels_gz):
    images, labels = pixels(7), np.arange(7, dtype=np.uint8) % 10
    suffix = ".gz" if images_gz else ""
    path = write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, images_gz)
    labels_name = "train-labels-idx1-ubyte" + (".gz" if labels_gz else "")
    write_idx(tmp_path / labels_name, labels, labels_gz)
    assert idx_labels_path(path) == tmp_path / labels_name
    dataset = load_path(path)
    assert dataset.images.shape == (7, 28, 28, 1)
    assert dataset.images.dtype == np.float32
    np.testing.assert_array_equal(dataset.images[..., 0], model_range(images))
    assert dataset.labels.tolist() == labels.tolist()
    assert dataset.source == str(path)


def test_idx_with_dotted_names_and_without_labels(tmp_path):
    images = pixels(3)
    path = write_idx(tmp_path / "t10k-images.idx3-ubyte", images, gz=False)
    assert load_path(path).labels is None
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", np.array([4, 5, 6]), gz=False)
    assert load_path(path).labels.tolist() == [4, 5, 6]


def test_idx_reads_gzip_by_content_not_by_name(tmp_path):
    images = pixels(2)
    path = tmp_path / "misnamed-images-idx3-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(path, 3), images)


# --- .npz and .npy -------------------------------------------------------------------


def test_npz_keras_layout_and_single_array(tmp_path):
    images, labels = pixels(5), np.arange(5)
    np.savez(tmp_path / "keras.npz", x_train=images, y_train=labels, x_test=images[:2])
    dataset = load_path(tmp_path / "keras.npz")
    np.testing.assert_array_equal(dataset.images[..., 0], model_range(images))
    assert dataset.labels.tolist() == [0, 1, 2, 3, 4]
    # KMNIST's NumPy files hold one array called arr_0.
    np.savez_compressed(tmp_path / "single.npz", images)
    single = load_path(tmp_path / "single.npz")
    np.testing.assert_array_equal(single.images, dataset.images)
    assert single.labels is None


def test_single_array_npz_pairs_with_its_labels_file(tmp_path):
    images, labels = pixels(6), np.arange(6, dtype=np.uint8)
    # Kuzushiji-MNIST's NumPy layout: two files, one array called arr_0 in each.
    np.savez_compressed(tmp_path / "kmnist-train-imgs.npz", images)
    np.savez_compressed(tmp_path / "kmnist-train-labels.npz", labels)
    dataset = load_path(tmp_path / "kmnist-train-imgs.npz")
    np.testing.assert_array_equal(dataset.images[..., 0], model_range(images))
    assert dataset.labels.tolist() == labels.tolist()
    np.savez(tmp_path / "kmnist-train-labels.npz", labels[:5])
    assert message(load_path, tmp_path / "kmnist-train-imgs.npz") == (
        f"{tmp_path / 'kmnist-train-imgs.npz'}: 6 images but 5 labels in "
        f"{tmp_path / 'kmnist-train-labels.npz'}; they must match."
    )


def test_npy_uint8_and_float(tmp_path):
    images = pixels(4, (28, 28, 3))
    np.save(tmp_path / "colour.npy", images)
    dataset = load_path(tmp_path / "colour.npy")
    assert dataset.images.shape == (4, 28, 28, 3) and dataset.labels is None
    np.testing.assert_array_equal(dataset.images, model_range(images))
    np.save(tmp_path / "unit.npy", images.astype(np.float32) / 255)
    np.testing.assert_allclose(
        load_path(tmp_path / "unit.npy").images, dataset.images, atol=1e-6
    )


def test_channels_are_converted_like_pillow(tmp_path):
    colour = np.zeros((1, 28, 28, 3), np.uint8)
    colour[..., 0], colour[..., 1], colour[..., 2] = 200, 100, 50
    np.save(tmp_path / "colour.npy", colour)
    gray = load_path(tmp_path / "colour.npy", channels=1).images
    expected = np.asarray(Image.fromarray(colour[0]).convert("L"))  # 200*.299+...
    assert gray.shape == (1, 28, 28, 1)
    np.testing.assert_allclose(gray[0, ..., 0], model_range(expected), atol=1 / 127.5)
    np.save(tmp_path / "gray.npy", pixels(2))
    rgb = load_path(tmp_path / "gray.npy", channels=3).images
    assert rgb.shape == (2, 28, 28, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_arrays_of_another_size_are_resized_unless_resizing_is_off(tmp_path):
    blocks = pixels(2, (16, 16))
    # A 28x28 image (blocks, framed in black) with every pixel doubled into a 2x2
    # block: the area filter averages each block back exactly.
    large = np.kron(np.pad(blocks, ((0, 0), (6, 6), (6, 6))), np.ones((2, 2), np.uint8))
    np.save(tmp_path / "large.npy", large)
    dataset = load_path(tmp_path / "large.npy", resize="area")
    expected = np.pad(blocks, ((0, 0), (6, 6), (6, 6)))
    np.testing.assert_allclose(dataset.images[..., 0], model_range(expected), atol=1e-5)
    lanczos = load_path(tmp_path / "large.npy").images
    assert lanczos.shape == (2, 28, 28, 1)
    assert lanczos.min() >= -1 and lanczos.max() <= 1
    with pytest.raises(ValueError) as error:
        load_path(tmp_path / "large.npy", resize="none")
    assert str(error.value) == (
        f"{tmp_path / 'large.npy'}: images are 56x56 pixels and resizing is off "
        "(--resize none). Expected 28x28. Received: shape (2, 56, 56, 1)"
    )


# --- image folders -------------------------------------------------------------------


def test_flat_grayscale_folder_in_sorted_order(tmp_path):
    images = pixels(4)
    folder = write_images(tmp_path / "flat", images)
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0\1")
    (folder / "._000.png").write_bytes(b"macOS resource fork, not a PNG")
    dataset = load_path(folder)
    assert dataset.images.shape == (4, 28, 28, 1) and dataset.labels is None
    np.testing.assert_array_equal(dataset.images[..., 0], model_range(images))
    assert dataset.source == str(folder)


def test_nested_rgb_folders_give_labels_from_folder_names(tmp_path):
    cats, dogs = pixels(2, (28, 28, 3), seed=1), pixels(3, (28, 28, 3), seed=2)
    write_images(tmp_path / "pets" / "dogs", dogs, ".bmp")
    write_images(tmp_path / "pets" / "cats", cats, ".png")
    # A deeper folder belongs to its first-level class.
    write_images(tmp_path / "pets" / "cats" / "kittens", cats[:1], ".png")
    dataset = load_path(tmp_path / "pets")
    assert dataset.images.shape == (6, 28, 28, 3)
    assert dataset.class_names == ("cats", "dogs")
    assert dataset.labels.tolist() == [0, 0, 0, 1, 1, 1]
    expected = np.concatenate([cats, cats[:1], dogs])  # cats/000, 001, kittens/000
    np.testing.assert_array_equal(dataset.images, model_range(expected))
    limited = dataset.limit(2)
    assert limited.class_names == ("cats", "dogs") and len(limited.labels) == 2


def test_folder_mixing_gray_and_colour_is_rgb_unless_told(tmp_path):
    folder = write_images(tmp_path / "mixed", pixels(1, (28, 28, 3)))
    gray = pixels(1, seed=3)
    Image.fromarray(gray[0]).save(folder / "zz_gray.png")
    dataset = load_path(folder)
    assert dataset.images.shape == (2, 28, 28, 3)
    for channel in range(3):
        np.testing.assert_array_equal(dataset.images[1, ..., channel],
                                      model_range(gray[0]))  # fmt: skip
    assert load_path(folder, channels=1).images.shape == (2, 28, 28, 1)


def test_folder_images_are_centre_cropped_and_resized(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    wide = np.zeros((28, 56), np.uint8)
    wide[:, 28:] = 255  # left half black, right half white
    Image.fromarray(wide).save(folder / "wide.png")
    Image.fromarray(np.full((40, 40), 77, np.uint8)).save(folder / "plain.jpg")
    dataset = load_image_folder(folder)
    plain, cropped = dataset.images[0, ..., 0], dataset.images[1, ..., 0]
    np.testing.assert_allclose(plain, model_range(np.uint8(77)), atol=2 / 127.5)
    assert (cropped[:, :14] == -1).all() and (cropped[:, 14:] == 1).all()


# --- bad input -----------------------------------------------------------------------


def message(call, *arguments, **options):
    with pytest.raises(ValueError) as error:
        call(*arguments, **options)
    return str(error.value)


def test_missing_path_and_unsupported_files(tmp_path):
    assert message(load_path, tmp_path / "missing.npz") == (
        f"No such file: {tmp_path / 'missing.npz'}. Expected an .npz (Keras layout or "
        "a single array), an .npy, an IDX file (*-images-idx3-ubyte, gzipped or not) "
        "or a folder of images."
    )
    (tmp_path / "table.csv").write_text("1,2,3")
    assert message(load_path, tmp_path / "table.csv").endswith("Received: table.csv")
    Image.new("L", (28, 28)).save(tmp_path / "one.png")
    assert "one.png: a single image" in message(load_path, tmp_path / "one.png")


def test_empty_folder_and_empty_array(tmp_path):
    (tmp_path / "empty").mkdir()
    text = message(load_path, tmp_path / "empty")
    assert text.startswith(f"{tmp_path / 'empty'}: holds no images. Expected .png")
    write_idx(tmp_path / "empty" / "train-images-idx3-ubyte", pixels(1), gz=False)
    assert "It holds train-images-idx3-ubyte: pass one of those files." in message(
        load_path, tmp_path / "empty"
    )
    np.save(tmp_path / "none.npy", np.zeros((0, 28, 28), np.uint8))
    assert message(load_path, tmp_path / "none.npy") == (
        f"{tmp_path / 'none.npy'}: holds no images. Received: shape (0, 28, 28, 1)"
    )


def test_truncated_gzip_wrong_magic_and_truncated_idx(tmp_path):
    raw = gzip.compress(idx_bytes(pixels(5)))
    truncated = tmp_path / "train-images-idx3-ubyte.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    text = message(load_path, truncated)
    assert text.startswith(f"{truncated}: a damaged or truncated gzip file (")
    assert text.endswith("Expected a complete .gz file: download or copy it again.")

    wrong = tmp_path / "wrong-images-idx3-ubyte"
    wrong.write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    assert message(load_path, wrong) == (
        f"{wrong}: not an IDX file (wrong magic number). Expected 0x00000803, as "
        "LeCun's MNIST files start. Received: 0x12345678"
    )
    labels = write_idx(tmp_path / "x-labels-idx1-ubyte", np.arange(3), gz=False)
    renamed = tmp_path / "x-images-idx3-ubyte"
    renamed.write_bytes(labels.read_bytes())
    assert "It looks like a labels file" in message(load_path, renamed)

    short = tmp_path / "short-images-idx3-ubyte"
    short.write_bytes(idx_bytes(pixels(5))[:-784])
    assert message(load_path, short) == (
        f"{short}: truncated or padded IDX file. Expected 3920 bytes of data for "
        "shape (5, 28, 28). Received: 3136 bytes"
    )


def test_mismatched_image_and_label_counts(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", pixels(5), gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(4), gz=True)
    assert message(load_path, path) == (
        f"{path}: 5 images but {tmp_path / 'train-labels-idx1-ubyte.gz'} holds 4 "
        "labels; they must match."
    )
    np.savez(tmp_path / "counts.npz", x_train=pixels(3), y_train=np.arange(2))
    assert "3 images but 2 labels in 'y_train'" in message(
        load_path, tmp_path / "counts.npz"
    )
    np.savez(tmp_path / "floats.npz", x_train=pixels(2), y_train=np.zeros(2))
    assert message(load_path, tmp_path / "floats.npz").endswith(
        "labels in 'y_train' must be one integer per image. "
        "Received: shape (2,), dtype float64"
    )


def test_unreadable_image_names_the_file_and_the_skip_flag(tmp_path):
    folder = write_images(tmp_path / "photos", pixels(3))
    broken = folder / "001.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n but cut off here")
    text = message(load_path, folder)
    assert text.startswith(f"{broken}: Pillow cannot read this image (")
    assert "pass --skip-bad-images (skip_bad_images=True)" in text
    dataset = load_path(folder, skip_bad_images=True)
    assert dataset.images.shape == (2, 28, 28, 1)
    assert dataset.source == (f"{folder} (1 unreadable images skipped, first {broken})")
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_bytes(b"nope")
    assert "none of its 1 image files could be read" in message(
        load_path, only_bad, skip_bad_images=True
    )


def test_wrong_size_with_resizing_off(tmp_path):
    folder = tmp_path / "sizes"
    write_images(folder, pixels(1))
    Image.new("RGB", (32, 30)).save(folder / "big.png")
    assert message(load_path, folder, resize="none") == (
        f"{folder / 'big.png'}: the image is 32x30 pixels and resizing is off "
        "(--resize none). Expected 28x28. Received: 32x30"
    )


def test_values_outside_the_range_and_bad_dtypes(tmp_path):
    np.save(tmp_path / "bright.npy", np.full((2, 28, 28), 2.5, np.float32))
    assert message(load_path, tmp_path / "bright.npy").endswith(
        "float images must lie in [0, 1] or [-1, 1]. Received: values from 2.5 to 2.5"
    )
    np.save(tmp_path / "nan.npy", np.full((1, 28, 28), np.nan, np.float32))
    assert "Received: values from nan to nan" in message(
        load_path, tmp_path / "nan.npy"
    )
    np.save(tmp_path / "wide.npy", np.zeros((2, 28, 28), np.int32))
    assert message(load_path, tmp_path / "wide.npy").endswith("Received: dtype int32")
    np.save(tmp_path / "first.npy", pixels(2, (3, 28, 28)))
    assert "They look channels-first" in message(load_path, tmp_path / "first.npy")


def test_npz_without_a_usable_array(tmp_path):
    np.savez(tmp_path / "two.npz", images=pixels(2), masks=pixels(2))
    assert message(load_path, tmp_path / "two.npz").endswith(
        "Expected the Keras layout (x_train, y_train, x_test, y_test) or a single "
        "array of images. Received arrays: ['images', 'masks']"
    )
    np.savez(tmp_path / "labels_only.npz", np.arange(5))
    assert "Received: shape (5,)" in message(load_path, tmp_path / "labels_only.npz")
    np.save(tmp_path / "array.npy", pixels(2))
    (tmp_path / "array.npy").rename(tmp_path / "renamed.npz")
    assert "renamed.npz: not a readable .npz file" in message(
        load_path, tmp_path / "renamed.npz"
    )


def test_bad_options():
    assert message(load_path, ".", channels=2) == (
        "`channels` must be 1 (grayscale), 3 (RGB) or None (keep the data's). "
        "Received: channels=2"
    )
    assert "Received: resize='fancy'" in message(load_path, ".", resize="fancy")
    assert "Received: channels=4" in message(recipes.get("mnist").replace, channels=4)
    assert "Received: shape (1, 28, 28, 2)" in message(
        convert_channels, np.zeros((1, 28, 28, 2)), 1, "array"
    )
    assert isinstance(recipes.get("mnist").replace(channels=3), Recipe)


# --- identities: every loader says where its data came from ------------------------


def test_every_file_loader_sets_its_identity(tmp_path):
    np.savez(tmp_path / "keras.npz", x_train=pixels(4), y_train=np.arange(4))
    np.save(tmp_path / "gray.npy", pixels(3))
    idx = write_idx(tmp_path / "train-images-idx3-ubyte.gz", pixels(5), gz=True)
    read_as_is = {"kind": "file", "channels": None, "resize": None}
    for dataset, path in (
        (load_npz(tmp_path / "keras.npz"), tmp_path / "keras.npz"),
        (load_npy(tmp_path / "gray.npy"), tmp_path / "gray.npy"),
        (load_idx(idx), idx),
    ):
        assert dataset.identity == DataSource(path=str(path), **read_as_is)
    converted = load_path(tmp_path / "gray.npy", channels=3, resize="area")
    assert converted.identity == DataSource(
        "file", path=str(tmp_path / "gray.npy"), channels=3, resize="area"
    )
    again = converted.identity.load()
    np.testing.assert_array_equal(again.images, converted.images)
    assert again.identity == converted.identity
    # Labels from elsewhere than beside the images: nothing could load them again.
    other = write_idx(tmp_path / "other-labels-idx1-ubyte", np.arange(5), gz=False)
    assert load_idx(idx, other).identity is None


def test_a_relative_path_gets_an_absolute_identity(tmp_path, monkeypatch):
    np.save(tmp_path / "gray.npy", pixels(3))
    monkeypatch.chdir(tmp_path)
    dataset = load_path("gray.npy")
    assert dataset.source == "gray.npy"  # as given, for messages
    assert dataset.identity.path == str(tmp_path / "gray.npy")


def test_image_folder_identity_keeps_its_options(tmp_path):
    write_images(tmp_path / "pets" / "cats", pixels(2, (32, 32), seed=1))
    write_images(tmp_path / "pets" / "dogs", pixels(2, (32, 32), seed=2))
    (tmp_path / "pets" / "dogs" / "bad.png").write_bytes(b"not a png")
    dataset = load_path(tmp_path / "pets", channels=3, resize="bicubic",
                        skip_bad_images=True)  # fmt: skip
    assert dataset.identity == DataSource(
        "folder", path=str(tmp_path / "pets"), channels=3, resize="bicubic",
        skip_bad_images=True,
    )  # fmt: skip
    assert load_image_folder(tmp_path / "pets", skip_bad_images=True).identity == (
        DataSource("folder", path=str(tmp_path / "pets"), skip_bad_images=True)
    )
    train, test = dataset.identity.load_splits()
    assert test is None
    np.testing.assert_array_equal(train.images, dataset.images)
    assert train.labels.tolist() == [0, 0, 1, 1]
    assert message(dataset.identity.load, "test") == (
        f"{tmp_path / 'pets'}: has no test split. Expected a built-in dataset, an "
        ".npz with x_test, or an IDX train file with its t10k (or test) file beside "
        "it. Received: split='test'"
    )
    gray = with_channels(dataset, 1)
    assert gray.identity.channels == 1 and gray.identity.load().images.shape[-1] == 1


def test_npz_splits_with_and_without_x_test(tmp_path):
    train_images, test_images = pixels(6, seed=1), pixels(4, seed=2)
    np.savez(tmp_path / "both.npz", x_train=train_images, y_train=np.arange(6),
             x_test=test_images, y_test=np.arange(4))  # fmt: skip
    train, test = load_path(tmp_path / "both.npz").identity.load_splits()
    np.testing.assert_array_equal(train.images[..., 0], model_range(train_images))
    np.testing.assert_array_equal(test.images[..., 0], model_range(test_images))
    assert test.labels.tolist() == [0, 1, 2, 3]
    np.savez(tmp_path / "train_only.npz", x_train=train_images)
    train, test = load_path(tmp_path / "train_only.npz").identity.load_splits()
    assert test is None and len(train.images) == 6
    # A single-array file has no split of its own.
    np.savez(tmp_path / "single.npz", train_images)
    assert load_npz(tmp_path / "single.npz").identity.load_splits()[1] is None


@pytest.mark.parametrize(
    "train_name, test_name",
    [
        ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"),
        ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"),
        ("emnist-train-images-idx3-ubyte", "emnist-test-images-idx3-ubyte.gz"),
    ],
)
def test_idx_train_file_pairs_with_the_test_file_beside_it(
    tmp_path, train_name, test_name
):
    train_images, test_images = pixels(5, seed=1), pixels(3, seed=2)
    path = write_idx(tmp_path / train_name, train_images, train_name.endswith(".gz"))
    identity = load_path(path, channels=1).identity
    assert identity.test_path() is None
    assert identity.load_splits()[1] is None
    test_path = write_idx(tmp_path / test_name, test_images, test_name.endswith(".gz"))
    labels_name = test_name.replace("images", "labels").replace("idx3", "idx1")
    write_idx(tmp_path / labels_name, np.array([7, 8, 9]), gz=False)
    assert idx_test_path(path) == test_path
    train, test = identity.load_splits()
    np.testing.assert_array_equal(train.images[..., 0], model_range(train_images))
    np.testing.assert_array_equal(test.images[..., 0], model_range(test_images))
    assert test.labels.tolist() == [7, 8, 9] and test.source == str(test_path)
    assert test.identity == identity
    # A test file has no test file of its own.
    assert load_path(test_path).identity.load_splits()[1] is None


# --- downloads, from a cache filled here ---------------------------------------------


def fill_cache(home, dataset, count=12):
    """Writes the train split's files in the real formats; returns their contents."""
    folder = home / "datasets" / dataset.folder
    folder.mkdir(parents=True)
    images, labels = pixels(count, seed=7), np.arange(count, dtype=np.uint8) % 10
    images_file, labels_file = dataset.splits["train"]
    write_idx(folder / images_file.name, images, gz=True)
    write_idx(folder / labels_file.name, labels, gz=True)
    return folder, images, labels


def with_hashes_of(dataset, folder):
    """``dataset`` expecting the MD5s of the files in ``folder``, as if published."""
    pair = tuple(
        dataclasses.replace(
            file, md5=hashlib.md5((folder / file.name).read_bytes()).hexdigest()
        )
        for file in dataset.splits["train"]
    )
    return dataclasses.replace(dataset, splits={**dataset.splits, "train": pair})


@pytest.mark.parametrize(
    "name, variable", [("fashion_mnist", "FASHION_MNIST"), ("kmnist", "KMNIST")]
)
def test_recipes_read_a_filled_cache_without_network(
    keras_home, monkeypatch, name, variable
):
    home, downloads = keras_home
    dataset = getattr(data, variable)
    folder, images, labels = fill_cache(home, dataset)
    monkeypatch.setattr(data, variable, with_hashes_of(dataset, folder))
    loaded = recipes.get(name).load_data()
    assert downloads == []
    assert loaded.images.shape == (12, 28, 28, 1)
    np.testing.assert_array_equal(loaded.images[..., 0], model_range(images))
    assert loaded.labels.tolist() == labels.tolist()
    assert loaded.source == f"{dataset.title} (train)"
    assert loaded.identity == DataSource.builtin(name)
    again = loaded.identity.load()
    np.testing.assert_array_equal(again.images, loaded.images)
    assert downloads == []


def test_a_cached_file_with_the_wrong_hash_is_fetched_again(keras_home):
    home, downloads = keras_home
    folder, _, _ = fill_cache(home, data.FASHION_MNIST)
    # The files made here cannot have the published MD5s: Keras refetches them.
    with pytest.raises(ValueError, match="could not be downloaded"):
        data.load_fashion_mnist()
    assert downloads == [file.url for file in data.FASHION_MNIST.splits["train"]]


def test_offline_without_a_cache_names_every_file_its_url_and_folder(keras_home):
    home, downloads = keras_home
    text = message(data.load_kmnist)
    folder = home / "datasets" / "kmnist"
    assert text.startswith(
        "Kuzushiji-MNIST (train) is not in the Keras cache and could not be downloaded"
    )
    for file in data.KMNIST.splits["train"]:
        assert f"  {file.name}  from {file.url}  (MD5 {file.md5})" in text
    assert f"put them, with these names, in {folder} (set KERAS_HOME" in text
    assert text.endswith("or pass --data with your copy of the images file "
                         "(its labels file next to it).")  # fmt: skip
    assert len(downloads) == 2 and folder.is_dir()
    assert "Received: split='valid'" in message(data.load_kmnist, "valid")


def test_published_hashes_are_md5_digests():
    for dataset in (data.FASHION_MNIST, data.KMNIST):
        assert len(dataset.files()) == 4
        for file in dataset.files():
            assert len(file.md5) == 32 and int(file.md5, 16) >= 0
            assert file.url.endswith("/" + file.name)
