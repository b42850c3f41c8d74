"""The first seconds of every command: no backend for --help, no noise, Ctrl-C."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import pytest

from gan_cookbook import launch

ROOT = Path(__file__).parent.parent
BACKENDS = ("keras", "tensorflow", "jax", "torch")


@pytest.fixture(autouse=True)
def ctrl_c_as_at_a_terminal():
    """SIGINT handled as Python does by default, here and in the processes the tests
    start: a shell ignores it in the jobs it starts in the background, and those
    inherit that."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def default_ctrl_c() -> None:
    """For ``preexec_fn``: the child starts with SIGINT's default action, which
    Python turns into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def user_environment(**variables):
    """This environment as a user's shell has it: no TensorFlow log level set by
    this package (the test process imported it), plus ``variables``."""
    environment = dict(os.environ)
    for name in ("TF_CPP_MIN_LOG_LEVEL", launch.DEFAULT_MARKER):
        environment.pop(name, None)
    return {**environment, **variables}


def python(code, env=None, **options):
    """Runs ``code`` in a fresh interpreter, as a user's shell would start it."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=user_environment(**(env or {})),
        timeout=300,
        **options,
    )


@pytest.mark.parametrize(
    "arguments, code",
    [
        (["--help"], 0),
        (["list"], 0),
        (["cook", "--help"], 0),
        (["resume", "--help"], 0),
        (["cook", "no_such_recipe"], 2),
        (["cook", "mnist", "--epochs", "0"], 2),
        (["resume", "/no/such/run"], 2),
        (["sample", "/no/such/run"], 2),
        (["evaluate", "/no/such/run"], 2),
        (["compare", "/no/such/run"], 2),
        (["copy-recipe", "no_such_recipe"], 2),
    ],
)
def test_help_list_and_usage_errors_start_no_backend(arguments, code):
    result = python(
        f"""
        import sys
        from click.testing import CliRunner
        from gan_cookbook.cli import main
        result = CliRunner().invoke(main, {arguments!r})
        assert result.exit_code == {code}, result.output
        print(sorted(name for name in {BACKENDS!r} if name in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_missing_backend_is_one_line_naming_the_package():
    # JAX is hidden from this interpreter as if it were not installed.
    result = python(
        """
        import importlib.util, sys
        found = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *rest: (
            None if name == "jax" else found(name, *rest))
        sys.argv = ["gan-cookbook", "cook", "mnist", "--epochs", "1"]
        from gan_cookbook.__main__ import main
        main()
        """,
        env={"KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: The Keras backend is jax (KERAS_BACKEND), but jax is not installed: "
        "pip install jax, or set KERAS_BACKEND to an installed backend."
    ]


def test_filtered_stderr_keeps_only_real_problems(capfd):
    with launch.filtered_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is ")
        os.write(2, b"called are written to STDERR\n")
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: UNKNOWN\n")
        os.write(2, b"a real problem\n")
    assert capfd.readouterr().err == "a real problem\n"


def test_filtered_stderr_passes_a_real_problem_on_while_it_runs(capfd):
    # A cook's stderr is filtered for hours: a problem must show when it happens.
    with launch.filtered_stderr():
        os.write(2, b"a real problem\n")
        seen = ""
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = capfd.readouterr().err
        assert seen == "a real problem\n"


@pytest.mark.parametrize("moment", ["setting up", "taking down"])
def test_ctrl_c_while_stderr_is_rerouted_leaves_stderr_where_it_was(
    capfd, monkeypatch, moment
):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    before = os.fstat(2)
    start, join = launch.threading.Thread.start, launch.threading.Thread.join

    def interrupted(method):
        def with_ctrl_c(thread, *arguments, **keywords):
            signal.raise_signal(signal.SIGINT)
            return method(thread, *arguments, **keywords)

        return with_ctrl_c

    if moment == "setting up":
        monkeypatch.setattr(launch.threading.Thread, "start", interrupted(start))
    else:
        monkeypatch.setattr(launch.threading.Thread, "join", interrupted(join))
    with pytest.raises(KeyboardInterrupt):
        with launch.filtered_stderr():
            os.write(2, b"a real problem\n")
    monkeypatch.undo()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    os.write(2, b"Interrupted: nothing written.\n")
    assert capfd.readouterr().err.endswith("Interrupted: nothing written.\n")


def test_ctrl_c_while_keras_imports_waits_for_the_import_then_interrupts():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with launch.interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # an import that Ctrl-C would have broken
            finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_is_an_interrupt_whatever_the_interrupted_import_raised():
    with pytest.raises(KeyboardInterrupt):
        with launch.interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            raise ImportError("initialization failed")


def test_a_second_ctrl_c_while_keras_imports_interrupts_at_once():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with launch.interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
            finished.append(True)
    assert finished == []


def test_an_import_error_without_ctrl_c_is_kept():
    with pytest.raises(ImportError, match="no optree"):
        with launch.interrupts_deferred():
            raise ImportError("no optree")


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow's start-up lines"
)
def test_cooking_prints_no_backend_noise_unless_the_user_asks(tmp_path):
    # The conditional models' first step also makes TensorFlow's graph optimiser
    # print an error-level line ("remapper failed") about a fusion it then skips.
    command = """
        import sys
        sys.argv = ["gan-cookbook", "cook", "mnist_conditional", "--limit", "64",
                    "--batch-size",
                    "32", "--epochs", "1", "--quiet", "--out", sys.argv[1]]
        from gan_cookbook.__main__ import main
        main()
        """
    quiet = python(command.replace("sys.argv[1]", repr(str(tmp_path / "a"))))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""

    def run(*arguments, **env):
        return subprocess.run(
            [sys.executable, "-m", "gan_cookbook", *map(str, arguments)],
            cwd=ROOT, capture_output=True, text=True, env=user_environment(**env),
            timeout=300,
        )  # fmt: skip

    # Commands that import Keras through the library before starting it too.
    for arguments in (["sample", tmp_path / "a", "--out", tmp_path / "grid.png"],
                      ["evaluate", tmp_path / "a", "--n", "50"]):  # fmt: skip
        result = run(*arguments)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", arguments[0]
    # The user's own level wins: TensorFlow's lines are theirs to see.
    chatty = run("sample", tmp_path / "a", "--out", tmp_path / "grid.png",
                 TF_CPP_MIN_LOG_LEVEL="0")  # fmt: skip
    assert chatty.returncode == 0, chatty.stderr
    assert chatty.stderr != ""


@pytest.mark.parametrize("delay", [0.3, 2.0])
@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "gan_cookbook", "cook", "mnist"],
        [sys.executable, "-m", "gan_cookbook.recipes.mnist"],
    ],
    ids=["gan-cookbook", "recipe-module"],
)
def test_ctrl_c_while_starting_is_status_130_and_one_line(tmp_path, delay, command):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [*command, "--out", str(out)],
        preexec_fn=default_ctrl_c,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=user_environment(),
    )
    time.sleep(delay)  # while Python, Keras and TensorFlow load
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["Interrupted: nothing written."]
    assert not out.exists()
