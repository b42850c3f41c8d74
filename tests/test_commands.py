"""sample, interpolate and evaluate, --eval-every and --tensorboard, end to end."""

import csv
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.cli import main
from gan_cookbook.cook import prepare

from conftest import write_npz


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """Two quick epochs, measured after the second, logged to TensorBoard."""
    root = tmp_path_factory.mktemp("runs")
    run = prepare(
        # The small models: what is tested here is the same for every recipe.
        recipes.get("mnist_quick"),
        out=root / "mnist_quick",
        limit=256,
        epochs=2,
        batch_size=32,
        verbose=0,
        eval_every=2,
        eval_count=300,
        tensorboard=root / "logs",
    )
    run.cook()
    return run.out


def test_a_run_leaves_progress_gif_losses_png_and_steps_csv(run_folder):
    with Image.open(run_folder / "progress.gif") as picture:
        assert picture.n_frames == 2 and picture.size == (242, 242)
    with Image.open(run_folder / "losses.png") as picture:
        assert picture.format == "PNG"
    with (run_folder / "steps.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 16  # 256 images in batches of 32, two epochs
    with (run_folder / "history.csv").open() as file:
        history = list(csv.DictReader(file))
    # Measured every second epoch: the column is there from the first, empty there.
    assert history[0]["frechet_distance"] == ""
    assert 0 < float(history[1]["frechet_distance"]) < 1000


def test_tensorboard_gets_epoch_scalars_and_the_sample_grid(run_folder):
    import tensorflow as tf

    def tags(folder):
        found = {}
        for event_file in folder.glob("events.out.tfevents.*"):
            for event in tf.compat.v1.train.summary_iterator(str(event_file)):
                for value in event.summary.value:
                    found.setdefault(value.tag, []).append(event.step)
        return found

    scalars = tags(run_folder.parent / "logs" / "train")
    assert scalars["epoch_d_loss"] == [0, 1] and scalars["epoch_g_loss"] == [0, 1]
    assert scalars["epoch_frechet_distance"] == [1]
    assert tags(run_folder.parent / "logs" / "samples") == {"samples": [1, 2]}


def test_sample_draws_a_grid_and_the_raw_images(run_folder, tmp_path):
    out, npz = tmp_path / "grid.png", tmp_path / "raw.npz"
    result = invoke("sample", run_folder, "--n", 10, "--seed", 3, "--out", out,
                    "--npz", npz)  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(out) as picture:
        assert picture.size == (4 * 30 + 2, 3 * 30 + 2)  # 10 images, 4 a row
    raw = np.load(npz)
    assert raw["x"].shape == (10, 28, 28, 1) and raw["x"].dtype == np.uint8
    # The recipe's noise: 32 numbers uniform in [-1, 1).
    assert raw["noise"].shape == (10, 32)
    assert -1 <= raw["noise"].min() < 0 < raw["noise"].max() < 1
    again = tmp_path / "again.png"
    invoke("sample", run_folder, "--n", 10, "--seed", 3, "--out", again)
    assert again.read_bytes() == out.read_bytes()
    other = tmp_path / "other.png"
    invoke("sample", run_folder, "--n", 10, "--seed", 4, "--out", other)
    assert other.read_bytes() != out.read_bytes()


def test_interpolate_writes_an_animated_gif(run_folder, tmp_path):
    out = tmp_path / "walk.gif"
    result = invoke(
        "interpolate", run_folder / "generator.keras", "--out", out,
        "--walks", 4, "--points", 3, "--frames", 5, "--scale", 1,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "15 frames of 4 walks" in result.output
    with Image.open(out) as picture:
        assert picture.n_frames == 15 and picture.size == (62, 62)


def test_evaluate_writes_metrics_beside_the_floor(run_folder):
    result = invoke("evaluate", run_folder, "--n", 400)
    assert result.exit_code == 0, result.output
    assert (
        "400 images of generator.keras (the average of the trained generator's "
        "weights, decay 0.99) against 400 images of mnist (test)"
    ) in " ".join(result.output.split())
    for label in ("Fréchet distance", "KID x 1000", "classifier score",
                  "classes covered", "class KL"):  # fmt: skip
        assert label in result.output
    metrics = json.loads((run_folder / "metrics.json").read_text())
    assert metrics["n"] == 400 and metrics["classifier"] == "mnist (shipped)"
    generated, floor = metrics["generated"], metrics["floor"]
    # Two epochs on 256 images make blobs; real training images are near the floor.
    assert floor["frechet_distance"] < 15 < generated["frechet_distance"]
    assert floor["classes_covered"] == 10 and floor["classifier_score"] > 8
    assert sum(generated["class_histogram"]) == pytest.approx(1)


def test_evaluate_errors_are_usage_errors(run_folder, tmp_path):
    bare = tmp_path / "bare" / "generator.keras"
    bare.parent.mkdir()
    shutil.copy(run_folder / "generator.keras", bare)
    result = invoke("evaluate", bare)
    assert result.exit_code == 2
    assert "no recipe.json tells what it was trained on" in result.output
    assert "drawing noise uniform in [0, 1)" in result.output

    unlabelled = tmp_path / "unlabelled.npz"
    np.savez(unlabelled, x_train=np.zeros((8, 28, 28), np.uint8))
    result = invoke("evaluate", run_folder, "--data", unlabelled, "--n", 4)
    assert result.exit_code == 2
    assert f"{unlabelled}: has no labels (y_train)" in " ".join(result.output.split())

    result = invoke("sample", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "RUN_OR_MODEL must be a run folder or a .keras generator file" in (
        result.output
    )


def test_evaluate_on_other_labelled_data_trains_its_classifier(
    run_folder, tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    data = write_npz(tmp_path / "digits.npz", count=64)
    out = tmp_path / "digits_metrics.json"
    result = invoke("evaluate", run_folder, "--data", data, "--n", 16, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Training the feature classifier of" in result.output
    # No x_test: two disjoint halves of x_train, 16 at most of 64 -> 16 each.
    assert "16 images of" in result.output and "(it has no test split)" in (
        result.output
    )
    assert json.loads(out.read_text())["n"] == 16


def test_eval_every_on_unlabelled_data_stops_before_training(tmp_path):
    unlabelled = tmp_path / "faces.npz"
    np.savez(unlabelled, x_train=np.zeros((64, 28, 28), np.uint8))
    result = invoke(
        "cook", "mnist", "--data", unlabelled, "--batch-size", "32",
        "--eval-every", "1", "--out", tmp_path / "run",
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"{unlabelled}: has no labels (y_train)" in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def averaged_run(tmp_path_factory):
    """One epoch of a recipe that averages G, measured with --eval-every."""
    run = prepare(
        recipes.get("mnist_quick").replace(average=0.9),
        out=tmp_path_factory.mktemp("runs") / "averaged",
        limit=128,
        epochs=1,
        batch_size=32,
        verbose=0,
        eval_every=1,
        eval_count=200,
    )
    run.cook()
    return run.out


def test_eval_every_measures_the_average_and_the_trained_generator(averaged_run):
    with (averaged_run / "history.csv").open() as file:
        (row,) = list(csv.DictReader(file))
    averaged, raw = float(row["frechet_distance"]), float(row["frechet_distance_raw"])
    assert averaged > 0 and raw > 0 and averaged != raw


def test_evaluate_says_which_generator_and_compares_the_raw_one(averaged_run, tmp_path):
    out = tmp_path / "metrics.json"
    result = invoke("evaluate", averaged_run, "--n", 200, "--compare-raw", "--out", out)
    assert result.exit_code == 0, result.output
    assert "generator.keras (the average of the trained generator's weights" in (
        result.output
    )
    assert "generator_raw.keras (the trained generator)" in result.output
    metrics = json.loads(out.read_text())
    assert metrics["generator"].startswith("generator.keras (the average")
    assert metrics["raw"]["generator"] == "generator_raw.keras (the trained generator)"
    averaged = metrics["generated"]["frechet_distance"]
    assert averaged != metrics["raw"]["generated"]["frechet_distance"]

    # The trained generator alone, by its file.
    result = invoke(
        "evaluate", averaged_run / "generator_raw.keras", "--n", 200, "--out", out
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["generator"].startswith("generator_raw.keras")


def test_compare_raw_without_an_average_is_a_usage_error(run_folder, tmp_path):
    # A generator file with no recipe.json beside it: nothing says it was averaged.
    bare = tmp_path / "bare" / "generator.keras"
    bare.parent.mkdir()
    shutil.copy(run_folder / "generator.keras", bare)
    result = invoke("evaluate", bare, "--compare-raw")
    assert result.exit_code == 2
    assert "--compare-raw" in result.output and "generator_raw.keras" in result.output
