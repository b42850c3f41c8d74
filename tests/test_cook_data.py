"""The command line on other data: a user recipe file, image folders, downloads."""

import json
from pathlib import Path

import keras
import numpy as np
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.cli import main, recipe_command
from gan_cookbook.cook import prepare
from gan_cookbook.data import FASHION_MNIST as FASHION_MNIST_FILES
from gan_cookbook.recipes.fashion_mnist import RECIPE as FASHION_MNIST

ROOT = Path(__file__).parent.parent


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


def flat(output):
    return " ".join(output.split())


def colour_folder(folder, per_class=16, size=32):
    """Two class folders of RGB PNGs larger than 28x28."""
    rng = np.random.default_rng(0)
    for name in ("circles", "squares"):
        (folder / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{index:02d}.png")
    return folder


def test_cook_a_user_recipe_file_on_a_colour_image_folder(tmp_path):
    data = colour_folder(tmp_path / "shapes")
    out = tmp_path / "run"
    result = invoke(
        "cook", ROOT / "recipes" / "image_folder.py", "--data", data,
        "--epochs", "1", "--batch-size", "16", "--resize", "area", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Cooking image_folder on 32 images of {data} for 1 epoch" in result.output
    settings = json.loads((out / "recipe.json").read_text())
    assert settings["data"] == {
        "source": str(data),
        "identity": {
            "kind": "folder", "name": None, "path": str(data), "channels": None,
            "resize": "area", "skip_bad_images": False,
        },
        "images": 32,
        "image_shape": [28, 28, 3],
        "num_classes": None,  # not a conditional recipe
    }  # fmt: skip
    assert settings["recipe"]["channels"] is None
    grid = Image.open(out / "samples" / "epoch_0001.png")
    assert grid.mode == "RGB" and grid.size == (8 * 30 + 2, 8 * 30 + 2)
    generator = keras.saving.load_model(out / "generator.keras")
    assert generator.output_shape == (None, 28, 28, 3)


def test_image_folder_recipe_without_data_is_a_usage_error(tmp_path):
    result = invoke("cook", ROOT / "recipes" / "image_folder.py", "--out", tmp_path)
    assert result.exit_code == 2
    assert (
        "image_folder.py has no data of its own. Expected --data DIR, or DATA set in "
        "the file." in flat(result.output)
    )


def test_bad_images_stop_before_training_and_name_the_flag(tmp_path):
    data = colour_folder(tmp_path / "shapes", per_class=2)
    (data / "circles" / "00.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = invoke("cook", "mnist", "--data", data, "--out", out)
    assert result.exit_code == 2 and not out.exists()
    assert f"{data / 'circles' / '00.png'}: Pillow cannot read this image" in flat(
        result.output
    )
    assert "--skip-bad-images" in result.output
    result = invoke(
        "cook", "mnist", "--data", data, "--skip-bad-images", "--resize", "none",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 2 and not out.exists()
    assert (
        "01.png: the image is 32x32 pixels and resizing is off (--resize none). "
        "Expected 28x28." in flat(result.output)
    )
    result = invoke("cook", "mnist", "--data", data, "--resize", "cubic")
    assert result.exit_code == 2 and "Invalid value for '--resize'" in result.output


def test_download_recipe_offline_is_a_usage_error_naming_the_files(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "cache"))

    def refuse(url, *arguments, **options):
        raise OSError("network is off in tests")

    monkeypatch.setattr(keras.src.utils.file_utils, "urlretrieve", refuse)
    result = invoke("cook", "fashion_mnist", "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a usage error, no traceback
    for file in FASHION_MNIST_FILES.splits["train"]:
        assert f"{file.name} from {file.url}" in flat(result.output)
    folder = tmp_path / "cache" / "datasets" / "fashion-mnist"
    assert f"in {folder} (set KERAS_HOME" in flat(result.output)
    assert not (tmp_path / "out").exists()


def test_recipe_commands_take_the_data_options():
    result = CliRunner().invoke(recipe_command(FASHION_MNIST), ["--help"])
    assert result.exit_code == 0
    for option in ("--data", "--resize", "--skip-bad-images"):
        assert option in result.output
    assert "lanczos|area|bicubic|bilinear|nearest|none" in result.output


def test_list_with_path_shows_recipe_files_and_broken_ones(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('oops')\n")
    (tmp_path / "tutorial.py").write_text(
        (ROOT / "recipes" / "mnist_tutorial_architecture.py").read_text()
    )
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('not a recipe')\n")
    result = invoke("list", "--path", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    builtin = len(recipes.BUILTIN)
    assert [line.split()[0] for line in lines[:builtin]] == list(recipes.BUILTIN)
    assert lines[builtin:][:4] == [
        "",
        "Example recipe files, to copy and edit (gan-cookbook copy-recipe NAME): "
        + ", ".join(recipes.examples()),
        "",
        f"Recipe files in {tmp_path}:",
    ]
    assert any(
        line.startswith(str(tmp_path / "broken.py"))
        and line.endswith("the recipe file failed to run: RuntimeError: oops")
        for line in lines
    )
    assert any(
        line.startswith(str(tmp_path / "tutorial.py"))
        and line.endswith("MNIST digits, tutorial architecture with the mnist "
                          "recipe's training")
        for line in lines
    )  # fmt: skip
    assert "_helpers" not in result.output
    assert invoke("list", "--path", tmp_path / "nowhere").exit_code == 2


def test_a_recipe_channels_setting_converts_its_own_data(tmp_path):
    recipe = recipes.get("mnist").replace(channels=3)
    run = prepare(recipe, out=tmp_path / "out", limit=64, batch_size=32, verbose=0)
    images = run.dataset.images
    assert images.shape == (64, 28, 28, 3)
    np.testing.assert_array_equal(images[..., 0], images[..., 1])
    assert run.generator.output_shape == (None, 28, 28, 3)
    assert run.discriminator.input_shape == (None, 28, 28, 3)
