"""Runs the loop's tests on every other installed Keras backend, one process each.

Keras picks its backend once per process, so each backend gets a fresh interpreter.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

TESTS = Path(__file__).parent
OTHER_BACKENDS = [
    backend
    for backend in ("tensorflow", "jax", "torch")
    if backend != keras.backend.backend()
]


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_loop_on_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    environment = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(TESTS / "test_loop.py")],
        env=environment,
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
