"""Runs the loop's tests (the conditional pair's too), the average's, the decaying
rates' and the exact-resume test on every other installed Keras backend, one process
each, and checks that the tests only one backend runs (the fused engine's on JAX, the
refusal of mixed_bfloat16 on PyTorch on the CPU) passed there rather than being
skipped.

Keras picks its backend once per process, so each backend gets a fresh interpreter.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest

TESTS = Path(__file__).parent
# The average's tests whose code differs by backend (the rest is plain Python).
AVERAGE_TESTS = (
    "test_the_average_matches_its_closed_form",
    "test_the_fused_engine_keeps_the_same_average",
    "test_averaging_does_not_change_training",
    "test_two_averaged_epochs_equal_one_then_a_resume",
)
# The decaying rates' test whose code differs by backend: the schedule is evaluated
# inside each backend's compiled step (and the fused engine's, on JAX).
SCHEDULE_TESTS = ("test_both_rates_fall_linearly_to_zero_then_nothing_trains",)
# Tests that only their backend runs (the suite's default backend skips them), by
# backend: of each group, one must pass, not be skipped, in that backend's run.
MUST_PASS = {
    "jax": (
        ("tests/test_loop.py::test_fused_engine_computes_what_the_classic_loop_computes",),
        ("tests/test_conditional.py::"
         "test_fused_engine_computes_what_the_classic_loop_computes",),
        ("tests/test_average.py::test_the_fused_engine_keeps_the_same_average",),
        ("tests/test_objectives.py::"
         "test_the_fused_engine_computes_what_the_classic_loop_computes"
         "[wasserstein-3]",),
        ("tests/test_steps_per_execution.py::"
         "test_steps_a_call_train_what_single_steps_train",),
        ("tests/test_steps_per_execution.py::"
         "test_a_run_stopped_within_an_epoch_resumes_as_the_straight_run",),
        ("tests/test_steps_per_execution.py::"
         "test_a_non_finite_loss_names_its_step_within_a_call",),
        ("tests/test_steps_per_execution.py::"
         "test_no_image_crosses_to_the_device_in_a_call",),
        ("tests/test_steps_per_execution.py::"
         "test_a_cook_of_several_steps_a_call_stopped_and_resumed_equals_the_straight_one",),
        # Skipped on TensorFlow, where a Wasserstein critic does not repeat exactly.
        ("tests/test_resume.py::test_two_epochs_equal_one_then_a_resume[mnist_wgan]",),
    ),
    "torch": (
        # mixed_bfloat16 is refused on PyTorch on the CPU and trains on a CUDA GPU.
        ("tests/test_loop.py::test_mixed_bfloat16_is_refused_on_pytorch_on_the_cpu",
         "tests/test_loop.py::"
         "test_mixed_bfloat16_trains_like_float32_within_its_precision[classic]"),
    ),
}  # fmt: skip
OTHER_BACKENDS = [
    backend
    for backend in ("tensorflow", "jax", "torch")
    if backend != keras.backend.backend()
]


def jax_compilation_cache(folder):
    """JAX's persistent compilation cache in ``folder``, for every compiled function.

    The tests build the same models again and again; with the cache XLA compiles
    each step function once, not once a test (measured: 172 s for three loop tests
    without it, 84 s with it, on 2 CPU cores).
    """
    return {
        "JAX_COMPILATION_CACHE_DIR": str(folder),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_loop_on_backend(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed: its run of the loop tests skipped")
    environment = {
        **os.environ,
        "KERAS_BACKEND": backend,
        **(jax_compilation_cache(tmp_path / "jax_cache") if backend == "jax" else {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-n", "0",
         "-p", "no:cacheprovider",
         str(TESTS / "test_loop.py"), str(TESTS / "test_conditional.py"),
         str(TESTS / "test_objectives.py"),
         str(TESTS / "test_steps_per_execution.py"),
         *[f"{TESTS / 'test_average.py'}::{name}" for name in AVERAGE_TESTS],
         *[f"{TESTS / 'test_schedule.py'}::{name}" for name in SCHEDULE_TESTS],
         f"{TESTS / 'test_resume.py'}::test_two_epochs_equal_one_then_a_resume"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    passed = set(re.findall(r"^PASSED (\S+)", result.stdout, re.MULTILINE))
    for group in MUST_PASS.get(backend, ()):
        assert passed & set(group), f"none of {group} passed on {backend}"


def test_fused_engine_cooks_end_to_end_on_jax(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "gan_cookbook", "cook", "mnist", "--limit", "64",
         "--batch-size", "32", "--epochs", "2", "--engine", "fused", "--quiet",
         "--out", str(out)],
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    settings = (out / "recipe.json").read_text()
    assert '"backend": "jax"' in settings
    assert (out / "generator.keras").is_file()
    assert (out / "history.csv").read_text().count("\n") == 3


def test_mixed_bfloat16_on_pytorch_on_the_cpu_is_a_usage_error(tmp_path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "gan_cookbook", "cook", "mnist", "--limit", "256",
         "--epochs", "1", "--precision", "mixed_bfloat16", "--out", str(out)],
        # Keras' tensors on the CPU even where PyTorch sees a CUDA GPU.
        env={**os.environ, "KERAS_BACKEND": "torch", "KERAS_TORCH_DEVICE": "cpu"},
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-3000:]
    assert (
        "Error: --precision mixed_bfloat16 does not train on Keras' torch backend on "
        "the cpu device"
    ) in result.stderr
    assert "Use --precision float32" in result.stderr
    assert result.stderr.rstrip().endswith("Received: --precision mixed_bfloat16")
    assert not out.exists()  # refused before anything was written or trained
