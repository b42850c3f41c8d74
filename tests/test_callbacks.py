"""Keras callbacks through the loop, and the files a run leaves."""

import csv

import keras
import numpy as np
import pytest
from PIL import Image

from gan_cookbook.callbacks import (
    FrechetEvaluation,
    HistoryCSV,
    LossPlot,
    ProgressGIF,
    StepsCSV,
)
from gan_cookbook.evaluation import FRECHET_KEY
from gan_cookbook.images import save_grid
from gan_cookbook.noise import Noise
from gan_cookbook.plots import read_steps, smooth

from conftest import random_images


def read_rows(path):
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_csv_logger_and_a_custom_callback_run_through_the_loop(gan, tmp_path):
    seen = []

    class Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, round(logs["g_loss"], 6)))

    logger = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    history = gan[3].fit(
        random_images(48), batch_size=16, epochs=2, callbacks=[logger, Steps()],
        verbose=0,
    )  # fmt: skip
    rows = read_rows(tmp_path / "log.csv")
    assert [row["epoch"] for row in rows] == ["0", "1"]
    logged = {
        "d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy",
        "seconds", "images_per_second",
    }  # fmt: skip
    # CSVLogger adds empty val_ columns when there is no validation, as in Model.fit.
    assert set(rows[0]) == {"epoch", *logged, *(f"val_{key}" for key in logged)}
    assert {rows[1][f"val_{key}"] for key in logged} == {"NA"}
    for epoch, row in enumerate(rows):
        assert float(row["g_loss"]) == pytest.approx(history.history["g_loss"][epoch])
    assert [batch for batch, _ in seen] == [0, 1, 2] * 2
    # The epoch's g_loss is the mean of its steps' values.
    assert history.history["g_loss"][0] == pytest.approx(
        np.mean([loss for _, loss in seen[:3]]), abs=1e-5
    )


def test_steps_csv_continues_across_a_resume_and_the_plot_covers_both(gan, tmp_path):
    steps = tmp_path / "steps.csv"
    trainer = gan[3]
    trainer.fit(random_images(48), batch_size=16, epochs=1,
                callbacks=[StepsCSV(steps)], verbose=0)  # fmt: skip
    # A resumed run: a new callback, starting at the second epoch.
    trainer.fit(random_images(48), batch_size=16, epochs=2, initial_epoch=1,
                callbacks=[StepsCSV(steps), LossPlot(steps, tmp_path / "losses.png")],
                verbose=0)  # fmt: skip
    rows = read_rows(steps)
    assert [(row["epoch"], row["step"]) for row in rows] == [
        ("1", "1"), ("1", "2"), ("1", "3"), ("2", "1"), ("2", "2"), ("2", "3"),
    ]  # fmt: skip
    assert list(rows[0])[:4] == ["epoch", "step", "d_loss", "g_loss"]
    with Image.open(tmp_path / "losses.png") as picture:
        assert picture.format == "PNG" and picture.size == (1100, 400)
    columns = read_steps(steps)
    assert len(columns["d_loss"]) == 6


def test_read_steps_keeps_the_last_of_a_repeated_step(tmp_path):
    steps = tmp_path / "steps.csv"
    steps.write_text(
        "epoch,step,d_loss,g_loss\n1,1,0.5,1.0\n1,2,0.4,1.1\n1,1,0.3,0.9\n"
    )
    columns = read_steps(steps)
    np.testing.assert_allclose(columns["d_loss"], [0.3, 0.4])


def test_smooth_is_a_trailing_mean():
    np.testing.assert_allclose(smooth(np.array([1.0, 3, 5, 7]), 2), [1.0, 2, 4, 6])
    np.testing.assert_allclose(smooth(np.array([1.0, 2]), 1), [1.0, 2])


def test_progress_gif_has_one_frame_per_grid_on_disk(tmp_path):
    samples = tmp_path / "samples"
    for epoch in range(1, 4):
        # Grids of different brightness, so no two frames are alike.
        save_grid(
            np.full((4, 28, 28, 1), epoch / 4 - 0.5), samples / f"epoch_{epoch:04d}.png"
        )
    ProgressGIF(samples, tmp_path / "progress.gif", duration=100).on_train_end()
    with Image.open(tmp_path / "progress.gif") as picture:
        assert picture.n_frames == 3 and picture.size == (62, 62)
        assert picture.info["loop"] == 0
        durations = []
        for frame in range(3):
            picture.seek(frame)
            durations.append(picture.info["duration"])
    assert durations == [100, 100, 1100]


def test_history_csv_keeps_a_column_the_first_epoch_lacks(tmp_path):
    history = HistoryCSV(tmp_path / "history.csv", always=["frechet_distance"])
    history.on_epoch_end(0, {"d_loss": 1.0, "g_loss": 2.0, "seconds": 3.0})
    history.on_epoch_end(1, {"d_loss": 1.0, "g_loss": 2.0, "seconds": 3.0,
                             "frechet_distance": 12.5})  # fmt: skip
    rows = read_rows(tmp_path / "history.csv")
    assert list(rows[0]) == ["epoch", "d_loss", "g_loss", "frechet_distance", "seconds"]
    assert [row["frechet_distance"] for row in rows] == ["", "12.5"]


class StubEvaluator:
    """Stands for an Evaluator: counts its calls, returns 1.0, 2.0, ..."""

    size = 20

    def __init__(self):
        self.prepared = 0
        self.noise = []

    def prepare(self):
        self.prepared += 1

    def epoch_scores(self, generator, noise_vectors, labels=None):
        self.noise.append(np.array(noise_vectors))
        return {FRECHET_KEY: float(len(self.noise))}


def test_frechet_evaluation_measures_every_n_epochs_on_fixed_noise(gan, tmp_path):
    evaluator = StubEvaluator()
    callback = FrechetEvaluation(gan[0], Noise(), evaluator, every=2, count=50, seed=3)
    assert callback.KEY == FRECHET_KEY and callback.count == 20  # the reference's
    history = HistoryCSV(tmp_path / "history.csv", always=[FrechetEvaluation.KEY])
    gan[3].fit(random_images(32), batch_size=16, epochs=4,
               callbacks=[callback, history], verbose=0)  # fmt: skip
    assert evaluator.prepared == 1  # the classifier and reference, once
    assert len(evaluator.noise) == 2 and evaluator.noise[0].shape == (20, 10)
    np.testing.assert_array_equal(evaluator.noise[0], evaluator.noise[1])
    rows = read_rows(tmp_path / "history.csv")
    assert [row["frechet_distance"] for row in rows] == ["", "1.0", "", "2.0"]
    with pytest.raises(ValueError, match="Received: every=0"):
        FrechetEvaluation(gan[0], Noise(), evaluator, every=0)
