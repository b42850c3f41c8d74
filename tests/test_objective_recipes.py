"""The objectives' recipes on the command line: an ACGAN run samples by class and is
measured on its labels; bad objective settings in a recipe file are usage errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook.cli import main
from gan_cookbook.cook import cook
from gan_cookbook.recipes import get


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


@pytest.fixture(scope="module")
def acgan_run(tmp_path_factory):
    """One tiny epoch of mnist_acgan: a real run folder, not a trained one."""
    out = tmp_path_factory.mktemp("runs") / "acgan"
    cook(get("mnist_acgan"), out=out, limit=256, epochs=1, verbose=0)
    return out


def test_an_acgan_run_samples_a_class(acgan_run, tmp_path):
    recorded = json.loads((acgan_run / "recipe.json").read_text())["recipe"]
    assert (recorded["objective"], recorded["conditional"]) == ("standard", True)
    npz = tmp_path / "threes.npz"
    result = invoke("sample", acgan_run, "--class", 3, "--n", 16,
                    "--out", tmp_path / "threes.png", "--npz", npz)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert np.load(npz)["x"].shape[0] == 16
    with Image.open(tmp_path / "threes.png") as picture:
        picture.load()
    result = invoke("sample", acgan_run, "--class", 10, "--out", tmp_path / "x.png")
    assert result.exit_code == 2 and "--class" in result.output


def test_an_acgan_run_is_measured_on_its_labels(acgan_run, tmp_path):
    out = tmp_path / "metrics.json"
    result = invoke("evaluate", acgan_run, "--n", 200, "--out", out)
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    accuracy = metrics["label_accuracy"]
    assert 0 <= accuracy["overall"] <= 1
    assert len(accuracy["per_class"]) == 10


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("objective='wgan'", "Received: objective='wgan'"),
        ("d_steps=0", "Received: d_steps=0"),
        ("objective='hinge', real_label=0.9", "Received: real_label=0.9"),
    ],
)
def test_bad_objective_settings_in_a_recipe_file_are_usage_errors(
    tmp_path, setting, message
):
    recipe_file = tmp_path / "bad.py"
    recipe_file.write_text(
        "from gan_cookbook.recipes.mnist_quick import RECIPE as QUICK\n"
        f"RECIPE = QUICK.replace({setting})\n"
    )
    result = invoke("cook", recipe_file, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert str(recipe_file) in result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_a_d_that_does_not_fit_the_objective_is_a_usage_error(tmp_path):
    # mnist_quick's sigmoid D under the Wasserstein objective.
    recipe_file = tmp_path / "sigmoid_critic.py"
    recipe_file.write_text(
        "from gan_cookbook.recipes.mnist_quick import RECIPE as QUICK\n"
        "RECIPE = QUICK.replace(objective='wasserstein')\n"
    )
    result = invoke("cook", recipe_file, "--limit", 256, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "unbounded score" in result.output and "'sigmoid'" in result.output
