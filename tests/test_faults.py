"""What survives what: a full disk, damaged checkpoints and models, a second process
on a run, SIGKILL. Each ends in a clear message, with every file already written
whole, and a command that continues; a run continued equals a straight run weight
for weight."""

import csv
import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.checkpoint import list_checkpoints, load_checkpoint
from gan_cookbook.cli import main
from gan_cookbook.cook import RunStopped, cook
from gan_cookbook.files import EXIT_DISK_FULL

ROOT = Path(__file__).parent.parent
RECIPE = "mnist_quick"
SMALL = {"limit": 128, "batch_size": 32, "verbose": 0}
EPOCHS = 3
FLAGS = ["--limit", "128", "--batch-size", "32", "--quiet"]


def final_arrays(out):
    arrays, _ = load_checkpoint(list_checkpoints(out)[-1])
    return arrays


def largest_difference(arrays, expected):
    """The largest absolute difference of any weight or optimizer slot."""
    assert arrays.keys() == expected.keys()
    return max(
        float(np.max(np.abs(arrays[key].astype("float64") - value), initial=0.0))
        for key, value in expected.items()
        if value.dtype.kind == "f"
    )


def assert_same_run(out, straight):
    """The run in ``out`` equals the straight one: every variable of its last
    checkpoint, and every step's losses."""
    arrays, expected = final_arrays(out), final_arrays(straight)
    for key, value in expected.items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)
    steps = (out / "steps.csv").read_text()
    assert steps == (straight / "steps.csv").read_text()


def assert_files_whole(out):
    """No temporary file is left, and every file under its final name reads."""
    import keras

    assert sorted(out.rglob(".*.tmp*")) == []
    for checkpoint in list_checkpoints(out):
        load_checkpoint(checkpoint)
    for model in out.glob("*.keras"):
        keras.saving.load_model(model, compile=False)
    for picture in out.glob("samples/*.png"):
        with Image.open(picture) as image:
            image.load()
    for table in ("steps.csv", "history.csv"):
        if (out / table).exists():
            with (out / table).open(newline="") as file:
                rows = list(csv.reader(file))
            assert all(len(row) == len(rows[0]) for row in rows), table


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    cook(recipes.get(RECIPE), out=out, epochs=EPOCHS, **SMALL)
    return out


# A full disk -------------------------------------------------------------------


def full_on_call(count, write_part):
    """A replacement for a writing function: the ``count``-th call writes part of
    what it was given (``write_part(args)``), then fails as a full disk does."""
    calls = {"count": 0}

    def decorate(original):
        def failing(*args, **kwargs):
            calls["count"] += 1
            if calls["count"] == count:
                write_part(*args)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return original(*args, **kwargs)

        return failing

    return decorate


def write_some(path):
    Path(path).write_bytes(b"PK\x03\x04 partial")


def fill_disk(monkeypatch, where):
    """Makes the second write of one kind fail for lack of space (in epoch 2)."""
    import csv as csv_module

    import keras

    if where == "checkpoint":
        original = np.savez
        failing = full_on_call(2, lambda file, **_: file.write(b"PK partial"))
        monkeypatch.setattr(np, "savez", failing(original))
    elif where == "model":
        # Three models a checkpoint: the fourth is epoch 2's first.
        failing = full_on_call(4, lambda model, path, **_: write_some(path))
        monkeypatch.setattr(keras.Model, "save", failing(keras.Model.save))
    elif where == "sample grid":
        failing = full_on_call(2, lambda picture, path, **_: write_some(path))
        monkeypatch.setattr(Image.Image, "save", failing(Image.Image.save))
    elif where == "steps.csv row":
        failing = full_on_call(2, lambda writer, rows: writer.writer.writerow(["2"]))
        writerows = csv_module.DictWriter.writerows
        monkeypatch.setattr(csv_module.DictWriter, "writerows", failing(writerows))
    elif where == "history.csv row":
        # Epoch 1 writes history.csv's header and row, then steps.csv's header:
        # the fourth is epoch 2's row.
        failing = full_on_call(4, lambda writer, row: writer.writer.writerow(["2"]))
        writerow = csv_module.DictWriter.writerow
        monkeypatch.setattr(csv_module.DictWriter, "writerow", failing(writerow))


@pytest.mark.parametrize(
    "where",
    ["checkpoint", "model", "sample grid", "steps.csv row", "history.csv row"],
)
def test_a_full_disk_stops_the_run_whole_and_resume_continues_exactly(
    tmp_path, monkeypatch, straight, where
):
    out = tmp_path / "run"
    with monkeypatch.context() as patched:
        fill_disk(patched, where)
        with pytest.raises(RunStopped) as stopped:
            cook(recipes.get(RECIPE), out=out, epochs=EPOCHS, **SMALL)
    message = str(stopped.value)
    assert stopped.value.exit_code == EXIT_DISK_FULL
    assert message.startswith("The disk is full: writing ")
    assert " MiB free in " in message and "the run needs about" in message
    assert_files_whole(out)
    # Epoch 1's checkpoint is kept; epoch 2's too when it was written.
    assert stopped.value.checkpoint == list_checkpoints(out)[-1]
    assert stopped.value.checkpoint.name in ("epoch_0001.npz", "epoch_0002.npz")

    cook(recipes.get(RECIPE), out=out, resume=True, **SMALL)
    assert_same_run(out, straight)
    assert_files_whole(out)


def test_a_full_disk_on_the_command_line_is_one_line_and_status_74(
    tmp_path, monkeypatch
):
    out = tmp_path / "run"
    original = np.savez
    monkeypatch.setattr(np, "savez", full_on_call(1, lambda file, **_: None)(original))
    result = CliRunner().invoke(
        main, ["cook", RECIPE, *FLAGS, "--epochs", "1", "--out", str(out)]
    )
    assert result.exit_code == EXIT_DISK_FULL, result.output
    assert "Traceback" not in result.output
    assert "The disk is full: writing " in result.output
    assert "epoch_0001.npz failed" in result.output
    assert "No checkpoint was written yet" in result.output
    monkeypatch.undo()
    # Space freed: resume starts the run from its first step.
    result = CliRunner().invoke(main, ["resume", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert [path.name for path in list_checkpoints(out)] == ["epoch_0001.npz"]


def test_a_full_disk_while_sampling_is_one_line_and_status_74(
    tmp_path, monkeypatch, straight
):
    out = tmp_path / "grid.png"
    failing = full_on_call(1, lambda picture, path, **_: write_some(path))
    monkeypatch.setattr(Image.Image, "save", failing(Image.Image.save))
    result = CliRunner().invoke(main, ["sample", str(straight), "--out", str(out)])
    assert result.exit_code == EXIT_DISK_FULL, result.output
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith(f"The disk is full: writing {out} failed")
    )
    assert not out.exists() and sorted(tmp_path.glob(".*")) == []


# Damaged checkpoints and models -------------------------------------------------


def damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:  # a flipped byte inside an array: the zip's CRC no longer holds
        data[len(data) // 3] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "flipped byte"])
def test_resume_skips_a_damaged_checkpoint_for_the_one_before(tmp_path, straight, how):
    out = tmp_path / "run"
    cook(recipes.get(RECIPE), out=out, epochs=EPOCHS, **SMALL)
    newest = out / "checkpoints" / f"epoch_{EPOCHS:04d}.npz"
    damage(newest, how)
    result = CliRunner().invoke(main, ["resume", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"Skipped the checkpoint {newest} (" in result.output
    assert f"resuming from epoch_{EPOCHS - 1:04d}.npz" in result.output
    # The damaged file is kept aside, not lost; the epoch was trained again.
    assert newest.with_name(newest.name + ".damaged").is_file()
    assert_same_run(out, straight)


def test_no_readable_checkpoint_is_an_error_naming_each(tmp_path):
    out = tmp_path / "run"
    cook(recipes.get(RECIPE), out=out, epochs=2, **SMALL)
    checkpoints = list_checkpoints(out)
    assert len(checkpoints) == 2  # the newest two are kept
    for checkpoint in checkpoints:
        damage(checkpoint, "truncated")
    result = CliRunner().invoke(main, ["resume", str(out), "--epochs", "3"])
    assert result.exit_code == 2, result.output
    assert "No checkpoint of the run can be read" in result.output
    for checkpoint in checkpoints:
        assert f"{checkpoint} (" in result.output
    assert "--overwrite" in result.output
    assert list_checkpoints(out) == checkpoints  # left as they were


@pytest.mark.parametrize("command", ["sample", "interpolate", "evaluate"])
def test_a_damaged_model_is_an_error_naming_the_file(tmp_path, straight, command):
    model = tmp_path / "generator.keras"
    model.write_bytes((straight / "generator.keras").read_bytes()[:1000])
    out = {"sample": "out.png", "interpolate": "out.gif", "evaluate": "out.json"}
    arguments = [command, str(model), "--out", str(tmp_path / out[command])]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2, result.output
    assert f"{model}: cannot be loaded as a Keras model" in result.output
    assert "Traceback" not in result.output


# One process per run folder ------------------------------------------------------


HOLD = textwrap.dedent(
    """
    import sys, time
    from gan_cookbook.locks import held
    with held(sys.argv[1]):
        print("held", flush=True)
        time.sleep(600)
    """
)


def test_a_run_being_cooked_is_refused_to_a_second_process_until_it_dies(
    tmp_path, straight
):
    out = tmp_path / "run"
    out.mkdir()
    for path in straight.iterdir():  # a run, cooked, that another process holds
        target = out / path.name
        if path.is_dir():
            target.mkdir()
            for inner in path.iterdir():
                (target / inner.name).write_bytes(inner.read_bytes())
        else:
            target.write_bytes(path.read_bytes())
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out / ".lock")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        runner = CliRunner()
        for arguments in (
            ["resume", str(out), "--epochs", "4"],
            ["cook", RECIPE, *FLAGS, "--out", str(out), "--overwrite"],
            ["cook", RECIPE, *FLAGS, "--out", str(out), "--resume", "--epochs", "4"],
            ["cook", RECIPE, *FLAGS, "--out", str(out)],
        ):
            result = runner.invoke(main, arguments)
            assert result.exit_code == 2, result.output
            assert f"is being cooked by process {holder.pid} (" in result.output
            assert "Traceback" not in result.output
        # Reading the run goes on while it cooks.
        grid = tmp_path / "grid.png"
        result = runner.invoke(main, ["sample", str(out), "--out", str(grid)])
        assert result.exit_code == 0, result.output
        assert grid.is_file()
        assert (out / "recipe.json").is_file() and list_checkpoints(out)
    finally:
        holder.kill()  # SIGKILL: the kernel lets the lock go
        holder.wait()
    result = CliRunner().invoke(main, ["resume", str(out), "--epochs", "4", "--quiet"])
    assert result.exit_code == 0, result.output


def test_a_lock_names_its_holder_and_is_let_go_when_its_block_ends(tmp_path):
    from gan_cookbook.locks import LockHeld, held, holder

    lock = tmp_path / "run" / ".lock"
    assert holder(lock) is None
    with held(lock):
        assert holder(lock).startswith(f"process {os.getpid()} (")
        with pytest.raises(LockHeld, match=f"held by process {os.getpid()}"):
            with held(lock):
                pass
    assert holder(lock) is None


# SIGKILL at any moment ----------------------------------------------------------


def start(arguments):
    return subprocess.Popen(
        [sys.executable, "-m", "gan_cookbook", *arguments],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_at_random_moments_then_resume_equals_a_straight_run(tmp_path, seed):
    # Longer than `straight`: a kill has epochs, not only a start-up, to land in.
    epochs = ["--epochs", "6"]
    flags = ["--limit", "256", "--batch-size", "32", "--quiet", *epochs]
    reference = tmp_path / "straight"
    started = time.monotonic()
    process = start(["cook", RECIPE, *flags, "--out", str(reference)])
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    # The moments are fractions of a whole run's time, start-up included, so
    # they fall in every part of it on a machine of any speed.
    duration = time.monotonic() - started

    out = tmp_path / "run"
    moments = random.Random(seed)
    process = start(["cook", RECIPE, *flags, "--out", str(out)])
    killed_at = []
    for _ in range(3):
        time.sleep(moments.uniform(0.2, 0.6) * duration)
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_at.append([path.name for path in list_checkpoints(out)])
        process = start(["resume", str(out), "--quiet"])
        if not (out / "recipe.json").exists():
            # Killed while Keras started: nothing was written; cook it again.
            process.wait()
            process = start(["cook", RECIPE, *flags, "--out", str(out)])
    _, stderr = process.communicate(timeout=600)
    if process.returncode != 0:
        # Killed after its last checkpoint, in the end's GIF and plot: done.
        assert "has already trained 6 epochs" in stderr, stderr
    assert killed_at, "no kill landed; the run ended first"
    assert_same_run(out, reference)
    assert sorted(out.rglob(".*.tmp*")) == []


# A real full disk, where this machine lets a test mount a small one --------------

FILL_THEN_RESUME = textwrap.dedent(
    """
    import json, os, shutil, subprocess, sys, time
    from pathlib import Path

    from gan_cookbook.checkpoint import list_checkpoints, load_checkpoint

    disk, report = Path(sys.argv[1]), Path(sys.argv[2])
    out = disk / "run"
    command = [sys.executable, "-m", "gan_cookbook"]
    flags = sys.argv[3:]
    process = subprocess.Popen(
        [*command, "cook", "mnist_quick", *flags, "--out", str(out)],
        stderr=subprocess.PIPE, text=True,
    )
    first = out / "checkpoints" / "epoch_0001.npz"
    while not first.exists() and process.poll() is None:
        time.sleep(0.01)
    # Everything but 64 KiB: the next model or checkpoint cannot be written.
    filler = disk / "filler"
    with filler.open("wb") as file:
        left = shutil.disk_usage(disk).free - 2**16
        while left > 0:
            try:
                left -= file.write(b"\\0" * min(left, 2**20))
            except OSError:
                break
    _, stderr = process.communicate()
    stopped = {
        "status": process.returncode,
        "stderr": stderr,
        "temporaries": [str(path) for path in out.rglob(".*.tmp*")],
        "checkpoints": [path.name for path in list_checkpoints(out)],
    }
    for checkpoint in list_checkpoints(out):
        load_checkpoint(checkpoint)  # raises if one is torn
    filler.unlink()
    resumed = subprocess.run(
        [*command, "resume", str(out), "--quiet"], capture_output=True, text=True
    )
    shutil.copytree(out, report.parent / "run")
    report.write_text(json.dumps(
        {"stopped": stopped, "resumed": resumed.returncode, "log": resumed.stderr}
    ))
    """
)


def test_a_real_full_disk_stops_the_run_and_resume_continues_exactly(tmp_path):
    """A 32 MiB tmpfs in a mount namespace of the test's own (``unshare``), filled
    once the first checkpoint is written."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c"]
    probe = subprocess.run(
        [*mount, f"mount -t tmpfs -o size=1m tmpfs {disk}"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip("this machine lets no test mount a small filesystem")
    flags = ["--limit", "512", "--batch-size", "32", "--epochs", "4", "--quiet"]
    reference = tmp_path / "straight"
    process = start(["cook", RECIPE, *flags, "--out", str(reference)])
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr

    report = tmp_path / "report" / "report.json"
    report.parent.mkdir()
    script = tmp_path / "fill_then_resume.py"
    script.write_text(FILL_THEN_RESUME)
    inner = (
        f"mount -t tmpfs -o size=32m tmpfs {disk} && exec {sys.executable} "
        f"{script} {disk} {report} {' '.join(flags)}"
    )
    result = subprocess.run(
        [*mount, inner], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(report.read_text())
    stopped = outcome["stopped"]
    assert stopped["status"] == EXIT_DISK_FULL, stopped["stderr"]
    assert "Traceback" not in stopped["stderr"]
    assert "The disk is full: writing " in stopped["stderr"]
    assert stopped["temporaries"] == []
    assert stopped["checkpoints"][0] == "epoch_0001.npz"
    assert outcome["resumed"] == 0, outcome["log"]
    assert_same_run(report.parent / "run", reference)
