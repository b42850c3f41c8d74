"""Every bad input stops before training with a message that names it.

README.md ("Bad input") lists the same cases.
"""

import json
import shutil
from collections import namedtuple

import keras
import pytest
from click.testing import CliRunner

from gan_cookbook import recipes
from gan_cookbook.cli import main
from gan_cookbook.cook import cook, prepare
from gan_cookbook.noise import Noise

QUICK = ["--limit", "64", "--batch-size", "32", "--epochs", "1", "--quiet"]


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--epochs", "0"], "Invalid value for '--epochs': 0 is not in the range x>=1"),
        (["--epochs", "-1"], "Invalid value for '--epochs': -1 is not in the range"),
        (["--epochs", "ten"], "'--epochs': 'ten' is not a valid integer"),
        (["--batch-size", "0"], "'--batch-size': 0 is not in the range"),
        (["--batch-size", "1.5"], "'1.5' is not a valid integer"),
        (["--limit", "0"], "Invalid value for '--limit': 0 is not in the range"),
        (["--seed", "-3"], "Invalid value for '--seed': -3 is not in the range x>=0"),
        (["--checkpoint-every", "0"], "Invalid value for '--checkpoint-every'"),
        (["--keep-checkpoints", "-1"], "Invalid value for '--keep-checkpoints'"),
        (["--limit", "20", "--batch-size", "32"],
         "--batch-size 32 is larger than the 20 training images of mnist (train)"),
        (["--resume"], "--out is required when --resume: the folder of the run"),
    ],
)  # fmt: skip
def test_bad_options(arguments, message):
    result = invoke("cook", "mnist", *arguments)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_unknown_recipe_lists_the_known_ones():
    result = invoke("cook", "mnsit")
    assert result.exit_code == 2
    known = ", ".join(recipes.BUILTIN)
    assert f"Unknown recipe 'mnsit'. Known recipes: {known}" in result.output


def test_run_folders(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    cases = [
        ([*QUICK, "--out", a_file], f"--out {a_file} is a file"),
        ([*QUICK, "--out", a_file / "run"], f"--out {a_file / 'run'}: cannot write in"),
        ([*QUICK, "--out", tmp_path, "--overwrite"], "replaces only a run folder"),
        ([*QUICK, "--out", tmp_path], "already holds files"),
        ([*QUICK, "--out", tmp_path / "new", "--resume"], "not a run folder"),
        ([*QUICK, "--out", tmp_path, "--resume", "--overwrite"], "exclude each other"),
    ]
    for arguments, message in cases:
        result = invoke("cook", "mnist", *arguments)
        assert result.exit_code == 2, (arguments, result.output)
        assert message in " ".join(result.output.split()), (arguments, result.output)
    assert a_file.read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file.txt"]


def test_too_little_disk_space(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 10**6))
    with pytest.raises(
        ValueError, match=r"1 MiB free on its disk, about \d+ MiB needed"
    ):
        prepare(recipes.get("mnist"), out=tmp_path / "run", limit=64, batch_size=32)


def test_overwrite_replaces_a_run_and_resume_refuses_other_settings(tmp_path):
    out = tmp_path / "run"
    assert invoke("cook", "mnist_quick", *QUICK, "--out", out).exit_code == 0
    (out / "samples" / "stale.png").write_bytes(b"")
    result = invoke(
        "cook", "mnist_quick", *QUICK, "--out", out, "--overwrite", "--seed", "4"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "recipe.json").read_text())["seed"] == 4
    assert not (out / "samples" / "stale.png").exists()

    result = invoke(
        "cook", "mnist_quick", "--limit", "96", "--batch-size", "16", "--epochs", "2",
        "--precision", "mixed_bfloat16", "--seed", "0", "--out", out, "--resume",
    )  # fmt: skip
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "the settings differ from those of the run" in text
    assert "recipe.precision: 'float32' in the run, 'mixed_bfloat16' given" in text
    assert "recipe.batch_size: 32 in the run, 16 given" in text
    assert "recipe.seed: 4 in the run, 0 given" in text
    assert "data.images: 64 in the run, 96 given" in text
    result = invoke(
        "cook", "mnist_quick", *QUICK, "--seed", "4", "--out", out, "--resume"
    )
    assert result.exit_code == 2
    assert "has already trained 1 epoch. Pass --epochs above 1" in result.output
    assert "Received: --epochs 1" in result.output
    # With no --epochs the run's own are what it has trained already: said so.
    result = invoke("resume", out)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "has already trained 1 epoch. Pass --epochs above 1" in text
    assert "Received: no --epochs (the run's own, 1)" in text


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epochs", 0, "`epochs` must be an integer of at least 1. Received: epochs=0"),
        ("batch_size", "32", "Received: batch_size='32'"),
        ("noise_dim", 0, "Received: noise_dim=0"),
        ("grid_size", -2, "Received: grid_size=-2"),
        ("seed", -1, "Received: seed=-1"),
        ("noise", "uniform", "`noise` must be a gan_cookbook.Noise"),
        (
            "precision",
            "mixed_float16",
            "`precision` must be one of float32, mixed_bfloat16. "
            "Received: precision='mixed_float16'",
        ),
        ("real_label", 0.3, "Received: real_label=0.3"),
    ],
)
def test_recipe_fields_are_checked(field, value, message):
    with pytest.raises(ValueError, match=message):
        recipes.get("mnist").replace(**{field: value})


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"distribution": "gaussian"}, "Received: distribution='gaussian'"),
        ({"low": 1.0, "high": 0.0}, "Received: low=1.0, high=0.0"),
        ({"distribution": "normal", "stddev": 0.0}, "Received: stddev=0.0"),
    ],
)
def test_noise_settings_are_checked(arguments, message):
    with pytest.raises(ValueError, match=message):
        Noise(**arguments)


def test_python_api_checks_counts(tmp_path):
    with pytest.raises(ValueError, match="Received: limit=0"):
        cook(recipes.get("mnist"), out=tmp_path / "a", limit=0)
    with pytest.raises(ValueError, match="Received: keep_checkpoints=0"):
        cook(recipes.get("mnist"), out=tmp_path / "a", keep_checkpoints=0)
    assert not (tmp_path / "a").exists()


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="fused runs on JAX")
def test_fused_engine_needs_jax():
    result = invoke("cook", "mnist", *QUICK, "--engine", "fused")
    assert result.exit_code == 2
    assert "runs on the JAX backend only" in " ".join(result.output.split())
