"""The benchmark: its figures, its command, and the plain PyTorch reference's model."""

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from click.testing import CliRunner

from gan_cookbook import recipes
from gan_cookbook.bench import benchmark
from gan_cookbook.cli import main
from gan_cookbook.models import cooking_discriminator, cooking_generator

from conftest import run_script

ROOT = Path(__file__).parent.parent
TINY = {"steps": 3, "warmup": 1, "batch_size": 16, "limit": 64}


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


def test_benchmark_gives_sane_figures_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = benchmark(recipes.get("mnist"), **TINY)

    assert list(tmp_path.iterdir()) == []  # no runs/ folder, nothing at all
    assert result["batch_size"] == 16 and result["steps"] == 3
    assert result["images"] == 64 and len(result["step_ms"]) == 3
    assert 0 < result["ms_per_step_min"] <= result["ms_per_step_median"]
    assert result["ms_per_step_min"] <= result["ms_per_step_mean"]
    assert result["images_per_second"] == pytest.approx(
        16 / result["ms_per_step_median"] * 1000
    )
    machine = result["machine"]
    assert machine["backend"] in ("tensorflow", "jax", "torch")
    assert machine["device"] in ("cpu", "gpu") and machine["cpu_cores"] >= 1
    assert machine["keras_version"] and machine["framework_version"]


def test_benchmark_refuses_bad_settings():
    with pytest.raises(ValueError, match="Received: steps=0"):
        benchmark(recipes.get("mnist"), steps=0)
    with pytest.raises(ValueError, match="Received: warmup=-1"):
        benchmark(recipes.get("mnist"), warmup=-1)


def test_bench_command_prints_the_figures_and_the_machine():
    result = invoke(
        "bench", "mnist", "--steps", 2, "--warmup", 1, "--batch-size", 16,
        "--limit", 32, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output[result.output.index("{") :])
    assert figures["batch_size"] == 16 and math.isfinite(figures["images_per_second"])

    result = invoke(
        "bench", "mnist", "--steps", 2, "--warmup", 0, "--batch-size", 16,
        "--limit", 32,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ms per step   median" in result.output
    assert "images/s" in result.output
    assert "machine" in result.output and "Keras " in result.output


def test_bench_command_refuses_bad_input_with_usage_errors():
    result = invoke("bench", "mnist", "--batch-size", 64, "--limit", 32)
    assert result.exit_code == 2
    assert "--batch-size 64 is larger than the 32" in result.output

    result = invoke("bench", "mnist", "--steps", 0)
    assert result.exit_code == 2 and "--steps" in result.output

    result = invoke("bench", "no_such_recipe")
    assert result.exit_code == 2 and "Unknown recipe" in result.output


def load_reference():
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "torch_reference", ROOT / "benchmarks" / "torch_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["torch_reference"] = module
    spec.loader.exec_module(module)
    return module


def test_reference_models_have_the_keras_models_sizes():
    reference = load_reference()
    # Keras counts BatchNorm's moving mean and variance too: 4 numbers a feature.
    assert reference.parameter_count(reference.Generator(10)) == 182_145
    assert cooking_generator(10).count_params() == 182_145
    assert reference.parameter_count(reference.Discriminator()) == 212_865
    assert cooking_discriminator().count_params() == 212_865


def test_reference_step_trains_each_model_in_its_own_phase():
    reference = load_reference()
    import torch

    gan = reference.ReferenceGAN(device="cpu", seed=0)
    real = torch.from_numpy(reference.load_images(16))

    def snapshot(module):
        return {
            name: tensor.detach().clone()
            for name, tensor in module.state_dict().items()
            if not name.endswith("num_batches_tracked")
        }

    def changed(before, module):
        after = snapshot(module)
        return {name for name in before if not torch.equal(before[name], after[name])}

    generator = snapshot(gan.generator)
    images = gan.make_fakes(real)
    assert images.shape == (32, 1, 28, 28)
    # Fakes come from training mode: G's BatchNorm statistics move, its weights don't.
    moved = changed(generator, gan.generator)
    assert moved and all("running" in name for name in moved)

    generator, discriminator = snapshot(gan.generator), snapshot(gan.discriminator)
    gan.discriminator_step(images)
    assert changed(discriminator, gan.discriminator) == set(discriminator)
    assert changed(generator, gan.generator) == set()

    generator, discriminator = snapshot(gan.generator), snapshot(gan.discriminator)
    gan.generator_step(16)
    assert changed(generator, gan.generator) == set(generator)
    assert changed(discriminator, gan.discriminator) == set()
    assert all(parameter.requires_grad for parameter in gan.discriminator.parameters())

    logs = gan.train_step(real)
    assert set(logs) == {"d_loss", "g_loss"}
    assert all(math.isfinite(value) for value in logs.values())


def test_bench_backend_option_reruns_on_another_backend(monkeypatch):
    import keras

    from gan_cookbook.choices import BACKENDS
    from gan_cookbook.cli import tools as cli

    other = next(name for name in BACKENDS if name != keras.backend.backend())
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())
    calls = []

    def fake_run(command, env, **options):
        calls.append((command, env["KERAS_BACKEND"]))
        return cli.subprocess.CompletedProcess(command, 0, "figures\n", "")

    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    result = invoke(
        "bench", "mnist", "--backend", other, "--steps", 7, "--batch-size", 32,
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == "figures\n"
    [(command, backend)] = calls
    assert backend == other
    assert command[1:] == [
        "-m", "gan_cookbook", "bench", "mnist", "--steps", "7", "--warmup", "5",
        "--engine", "classic", "--batch-size", "32", "--json",
    ]  # fmt: skip


def test_reference_mixed_bfloat16_step_matches_float32_within_its_precision():
    reference = load_reference()
    import torch

    real = torch.from_numpy(reference.load_images(16))
    logs = {}
    for precision in ("float32", "mixed_bfloat16"):
        gan = reference.ReferenceGAN(device="cpu", seed=0, precision=precision)
        logs[precision] = gan.train_step(real)
        assert all(p.dtype == torch.float32 for p in gan.generator.parameters())
    for key in ("d_loss", "g_loss"):
        assert logs["mixed_bfloat16"][key] == pytest.approx(
            logs["float32"][key], abs=0.03
        )
        assert logs["mixed_bfloat16"][key] != logs["float32"][key]
    with pytest.raises(ValueError, match="Received: precision='float16'"):
        reference.ReferenceGAN(device="cpu", precision="float16")


def test_benchmark_script_times_fused_on_jax_only_in_every_precision(monkeypatch):
    module = run_script(monkeypatch)
    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: object())
    arguments = module.argparse.Namespace(
        backends="tensorflow,jax",
        engines="classic,fused",
        precisions="float32,mixed_bfloat16",
        steps_per_execution="1",
        torch_compile=None,
    )
    assert [case.name for case in module.choose_cases(arguments)] == [
        "Keras on tensorflow",
        "Keras on jax",
        "Keras on jax, fused",
        "plain PyTorch eager",
        "Keras on tensorflow, mixed_bfloat16",
        "Keras on jax, mixed_bfloat16",
        "Keras on jax, fused, mixed_bfloat16",
        "plain PyTorch eager, mixed_bfloat16",
    ]
    # The scripts spell out the package's choices, so as not to import Keras.
    from gan_cookbook.gan_model import ENGINES
    from gan_cookbook.models import PRECISIONS

    assert module.CHOICES == {"engines": ENGINES, "precisions": PRECISIONS}


def test_benchmark_children_keep_the_callers_import_path(monkeypatch, tmp_path):
    module = run_script(monkeypatch)
    # Packages installed beside the repository, not into the interpreter.
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    paths = module.child_environment()["PYTHONPATH"].split(os.pathsep)
    assert paths == [str(ROOT), str(tmp_path)]
    monkeypatch.delenv("PYTHONPATH")
    assert module.child_environment()["PYTHONPATH"] == str(ROOT)


def test_end_to_end_script_times_a_run_and_reports_its_quality(tmp_path):
    script = [sys.executable, str(ROOT / "benchmarks" / "end_to_end.py")]
    options = ["--recipes", "mnist_quick", "--epochs", "1", "--limit", "256",
               "--n", "200", "--out", tmp_path]  # fmt: skip
    result = subprocess.run(
        [*script, *map(str, options)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(
        (tmp_path / "mnist_quick-classic-float32" / "metrics.json").read_text()
    )
    generated, floor = metrics["generated"], metrics["floor"]
    row = next(
        line for line in result.stdout.splitlines() if line.startswith("| mnist_quick")
    )
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:5] == [
        "mnist_quick", "classic", "float32", keras.backend.backend(), "1"
    ]  # fmt: skip
    assert 0 < float(cells[5].replace(",", "")) < 600  # seconds, start to last file
    assert cells[6] == (
        f"{generated['frechet_distance']:.2f} ({floor['frechet_distance']:.2f})"
    )
    assert cells[8] == f"{generated['classes_covered']} of 10"
    again = subprocess.run(
        [*script, *map(str, options)], capture_output=True, text=True, cwd=ROOT
    )
    assert again.returncode == 2
    assert "exist already" in again.stderr
    assert "mnist_quick-classic-float32" in again.stderr


def test_quality_time_script_measures_both_generators_after_each_epoch(tmp_path):
    out = tmp_path / "quick"
    command = [sys.executable, str(ROOT / "benchmarks" / "quality_time.py"),
               "--recipe", "mnist_quick_conditional", "--at", "2,1", "--limit", "256",
               "--n", "200", "--out", str(out)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "quick.json").read_text())
    assert report["recipe"] == "mnist_quick_conditional" and report["average"] == 0.99
    assert [row["epoch"] for row in report["rows"]] == [1, 2]
    first, second = report["rows"]
    assert 0 < first["wall_seconds"] < second["wall_seconds"]
    for row in report["rows"]:
        assert row["trained"]["frechet_distance"] > 0
        averaged, trained = row["averaged"], row["trained"]
        assert averaged["frechet_distance"] != trained["frechet_distance"]
        # A conditional recipe: the share drawn as asked, and the classifier's own.
        assert 0 <= trained["label_accuracy"] <= 1
        assert row["floor"]["label_accuracy"] > 0.95
    line = next(line for line in result.stdout.splitlines() if line.startswith("| 2 "))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[2] == f"{second['trained']['frechet_distance']:.1f}"
    assert cells[4] == f"{second['trained']['label_accuracy']:.1%}"
    assert cells[5] == f"{second['averaged']['frechet_distance']:.1f}"
    assert cells[7] == f"{second['averaged']['label_accuracy']:.1%}"
    assert (out / "generator_raw.keras").is_file()  # an ordinary run folder
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 2 and "exists already" in again.stderr


def test_quality_time_stopped_by_ctrl_c_keeps_and_prints_the_rows_measured(tmp_path):
    out = tmp_path / "quick"
    command = [sys.executable, str(ROOT / "benchmarks" / "quality_time.py"),
               "--recipe", "mnist_quick", "--at", "1,1000", "--limit", "256",
               "--n", "200", "--out", str(out)]  # fmt: skip
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        progress = next(line for line in process.stdout if line.startswith("{"))
        process.send_signal(signal.SIGINT)
        stdout = process.stdout.read()
        process.wait(timeout=300)
        stderr.seek(0)
        errors = stderr.read()
    assert process.returncode == 130, errors[-3000:]
    assert json.loads(progress)["epoch"] == 1
    report_file = tmp_path / "quick.json"
    assert "Stopped by SIGINT" in errors
    assert (
        f"Measured 1 of the 2 epochs asked for; the figures are in {report_file}."
        in errors
    )
    report = json.loads(report_file.read_text())
    (row,) = report["rows"]
    assert row["epoch"] == 1 and row["averaged"]["frechet_distance"] > 0
    line = next(line for line in stdout.splitlines() if line.startswith("| 1 "))
    assert f"| {row['averaged']['frechet_distance']:.1f} |" in line
    # The report is kept: a second cook into a fresh folder of the same name would
    # overwrite it, and is refused.
    shutil.rmtree(out)
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 2 and "would overwrite the report" in again.stderr
    assert json.loads(report_file.read_text()) == report


def test_quality_time_table_of_a_recipe_without_labels_or_average():
    spec = importlib.util.spec_from_file_location(
        "quality_time", ROOT / "benchmarks" / "quality_time.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = {"frechet_distance": 12.34, "classes_covered": 9,
                 "class_histogram": [0.2, 0.05] + [0.75 / 8] * 8}  # fmt: skip
    floor = {"frechet_distance": 0.714, "classes_covered": 10}
    report = {"average": None, "n": 10000, "rows": [
        {"epoch": 3, "wall_seconds": 234.4, "trained": generated, "floor": floor}
    ]}  # fmt: skip
    assert module.table(report).splitlines() == [
        "| epoch | wall time | FD, trained G | classes, trained G |",
        "| ---: | ---: | ---: | ---: |",
        "| 3 | 3:54 | 12.3 | 9 (5.0-20.0%) |",
        "",
        "N = 10,000; real floor (as many training images): Fréchet distance 0.71, "
        "10 classes.",
    ]
