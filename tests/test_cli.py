"""End to end through the command line, on a few hundred MNIST images."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.cli import main
from gan_cookbook.cook import cook, prepare
from gan_cookbook.recipe import load_recipe_file

from conftest import write_npz

ROOT = Path(__file__).parent.parent
QUICK = ["--limit", "256", "--epochs", "2", "--batch-size", "32", "--quiet"]


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mnist"
    result = invoke("cook", "mnist", *QUICK, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_cook_leaves_samples_history_models_and_settings(run_folder):
    for epoch in (1, 2):
        picture = Image.open(run_folder / "samples" / f"epoch_{epoch:04d}.png")
        picture.load()
        assert picture.size == (8 * 30 + 2, 8 * 30 + 2) and picture.mode == "L"

    with (run_folder / "history.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert list(rows[0])[:3] == ["epoch", "d_loss", "g_loss"]
    assert list(rows[0])[-2:] == ["seconds", "images_per_second"]
    for row in rows:
        # 256 images in batches of 32: 8 steps of 32 real images.
        seconds = float(row["seconds"])
        assert float(row["images_per_second"]) == pytest.approx(256 / seconds)
        assert 0 < float(row["d_loss"]) < 10 and 0 < float(row["g_loss"]) < 20

    generator = keras.saving.load_model(run_folder / "generator.keras")
    images = generator.predict(
        np.random.default_rng(0).uniform(size=(5, 10)), verbose=0
    )
    assert images.shape == (5, 28, 28, 1) and np.abs(images).max() <= 1
    discriminator = keras.saving.load_model(run_folder / "discriminator.keras")
    assert discriminator.predict(images, verbose=0).shape == (5, 1)
    assert discriminator.trainable

    settings = json.loads((run_folder / "recipe.json").read_text())
    assert settings["recipe"]["name"] == "mnist"
    assert settings["recipe"]["epochs"] == 2 and settings["recipe"]["batch_size"] == 32
    assert settings["recipe"]["discriminator_optimizer"]["class_name"] == "Adam"
    assert settings["data"]["images"] == 256
    assert settings["backend"] == keras.backend.backend()
    assert settings["keras_version"] == keras.__version__
    assert settings["seed"] == 0


def test_a_mixed_bfloat16_run_saves_models_that_sample(tmp_path):
    out = tmp_path / "run"
    result = invoke("cook", "mnist", *QUICK, "--epochs", "1", "--limit", "64",
                    "--precision", "mixed_bfloat16", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((out / "recipe.json").read_text())["recipe"]["precision"] == (
        "mixed_bfloat16"
    )
    generator = keras.saving.load_model(out / "generator.keras")
    policies = [layer.dtype_policy.name for layer in generator.layers[1:]]
    assert policies == ["mixed_bfloat16"] * 10 + ["float32"]
    assert keras.config.dtype_policy().name == "float32"
    grid = tmp_path / "grid.png"
    result = invoke("sample", out, "--n", 4, "--out", grid)
    assert result.exit_code == 0, result.output
    with Image.open(grid) as picture:
        picture.load()
        assert picture.size == (2 * 30 + 2, 2 * 30 + 2)
        assert np.unique(np.asarray(picture)).size > 2  # not one flat colour


def test_existing_run_folder_is_refused_untouched(run_folder):
    before = {path: path.stat().st_mtime_ns for path in run_folder.rglob("*")}
    result = invoke("cook", "mnist", *QUICK, "--out", run_folder)
    assert result.exit_code == 2
    assert "already holds files" in result.output and str(run_folder) in result.output
    assert {path: path.stat().st_mtime_ns for path in run_folder.rglob("*")} == before


def test_same_seed_same_history(tmp_path):
    options = {"limit": 96, "epochs": 2, "batch_size": 32, "verbose": 0}
    first = cook(recipes.get("mnist_quick"), out=tmp_path / "a", **options).history
    second = cook(recipes.get("mnist_quick"), out=tmp_path / "b", **options).history
    assert first.history["d_loss"] == second.history["d_loss"]
    assert first.history["g_loss"] == second.history["g_loss"]
    other = cook(
        recipes.get("mnist_quick"), out=tmp_path / "c", seed=1, **options
    ).history
    assert other.history["g_loss"] != first.history["g_loss"]


def test_recipe_file_and_data_option(tmp_path):
    data = write_npz(tmp_path / "digits.npz", count=64)
    recipe_file = ROOT / "recipes" / "mnist_tutorial_architecture.py"
    out = tmp_path / "run"
    result = invoke(
        "cook", recipe_file, "--data", data, "--epochs", "1", "--batch-size", "32",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Cooking mnist_tutorial_architecture on 64 images of" in result.output
    settings = json.loads((out / "recipe.json").read_text())
    assert settings["data"]["source"] == str(data)
    assert settings["recipe"]["noise_dim"] == 100
    assert (out / "samples" / "epoch_0001.png").is_file()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["cook", "cifar"], "Unknown recipe 'cifar'. Known recipes: mnist,"),
        (["cook", "mnist", "--batch-size", "0"], "Invalid value for '--batch-size'"),
        (["cook", "mnist", "--epochs", "two"], "'two' is not a valid integer"),
        (["cook", "mnist", "--limit", "10", "--batch-size", "32"],
         "--batch-size 32 is larger than the 10 training images"),
        (["cook", "mnist", "--data", "missing.npz"], "No such file: missing.npz"),
        (["cook", "nothing_here.py"], "No such recipe file: nothing_here.py"),
    ],
)  # fmt: skip
def test_bad_input_is_a_usage_error(tmp_path, arguments, message):
    result = invoke(*arguments, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_recipe_file_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('oops')\n")
    result = invoke("cook", broken)
    assert result.exit_code == 2
    assert (
        f"{broken}: the recipe file failed to run: RuntimeError: oops" in result.output
    )
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    result = invoke("cook", empty)
    assert result.exit_code == 2 and "expected a Recipe named RECIPE" in result.output


def test_list_shows_the_builtin_recipes_and_the_examples():
    result = invoke("list")
    assert result.exit_code == 0
    builtin, examples = result.output.split("\n\n")
    assert [line.split()[0] for line in builtin.splitlines()] == list(recipes.BUILTIN)
    assert "gan-cookbook copy-recipe NAME" in examples
    assert "image_folder" in examples


def test_prepare_applies_overrides_and_checks_shapes(tmp_path):
    run = prepare(
        recipes.get("mnist_tutorial"), out=tmp_path / "x", limit=300, epochs=1
    )
    assert run.recipe.batch_size == 256 and run.recipe.epochs == 1
    assert run.generator.input_shape == (None, 100)
    assert run.sample_noise.shape == (64, 100)
    assert not run.out.exists()  # nothing is written before cooking


def test_recipe_module_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, "-m", "gan_cookbook.recipes.mnist", "--help"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for option in ("--epochs", "--batch-size", "--seed", "--out", "--limit", "--quiet"):
        assert option in result.stdout


def test_mnist_quick_cooks_end_to_end_and_samples_its_average(tmp_path):
    out = tmp_path / "quick"
    result = invoke("cook", "mnist_quick", "--limit", "256", "--epochs", "2",
                    "--batch-size", "32", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Cooking mnist_quick" in result.output
    for name in ("generator.keras", "generator_raw.keras", "discriminator.keras",
                 "samples/epoch_0002.png", "progress.gif"):  # fmt: skip
        assert (out / name).is_file(), name
    settings = json.loads((out / "recipe.json").read_text())
    assert settings["recipe"]["average"] == 0.99
    assert settings["recipe"]["build_generator"].endswith("refined_quick_generator")
    averaged = keras.saving.load_model(out / "generator.keras", compile=False)
    assert averaged.name == "refined_quick_generator_averaged"
    assert averaged.input_shape == (None, 32)
    grid = tmp_path / "grid.png"
    result = invoke("sample", out, "--n", 9, "--out", grid)
    assert result.exit_code == 0, result.output
    with Image.open(grid) as picture:
        assert picture.size == (3 * 30 + 2, 3 * 30 + 2)


def test_copy_recipe_writes_a_file_that_cooks_and_never_overwrites(tmp_path):
    result = invoke("copy-recipe", "image_folder", tmp_path)
    assert result.exit_code == 0, result.output
    written = tmp_path / "image_folder.py"
    assert f"gan-cookbook cook {written}" in result.output
    assert load_recipe_file(written).name == "image_folder"
    again = invoke("copy-recipe", "image_folder", tmp_path)
    assert again.exit_code == 2
    assert f"DESTINATION {written} already exists" in " ".join(again.output.split())
    unknown = invoke("copy-recipe", "no_such_recipe", tmp_path)
    assert unknown.exit_code == 2
    assert "example recipe files: " in " ".join(unknown.output.split())


def test_resume_says_what_is_wrong_with_the_folder(tmp_path):
    missing = invoke("resume", tmp_path / "missing")
    assert missing.exit_code == 2
    assert "missing: does not exist. Expected the --out folder" in " ".join(
        missing.output.split()
    )
    (tmp_path / "empty").mkdir()
    empty = invoke("resume", tmp_path / "empty")
    assert empty.exit_code == 2
    assert "is not a run folder (it holds no recipe.json)" in " ".join(
        empty.output.split()
    )
