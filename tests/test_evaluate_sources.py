"""`gan-cookbook evaluate RUN` with no other flag, on runs of every kind of data.

Every dataset is made here (IDX files, PNG folders, a filled Keras cache); the
classifier cache is a fresh KERAS_HOME, so each kind of data trains its own.
"""

import dataclasses
import gzip
import hashlib
import json
import struct

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import gan_cookbook.data
from gan_cookbook import recipes
from gan_cookbook.callbacks import frechet_callback
from gan_cookbook.cli import main
from gan_cookbook.data import DataSource, load_mnist
from gan_cookbook.evaluation import FRECHET_KEY, EvaluationData, Evaluator
from gan_cookbook.loaders import Dataset
from gan_cookbook.models import cooking_generator
from gan_cookbook.noise import Noise
from gan_cookbook.sampling import load_cooked


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


def flat(output):
    return " ".join(output.split())


def labelled_pixels(count, seed, classes=4):
    """uint8 28x28 images whose class is their brightness: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, count).astype(np.uint8)
    base = 30 + 60 * labels.astype(np.float64)
    noisy = base[:, None, None] + rng.normal(0, 12, (count, 28, 28))
    return np.clip(noisy, 0, 255).astype(np.uint8), labels


def write_idx(path, array):
    """LeCun's layout, gzipped: 0, 0, type 0x08 (ubyte), rank, sizes, data."""
    header = struct.pack(f">HBB{array.ndim}I", 0, 0x08, array.ndim, *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


def write_idx_pair(folder, prefix, count, seed):
    images, labels = labelled_pixels(count, seed)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)


def write_class_folders(folder, per_class=30, classes=("a", "b", "c")):
    images, _ = labelled_pixels(per_class * len(classes), seed=5, classes=1)
    for index, name in enumerate(classes):
        (folder / name).mkdir(parents=True)
        for number in range(per_class):
            # Each class a brightness of its own.
            pixels = np.clip(
                images[index * per_class + number].astype(int) + 70 * index, 0, 255
            ).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{number:03d}.png")
    return folder


def cook_tiny(recipe, out, *options):
    result = invoke(
        "cook", recipe, *options, "--limit", 64, "--batch-size", 32, "--epochs", 1,
        "--quiet", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads((out / "recipe.json").read_text())


def evaluate(run, *options):
    """``evaluate RUN --n 50``: its output and the metrics.json it wrote."""
    result = invoke("evaluate", run, "--n", 50, *options)
    assert result.exit_code == 0, result.output
    out = run / "metrics.json"
    if "--out" in options:
        out = options[options.index("--out") + 1]
    metrics = json.loads(out.read_text())
    for side in ("generated", "floor"):
        assert np.isfinite(metrics[side]["frechet_distance"])
        assert metrics[side]["frechet_distance"] >= 0
    return result.output, metrics


def cached_classifiers(home):
    folder = home / "gan_cookbook" / "classifiers"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_evaluate_a_run_cooked_on_an_idx_file(tmp_path, keras_home):
    home, _ = keras_home
    train = write_idx_pair(tmp_path / "digits", "train", 300, seed=1)
    test = write_idx_pair(tmp_path / "digits", "t10k", 100, seed=2)
    run = tmp_path / "run"
    settings = cook_tiny("mnist_quick", run, "--data", train)
    assert settings["data"]["identity"]["kind"] == "file"
    assert settings["data"]["identity"]["path"] == str(train)

    output, metrics = evaluate(run)
    assert f"Training the feature classifier of {train} (300 images, 4 classes)" in (
        flat(output)
    )
    # The reference is the test file beside the training file, the floor the
    # training file: all of it, not the 64 images the run was limited to.
    assert metrics["reference"] == f"50 images of {test}; floor: 50 of {train}"
    assert metrics["n"] == 50 and len(metrics["real_class_histogram"]) == 4
    (classifier,) = cached_classifiers(home)
    assert metrics["classifier"] == str(classifier)
    # Real images against real images score far better than a generator trained for
    # two steps.
    assert (
        metrics["floor"]["frechet_distance"] < metrics["generated"]["frechet_distance"]
    )
    assert sum(metrics["floor"]["class_histogram"]) == pytest.approx(1)


def test_evaluate_a_run_cooked_on_an_image_folder_with_classes(tmp_path, keras_home):
    home, _ = keras_home
    folder = write_class_folders(tmp_path / "shapes")
    run = tmp_path / "run"
    settings = cook_tiny("mnist_quick", run, "--data", folder)
    assert settings["data"]["identity"] == {
        "kind": "folder", "name": None, "path": str(folder), "channels": None,
        "resize": "lanczos", "skip_bad_images": False,
    }  # fmt: skip

    output, metrics = evaluate(run)
    assert "Training the feature classifier of" in output
    # No test split: two disjoint halves of the 90 images, 45 at most each.
    assert metrics["n"] == 45
    assert metrics["reference"] == (
        f"45 images of {folder} (it has no test split); floor: 45 other images of it"
    )
    assert len(metrics["real_class_histogram"]) == 3
    assert len(cached_classifiers(home)) == 1

    # --data takes a folder too; the same data give the same metrics, and the
    # classifier comes from the cache.
    other = tmp_path / "other.json"
    output, again = evaluate(run, "--data", folder, "--out", other)
    assert "Training the feature classifier" not in output
    assert again["generated"] == metrics["generated"]
    assert again["floor"] == metrics["floor"]


def fill_cache(home, dataset, counts=(("train", 200), ("test", 100))):
    """Writes both splits' files in the real formats, gzipped IDX."""
    folder = home / "datasets" / dataset.folder
    folder.mkdir(parents=True)
    for seed, (split, count) in enumerate(counts):
        images, labels = labelled_pixels(count, seed=10 + seed)
        images_file, labels_file = dataset.splits[split]
        write_idx(folder / images_file.name, images)
        write_idx(folder / labels_file.name, labels)
    return folder


def with_hashes_of(dataset, folder):
    """``dataset`` expecting the MD5s of the files in ``folder``, as if published."""

    def hashed(file):
        digest = hashlib.md5((folder / file.name).read_bytes()).hexdigest()
        return dataclasses.replace(file, md5=digest)

    splits = {
        split: tuple(hashed(file) for file in pair)
        for split, pair in dataset.splits.items()
    }
    return dataclasses.replace(dataset, splits=splits)


@pytest.mark.parametrize(
    "recipe, variable", [("fashion_mnist", "FASHION_MNIST"), ("kmnist", "KMNIST")]
)
def test_evaluate_a_run_of_a_downloadable_recipe_from_the_cache(
    tmp_path, keras_home, monkeypatch, recipe, variable
):
    home, downloads = keras_home
    dataset = getattr(gan_cookbook.data, variable)
    folder = fill_cache(home, dataset)
    monkeypatch.setattr(gan_cookbook.data, variable, with_hashes_of(dataset, folder))
    run = tmp_path / "run"
    settings = cook_tiny(recipe, run)
    assert settings["data"]["identity"]["kind"] == "builtin"
    assert settings["data"]["identity"]["name"] == recipe

    _, metrics = evaluate(run)
    assert metrics["reference"] == (
        f"50 images of {dataset.title} (test); floor: 50 of {dataset.title} (train)"
    )
    assert len(metrics["real_class_histogram"]) == 4
    assert downloads == []


# --- runs made here: a saved generator and a recipe.json ---------------------------


def fake_run(folder, data, channels=1):
    """A run folder: an untrained generator and a recipe.json with ``data``."""
    folder.mkdir(parents=True)
    keras.utils.set_random_seed(0)
    cooking_generator(10, (28, 28, channels)).save(folder / "generator.keras")
    settings = {
        "recipe": {"noise": dataclasses.asdict(Noise()), "channels": None},
        "data": data,
    }
    (folder / "recipe.json").write_text(json.dumps(settings))
    return folder


def test_evaluate_without_labels_says_which_metrics_need_them(tmp_path, keras_home):
    flat_folder = tmp_path / "faces"
    flat_folder.mkdir()
    for number in range(8):
        Image.fromarray(labelled_pixels(1, number)[0][0]).save(
            flat_folder / f"{number}.png"
        )
    identity = DataSource.from_path(flat_folder).to_config()
    run = fake_run(tmp_path / "run", {"source": str(flat_folder), "identity": identity})
    result = invoke("evaluate", run, "--n", 4)
    assert result.exit_code == 2
    text = flat(result.output)
    assert f"{flat_folder}: has no labels (its images lie in no class subfolders)" in (
        text
    )
    for metric in ("Fréchet distance", "KID", "classifier score", "class histogram"):
        assert metric in text


def test_a_recipe_json_without_identity_falls_back_on_its_source(tmp_path):
    np.savez(tmp_path / "digits.npz", x_train=labelled_pixels(8, 0)[0])
    mnist_run = fake_run(tmp_path / "mnist", {"source": "mnist (train)"})
    assert load_cooked(mnist_run).data == DataSource.builtin("mnist")
    npz_run = fake_run(tmp_path / "npz", {"source": str(tmp_path / "digits.npz")})
    assert load_cooked(npz_run).data == DataSource(
        "file", path=str(tmp_path / "digits.npz")
    )
    gone = fake_run(tmp_path / "gone", {"source": str(tmp_path / "moved.npz")})
    assert load_cooked(gone).data is None
    result = invoke("evaluate", gone)
    assert result.exit_code == 2
    assert (
        f"trained on {tmp_path / 'moved.npz'}, which only its recipe's own code "
        "loads (recipe.json records no data identity). Pass --data PATH or --recipe "
        "NAME." in flat(result.output)
    )
    # --recipe names the data: its recipe's identity.
    cooked = load_cooked(gone, recipes.get("mnist"))
    assert cooked.data == DataSource.builtin("mnist")
    assert cooked.data_description == "mnist (train)"
    assert load_cooked(gone, recipes.get("mnist"), load_recipe_data=False).data is None


def test_a_bad_identity_in_recipe_json_is_an_error_naming_the_key(tmp_path):
    identity = {**DataSource.builtin("mnist").to_config(), "colour": 3}
    run = fake_run(tmp_path / "run", {"source": "mnist (train)", "identity": identity})
    result = invoke("evaluate", run)
    assert result.exit_code == 2
    assert (
        f"{run / 'recipe.json'}: data.identity: Unknown key 'colour' in a data source "
        "config." in flat(result.output)
    )


def test_a_generator_of_another_image_size_is_a_clear_error(tmp_path):
    # Read as it is (no resizing), an .npz of 32x32 images stays 32x32.
    np.savez(
        tmp_path / "large.npz",
        x_train=np.zeros((8, 32, 32), np.uint8),
        y_train=np.arange(8) % 2,
    )
    identity = DataSource("file", path=str(tmp_path / "large.npz"), resize=None)
    data = {"source": str(tmp_path / "large.npz"), "identity": identity.to_config()}
    run = fake_run(tmp_path / "run", data)
    result = invoke("evaluate", run, "--n", 4)
    assert result.exit_code == 2
    assert (
        "`generator` makes images of shape (28, 28, 1), but the real images it is "
        f"measured against ({tmp_path / 'large.npz'}) have shape (32, 32, 1)"
        in flat(result.output)
    )


# --- --eval-every: the callback and its data ---------------------------------------


def test_frechet_callback_measures_against_the_full_splits_of_the_identity():
    generator = cooking_generator(10, (28, 28, 1))
    limited = load_mnist().limit(64)
    callback = frechet_callback(
        generator, Noise(), limited, every=2, count=300, seed=1, verbose=0
    )
    assert callback.KEY == FRECHET_KEY == "frechet_distance"
    assert callback.every == 2 and callback.count == 300
    assert callback.evaluator.data.description == (
        "300 images of mnist (test); floor: 300 of mnist (train)"
    )
    # Without an identity, the data itself, halved.
    bare = Dataset(limited.images, limited.labels, "made here")
    callback = frechet_callback(
        generator, Noise(), bare, every=1, count=300, seed=1, verbose=0
    )
    assert callback.count == 32
    assert "32 images of made here (it has no test split)" in (
        callback.evaluator.data.description
    )


def test_frechet_callback_errors_come_before_training():
    generator = cooking_generator(10, (28, 28, 1))
    mnist = load_mnist().limit(64)
    with pytest.raises(ValueError) as error:
        frechet_callback(generator, Noise(), mnist, every=0)
    assert str(error.value) == (
        "`every` must be an integer of at least 1. Received: every=0"
    )
    unlabelled = Dataset(mnist.images, None, "faces")
    with pytest.raises(ValueError, match="faces: has no labels"):
        frechet_callback(generator, Noise(), unlabelled, every=1)
    rgb = cooking_generator(10, (28, 28, 3))
    with pytest.raises(ValueError, match=r"makes images of shape \(28, 28, 3\)"):
        frechet_callback(rgb, Noise(), mnist, every=1, count=10)


def test_evaluator_computes_the_reference_once_and_measures_like_metrics_json():
    calls = []

    class Extractor:
        name = "stub"

        def __call__(self, images):
            calls.append(len(images))
            flat_images = images.reshape(len(images), -1)
            features = flat_images[:, :8].astype(np.float64)
            probabilities = np.eye(2)[(flat_images.mean(axis=1) > 0).astype(int)]
            return features, probabilities

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (60, 28, 28, 1)).astype("float32")
    training = Dataset(images, np.arange(60) % 2, "made here")
    data = EvaluationData(training, images[:20], images[20:40], "20 of made here")
    evaluator = Evaluator(data, extractor=Extractor())
    generator = cooking_generator(10, (28, 28, 1))
    noise = rng.uniform(0, 1, (12, 10)).astype("float32")
    first = evaluator.frechet_distance(generator, noise)
    assert evaluator.frechet_distance(generator, noise) == first
    assert calls == [12, 20, 12]  # the reference's features once
    metrics = evaluator.measure(generator, Noise(), 15, seed=3)
    assert metrics["n"] == 15 and metrics["classifier"] == "stub"
    assert metrics["reference"] == "20 of made here"
    assert calls[3:] == [15, 15]  # generated and floor; the reference is known
    assert set(metrics) == {
        "n", "reference", "classifier", "noise", "seed", "generated", "floor",
        "real_class_histogram", "seconds", "keras_version", "backend",
    }  # fmt: skip
    assert metrics["noise"] == {"distribution": "uniform", "low": 0.0, "high": 1.0}
