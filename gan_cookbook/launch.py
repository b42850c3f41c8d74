"""Starting a Keras backend: a plain error when it is missing, no start-up chatter.

Imported first by ``gan_cookbook`` itself, before Keras, so that the defaults below
apply to TensorFlow's C++ logging. :func:`start_keras` is what the command line calls
before its first Keras import.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# Marks the level as this package's default, not the user's, for child processes
# (``bench --backend``, a user's subprocesses) that inherit it.
DEFAULT_MARKER = "GAN_COOKBOOK_DEFAULT_TF_LOG_LEVEL"

USER_LOG_LEVEL = (
    None if os.environ.get(DEFAULT_MARKER) else os.environ.get(LOG_LEVEL_VARIABLE)
)
"""The TensorFlow log level the user chose, or ``None``: theirs always wins."""

if LOG_LEVEL_VARIABLE not in os.environ:
    # TensorFlow's C++ start-up chatter (CPU features, missing CUDA) buries the
    # progress bar; level 2 keeps its errors.
    os.environ[LOG_LEVEL_VARIABLE] = "2"
    os.environ[DEFAULT_MARKER] = "1"

BACKEND_PACKAGES = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch (on a CPU-only machine: pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu)",
    "numpy": "numpy",
    "openvino": "openvino",
}
"""Keras backend name (also the module Keras imports for it): what to ``pip
install``."""

BACKEND_NOISE = re.compile(
    "|".join(
        (
            r"All log messages before absl::InitializeLog\(\) is called",
            r"cudart_stub\.cc.*Could not find cuda drivers",
            r"cuda_platform\.cc.*failed call to cuInit",
            r"cpu_feature_guard\.cc",
            r"To enable the following instructions: .* rebuild TensorFlow",
            r"oneDNN custom operations are on",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation placer already registered",
            r"remapper failed",
        )
    )
)
"""Lines TensorFlow prints on any machine without a GPU, while starting and at a
model's first step (its graph optimiser declining a fusion, which it then skips):
facts about the machine and the graph, not problems."""


def backend_name() -> str:
    """The backend Keras will start: ``KERAS_BACKEND``, else ``keras.json``'s, else
    TensorFlow, as Keras itself decides."""
    name = os.environ.get("KERAS_BACKEND")
    if name:
        return name
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((keras_home / "keras.json").read_text())["backend"]
    except (OSError, ValueError, KeyError, TypeError):
        return "tensorflow"


def missing_backend() -> str | None:
    """A one-line message when the backend Keras would start is not installed."""
    name = backend_name()
    if name not in BACKEND_PACKAGES:
        return (
            f"KERAS_BACKEND={name} is not a Keras backend. Expected one of "
            f"{', '.join(BACKEND_PACKAGES)}. Received: KERAS_BACKEND={name}"
        )
    if importlib.util.find_spec(name) is None:
        return (
            f"The Keras backend is {name} (KERAS_BACKEND), but {name} is not "
            f"installed: pip install {BACKEND_PACKAGES[name]}, or set KERAS_BACKEND "
            "to an installed backend."
        )
    return None


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern[str] = BACKEND_NOISE) -> Iterator[None]:
    """Passes on, line by line as it comes, what the process writes to its stderr
    (C++ libraries included), without the lines that match ``noise``.

    Ctrl-C while the pipe is set up or taken down waits for that to finish: stopped
    half way, stderr would stay on a pipe nobody reads, and the command's last line
    ("Interrupted: ...") would be lost.
    """
    sys.stderr.flush()
    saved = forwarder = None
    try:
        with interrupts_deferred():
            saved = os.dup(2)
            read_end, write_end = os.pipe()
            os.dup2(write_end, 2)
            os.close(write_end)

            def forward() -> None:
                with os.fdopen(read_end, "rb") as pipe:
                    for line in pipe:
                        if not noise.search(line.decode(errors="replace")):
                            os.write(saved, line)

            forwarder = threading.Thread(
                target=forward, name="filtered-stderr", daemon=True
            )
            forwarder.start()
        yield
    finally:
        with interrupts_deferred():
            if saved is not None:
                sys.stderr.flush()
                # Closes the pipe's last writer (a child process may hold another):
                # the forwarder reads to its end and stops.
                os.dup2(saved, 2)
                if forwarder is not None:
                    forwarder.join(timeout=10)
                os.close(saved)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C inside the block ends it with ``KeyboardInterrupt`` once the block is
    done; a second Ctrl-C interrupts at once.

    Raised in the middle of an import, ``KeyboardInterrupt`` turns into something
    else: an extension module interrupted while it initialises reports
    ``ImportError`` (pybind11 does so for every error), which Keras takes for a
    missing optree and an optional import for a missing module, and a garbage
    collector callback prints it as "Exception ignored" and drops it. Importing
    Keras takes seconds, so the first Ctrl-C waits for it.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(
        previous
    ):
        yield
        return
    received = []

    def notice(signum: int, frame: Any) -> None:
        if received:
            previous(signum, frame)
        received.append(signum)

    signal.signal(signal.SIGINT, notice)
    try:
        yield
    except Exception:
        if not received:
            raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


NOTHING_WRITTEN = "Interrupted: nothing written."
"""What a command interrupted before it wrote anything says."""


_filtering = False
"""Whether the process's stderr (file descriptor 2, one for all threads) is filtered."""


@contextlib.contextmanager
def backend_noise_filtered() -> Iterator[None]:
    """:func:`filtered_stderr` for a whole command, unless ``TF_CPP_MIN_LOG_LEVEL``
    was set by the user; inside one already, nothing more.

    A command's, not Keras' start's: TensorFlow starts with whichever module imports
    Keras first, and its graph optimiser prints some of these lines (remapper) at a
    model's first step.
    """
    global _filtering
    if USER_LOG_LEVEL is not None or _filtering:
        yield
        return
    _filtering = True
    try:
        with filtered_stderr():
            yield
    finally:
        _filtering = False


def filter_backend_noise_until_exit() -> None:
    """:func:`backend_noise_filtered` from now until the process exits: for a
    process that starts Keras before its command begins."""
    filtered = contextlib.ExitStack()
    filtered.enter_context(backend_noise_filtered())
    atexit.register(filtered.close)


def start_keras() -> None:
    """Imports Keras and starts its backend.

    Raises:
        ImportError: the backend is not installed (the message says what to install).
    """
    if "keras" in sys.modules:
        return
    problem = missing_backend()
    if problem is not None:
        raise ImportError(problem)
    with interrupts_deferred():
        import keras

        # The first operation finds the devices: where TensorFlow looks for CUDA.
        keras.ops.convert_to_numpy(keras.ops.zeros((1,)))


class StopSignals:
    """Within the block, the first SIGINT or SIGTERM is noted (and said) rather
    than raised, so that a run can finish its step and write a checkpoint; a second
    one raises ``KeyboardInterrupt`` at once.

    Attributes:
        received: The first signal received, or ``None``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        # Python lets only the main thread set signal handlers.
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(number)
        # On a line of its own: a progress bar may be part way along the current one.
        print(
            f"\n{self.received.name} received: finishing the current step and writing "
            "a checkpoint (press Ctrl-C again to quit at once).",
            flush=True,
        )
