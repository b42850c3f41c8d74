"""Checkpoints, exact resume, signals and NaN: a run never loses more than a step."""

import csv
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.checkpoint import list_checkpoints, load_checkpoint, position
from gan_cookbook.cli import main
from gan_cookbook.cook import RunStopped, cook, prepare

from conftest import StopAt

ROOT = Path(__file__).parent.parent
# The run machinery is the same for every recipe; the quick recipe's small models
# keep each epoch's end (grid, the average's BatchNorm pass, checkpoint) short. It
# averages G, as mnist does, so exact resume covers the average too.
RECIPE = "mnist_quick"
SMALL = {"limit": 128, "batch_size": 32, "verbose": 0}


def losses(run_folder):
    with (Path(run_folder) / "history.csv").open() as file:
        return [
            (row["epoch"], row["d_loss"], row["g_loss"]) for row in csv.DictReader(file)
        ]


def weights(path):
    return [
        keras.ops.convert_to_numpy(w) for w in keras.saving.load_model(path).weights
    ]


# Several D updates a step (on 128 images, batches of 8: 3 steps of 5 an epoch, or
# 8 of 2), with the hinge and Wasserstein objectives and a clipped critic.
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        (RECIPE, {}),
        ("mnist_hinge", {"d_steps": 2, "batch_size": 8}),
        pytest.param(
            "mnist_wgan",
            {"batch_size": 8},
            marks=pytest.mark.skipif(
                ON_TENSORFLOW,
                reason="a Wasserstein critic's first updates do not repeat bit for "
                "bit on TensorFlow (docs/objectives.md); tests/test_backends.py runs "
                "this on JAX and PyTorch",
            ),
        ),
    ],
    ids=[RECIPE, "mnist_hinge-d_steps-2", "mnist_wgan"],
)
def test_two_epochs_equal_one_then_a_resume(tmp_path, name, changes):
    recipe = recipes.get(name).replace(**changes)
    settings = {**SMALL, "batch_size": changes.get("batch_size", SMALL["batch_size"])}
    cook(recipe, out=tmp_path / "straight", epochs=2, **settings)
    cook(recipe, out=tmp_path / "split", epochs=1, **settings)
    resumed = cook(recipe, out=tmp_path / "split", epochs=2, resume=True, **settings)
    assert resumed.resumed_from.name == "epoch_0001.npz"
    assert losses(tmp_path / "straight") == losses(tmp_path / "split")
    assert len(losses(tmp_path / "split")) == 2
    for name in ("generator.keras", "discriminator.keras"):
        for straight, split in zip(
            weights(tmp_path / "straight" / name), weights(tmp_path / "split" / name),
            strict=True,
        ):  # fmt: skip
            np.testing.assert_array_equal(straight, split)


def test_checkpoints_are_kept_as_asked(tmp_path):
    cook(recipes.get(RECIPE), out=tmp_path / "a", epochs=3, keep_checkpoints=1, **SMALL)
    assert [path.name for path in list_checkpoints(tmp_path / "a")] == [
        "epoch_0003.npz"
    ]
    arrays, metadata = load_checkpoint(list_checkpoints(tmp_path / "a")[-1])
    assert metadata["progress"] == {"epoch": 3, "step": 0, "totals": {}, "seconds": 0.0}
    assert [row["epoch"] for row in metadata["history"]] == [1, 2, 3]
    assert arrays["sample_noise"].shape == (64, recipes.get(RECIPE).noise_dim)
    assert not list((tmp_path / "a" / "checkpoints").glob("*.tmp"))

    cook(recipes.get(RECIPE), out=tmp_path / "b", epochs=3, checkpoint_every=2, **SMALL)
    # Every 2 epochs, and after the last; the newest two are kept by default.
    assert [path.name for path in list_checkpoints(tmp_path / "b")] == [
        "epoch_0002.npz",
        "epoch_0003.npz",
    ]


class PoisonAt(StopAt):
    """Turns one of D's weights into NaN after a given step of a given epoch."""

    def __init__(self, epoch, step, discriminator):
        super().__init__(epoch, step)
        self.discriminator = discriminator

    def act(self):
        kernel = self.discriminator.weights[0]
        kernel.assign(keras.ops.full(kernel.shape, float("nan")))


def test_nan_loss_stops_keeps_the_good_checkpoint_and_resumes(tmp_path):
    recipe = recipes.get(RECIPE)
    out = tmp_path / "run"
    run = prepare(recipe, out=out, epochs=3, **SMALL)
    run.callbacks = [PoisonAt(1, 1, run.discriminator)]
    with pytest.raises(RunStopped) as stopped:
        run.cook()
    message = str(stopped.value)
    assert "Epoch 2, step 3 of 4: d_loss is nan" in message
    assert "last good checkpoint is kept" in message and "`resume=True`" in message
    assert stopped.value.exit_code == 1
    assert stopped.value.checkpoint.name == "epoch_0001.npz"
    arrays, _ = load_checkpoint(stopped.value.checkpoint)
    assert all(np.isfinite(value).all() for key, value in arrays.items() if "/" in key)
    resumed = cook(recipe, out=out, epochs=3, resume=True, **SMALL)
    assert len(resumed.epoch_history) == 3
    assert [row[0] for row in losses(out)] == ["1", "2", "3"]


def start_cook(out, *extra, epochs=8):
    command = [
        *(sys.executable, "-m", "gan_cookbook", "cook", RECIPE, "--limit", "128"),
        *("--batch-size", "32", "--epochs", str(epochs), "--out", str(out)),
        *("--quiet", *extra),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first_grid = Path(out) / "samples" / "epoch_0001.png"
    deadline = time.monotonic() + 300
    while not first_grid.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    return process


def position_in(message):
    """The (epochs done, steps into the next) a stop message names, from 1."""
    after_epoch = re.search(r"after epoch (\d+)\.", message)
    if after_epoch:
        return int(after_epoch.group(1)), 0
    within = re.search(r"in epoch (\d+), after step (\d+) of 4\.", message)
    assert within, message
    return int(within.group(1)) - 1, int(within.group(2))


@pytest.mark.parametrize(
    "sent, code, precision",
    [(signal.SIGINT, 130, "float32"), (signal.SIGTERM, 143, "mixed_bfloat16")],
)
def test_a_signal_finishes_the_step_checkpoints_and_prints_the_resume_command(
    tmp_path, sent, code, precision
):
    out = tmp_path / "run"
    chosen = [] if precision == "float32" else ["--precision", precision]
    process = start_cook(out, *chosen)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == code, stderr
    assert f"Stopped by {sent.name}" in stderr
    # The run folder holds the settings: the command to resume is short.
    command = stderr.split("Resume with: ")[1].strip()
    assert command == shlex.join(["gan-cookbook", "cook", RECIPE, "--out", str(out),
                                  "--resume"])  # fmt: skip
    settings = json.loads((out / "recipe.json").read_text())
    assert settings["recipe"]["precision"] == precision
    checkpoint = list_checkpoints(out)[-1]  # the one the stop wrote, the newest
    _, metadata = load_checkpoint(checkpoint)
    assert metadata["progress"]["epoch"] >= 1
    # One numbering, from 1: the message, the file name and the checkpoint agree.
    stopped_at = position_in(stderr)
    assert stopped_at == (metadata["progress"]["epoch"], metadata["progress"]["step"])
    assert position(checkpoint) == stopped_at
    assert checkpoint.name == (
        f"epoch_{stopped_at[0]:04d}.npz"
        if stopped_at[1] == 0
        else f"epoch_{stopped_at[0] + 1:04d}_step_{stopped_at[1]:06d}.npz"
    )

    # The printed command as given, to the end of the next epoch (not all 8:
    # mixed_bfloat16 is slow on a CPU).
    to = stopped_at[0] + 1
    arguments = [*shlex.split(command)[1:], "--epochs", str(to), "--quiet"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert [row[0] for row in losses(out)] == [str(epoch) for epoch in range(1, to + 1)]


def test_a_second_ctrl_c_quits_at_once_leaving_whole_files(tmp_path):
    out = tmp_path / "run"
    process = start_cook(out)
    process.send_signal(signal.SIGINT)
    # Two signals close together reach Python's handler as one: send the second
    # once the first has been taken.
    for line in process.stdout:
        if "SIGINT received" in line:
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    # The second signal interrupts at once: status 130 still, one line saying what
    # the folder keeps, no traceback.
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "Aborted!" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Stopped at once"), stderr
    assert ("Resume with" in last) == bool(list_checkpoints(out)), stderr
    # The checkpoint of epoch 1 may or may not have been written when the second
    # signal came; whatever is there must be whole.
    for checkpoint in list_checkpoints(out):
        load_checkpoint(checkpoint)  # raises if a file is torn
    assert not list(out.glob("checkpoints/*.tmp"))
    assert (out / "recipe.json").is_file()


def test_resume_command_of_a_recipe_module(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", f"gan_cookbook.recipes.{RECIPE}", "--limit", "64",
         "--batch-size", "32", "--epochs", "1", "--out", str(out), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # No need to repeat --limit and --batch-size: the run folder holds them.
    resumed = subprocess.run(
        [sys.executable, "-m", f"gan_cookbook.recipes.{RECIPE}", "--epochs", "2",
         "--out", str(out), "--resume"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from epoch_0001.npz" in resumed.stdout
    assert [row[0] for row in losses(out)] == ["1", "2"]


def test_a_stopped_run_can_be_sampled_evaluated_and_resumed(tmp_path):
    out = tmp_path / "run"
    process = start_cook(out)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert f"the models in {out} are from it" in stderr
    # The checkpoint left the models beside it, written whole.
    for name in ("generator.keras", "generator_raw.keras", "discriminator.keras"):
        keras.saving.load_model(out / name)
    assert not list(out.glob(".*.keras"))
    runner = CliRunner()
    result = runner.invoke(main, ["sample", str(out), "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "s.png").size == (8 * 30 + 2, 8 * 30 + 2)
    result = runner.invoke(
        main, ["interpolate", str(out), "--out", str(tmp_path / "w.gif"), "--walks",
               "2", "--points", "2", "--frames", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["evaluate", str(out), "--n", "64"])
    assert result.exit_code == 0, result.output
    assert "Fréchet distance" in result.output
    # `resume` needs no recipe and no option but how far: the run folder holds them.
    _, metadata = load_checkpoint(list_checkpoints(out)[-1])
    to = metadata["progress"]["epoch"] + 1
    result = runner.invoke(main, ["resume", str(out), "--epochs", str(to), "--quiet"])
    assert result.exit_code == 0, result.output
    assert [row[0] for row in losses(out)] == [str(epoch) for epoch in range(1, to + 1)]


def test_a_run_can_be_sampled_while_it_trains(tmp_path):
    out = tmp_path / "run"
    process = start_cook(out, epochs=200)
    try:
        # Each epoch rewrites the models (4 steps apart): every read finds a whole
        # file, the previous epoch's or the new one.
        loaded = 0
        deadline = time.monotonic() + 60
        while loaded < 8 and time.monotonic() < deadline:
            if (out / "generator.keras").is_file():
                keras.saving.load_model(out / "generator.keras")
                loaded += 1
        assert loaded == 8
        assert process.poll() is None, "the run ended before it was read"
    finally:
        process.kill()
        process.communicate()


def test_resume_takes_the_settings_of_the_run(tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    first = ["cook", RECIPE, "--limit", "96", "--batch-size", "32", "--seed", "3",
             "--epochs", "1", "--out", str(out), "--quiet"]  # fmt: skip
    assert runner.invoke(main, first).exit_code == 0
    result = runner.invoke(main, ["cook", RECIPE, "--out", str(out), "--resume",
                                  "--epochs", "2", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["resume", str(out), "--epochs", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "recipe.json").read_text())
    assert settings["data"]["images"] == 96 and settings["recipe"]["seed"] == 3
    assert settings["options"] == {
        "epochs": 3, "batch_size": 32, "seed": 3, "limit": 96
    }  # fmt: skip
    assert len(losses(out)) == 3
    # Given and different is still refused, with the difference named.
    result = runner.invoke(main, ["cook", RECIPE, "--out", str(out), "--resume",
                                  "--epochs", "4", "--limit", "64"])  # fmt: skip
    assert result.exit_code == 2
    assert "data.images: 96 in the run, 64 given" in result.output
    # Nothing left to train: say how to train further.
    result = runner.invoke(main, ["resume", str(out)])
    assert result.exit_code == 2
    assert "has already trained 3 epochs. Pass --epochs above 3" in result.output


def test_resume_finds_the_recipe_file_a_run_was_cooked_from(tmp_path):
    recipe = tmp_path / "my_recipe.py"
    recipe.write_text(
        "from gan_cookbook import recipes\n"
        f"RECIPE = recipes.get({RECIPE!r}).replace(name='mine', noise_dim=6)\n"
    )
    out = tmp_path / "run"
    runner = CliRunner()
    cook_file = ["cook", str(recipe), "--limit", "64", "--batch-size", "32",
                 "--epochs", "1", "--out", str(out), "--quiet"]  # fmt: skip
    result = runner.invoke(main, cook_file)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "recipe.json").read_text())["recipe"]["file"] == str(
        recipe.resolve()
    )
    result = runner.invoke(main, ["resume", str(out), "--epochs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(losses(out)) == 2
    recipe.unlink()
    result = runner.invoke(main, ["resume", str(out), "--epochs", "3"])
    assert result.exit_code == 2
    assert f"cooked from the recipe file {recipe.resolve()}, which is no longer" in (
        result.output
    )


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_its_first_step(
    tmp_path,
):
    out = tmp_path / "run"
    runner = CliRunner()
    first = ["cook", RECIPE, "--limit", "64", "--batch-size", "32", "--epochs", "1",
             "--out", str(out), "--quiet"]  # fmt: skip
    assert runner.invoke(main, first).exit_code == 0
    straight, _ = load_checkpoint(list_checkpoints(out)[-1])
    steps = (out / "steps.csv").read_text()
    # What a kill in the first epoch leaves: settings, no checkpoint.
    shutil.rmtree(out / "checkpoints")
    result = runner.invoke(main, first)
    assert result.exit_code == 2, result.output
    assert "stopped before its first checkpoint" in result.output
    assert "--resume" in result.output and "--overwrite" in result.output
    result = runner.invoke(main, ["resume", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "holds no checkpoint yet" in result.output
    resumed, _ = load_checkpoint(list_checkpoints(out)[-1])
    assert resumed.keys() == straight.keys()
    for key, value in straight.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)
    assert (out / "steps.csv").read_text() == steps  # each step once
    result = runner.invoke(main, [*first, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert [path.name for path in list_checkpoints(out)] == ["epoch_0001.npz"]
