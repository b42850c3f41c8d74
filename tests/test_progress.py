"""What a run shows while it trains: the bar's ETA, the total estimate, the plot."""

import re
import time

import keras
import numpy as np

from gan_cookbook.plots import epoch_axis, plot_losses
from gan_cookbook.progress import ProgressLogger, ResumedProgbar, format_duration


class Clock:
    """Stands in for a time function: returns ``now``, which the test moves on."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def etas(output):
    """The ETAs (in seconds) a progress bar printed, in order."""
    found = re.findall(
        r"\x1b\[1m(?:(\d+):)?(\d+)s?\x1b\[0m \d+(?:s|ms|us)/step", output
    )
    return [int(minutes or 0) * 60 + int(seconds) for minutes, seconds in found]


def run_bar(bar_class, monkeypatch, capsys, **options):
    """Steps 55 to 60 of a 100-step epoch at one second a step."""
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    bar = bar_class(target=100, interval=0, **options)
    for current in range(55, 61):
        clock.now += 1
        bar.update(current, [("d_loss", 0.5)])
    return etas(capsys.readouterr().out)


def test_a_bar_resumed_within_an_epoch_shows_the_true_eta(monkeypatch, capsys):
    # One second a step, 40 steps left at step 60: 40 s.
    assert run_bar(ResumedProgbar, monkeypatch, capsys, initial=54)[-1] == 40
    # Keras' own bar takes the 6 steps it timed for 60: an ETA of a few seconds
    # that climbs, step after step, for the rest of the epoch.
    assert run_bar(keras.utils.Progbar, monkeypatch, capsys)[-1] < 10


def test_the_logger_uses_the_resumed_bar_and_estimates_the_whole_run(
    monkeypatch, capsys
):
    clock = Clock()
    monkeypatch.setattr(time, "perf_counter", clock)
    logger = ProgressLogger(estimate_after=4)
    logger.set_params({"verbose": 1, "epochs": 3, "steps": 10})
    logger.on_train_begin()
    logger.on_epoch_begin(1)  # resumed in epoch 2 (1 counted from 0) after step 5
    for batch in range(5, 10):
        logger.on_train_batch_begin(batch)
        if batch == 5:
            assert isinstance(logger.progbar, ResumedProgbar)
            assert logger.progbar.initial == 5
        clock.now += 2.0  # two seconds a step
        logger.on_train_batch_end(batch, {"d_loss": 0.5})
    # The first step (it compiles) is not timed; the 4 after it are. At the end of
    # epoch 2 the 10 steps of epoch 3 are left, at 2 s a step.
    assert logger.estimate == (
        "Estimated time left: 20 s for 10 steps at 2000 ms/step, plus each epoch's "
        "end (grid, checkpoint)."
    )
    assert logger.estimate in capsys.readouterr().out


def test_a_run_stopped_within_an_epoch_ends_the_bars_line(capsys):
    logger = ProgressLogger()
    logger.set_params({"verbose": 1, "epochs": 2, "steps": 10})
    logger.on_train_begin()
    logger.on_epoch_begin(0)
    for batch in range(3):
        logger.on_train_batch_begin(batch)
        logger.on_train_batch_end(batch, {"d_loss": 0.5})
    capsys.readouterr()
    logger.on_train_end()
    # What the command prints next (where it stopped) starts a line of its own.
    assert capsys.readouterr().out == "\n"
    # At an epoch's end the bar has ended its line already: nothing more.
    logger.on_train_begin()
    logger.on_epoch_begin(1)
    for batch in range(10):
        logger.on_train_batch_begin(batch)
        logger.on_train_batch_end(batch, {"d_loss": 0.5})
    logger.on_epoch_end(1, {"d_loss": 0.5})
    capsys.readouterr()
    logger.on_train_end()
    assert capsys.readouterr().out == ""


def test_format_duration():
    assert format_duration(12.4) == "12 s"
    assert format_duration(250) == "4 min 10 s"
    assert format_duration(3900) == "1 h 05 min"


def test_a_partial_epoch_keeps_its_steps_in_place_and_has_no_mean(tmp_path):
    # Two whole epochs of 4 steps, then 2 steps of the third (a run stopped there).
    epochs = np.array([1, 1, 1, 1, 2, 2, 2, 2, 3, 3])
    steps = np.array([1, 2, 3, 4, 1, 2, 3, 4, 1, 2])
    position, whole = epoch_axis(epochs, steps, steps_per_epoch=4)
    np.testing.assert_allclose(position[-2:], [2.25, 2.5])
    np.testing.assert_array_equal(whole, [1, 2])
    # Without the epoch's length the longest epoch recorded sets it.
    position, _ = epoch_axis(epochs, steps)
    np.testing.assert_allclose(position[-1], 2.5)

    csv = tmp_path / "steps.csv"
    rows = ["epoch,step,d_loss,g_loss"] + [
        f"{epoch},{step},0.5,0.7" for epoch, step in zip(epochs, steps, strict=True)
    ]
    csv.write_text("\n".join(rows) + "\n")
    plotted = plot_losses(csv, tmp_path / "losses.png", steps_per_epoch=4)
    assert plotted.stat().st_size > 0
