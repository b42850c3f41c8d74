"""Times our training step on every installed Keras backend against plain PyTorch.

All the cases of one Keras backend run in one process (Keras fixes its backend per
process), and those of the plain PyTorch reference in another, so a sweep pays one
process start-up per backend, not one per case (on a GPU machine a start-up, with
its imports and the device's first use, took about 30 s). The processes start
together and wait; the cases then run one at a time, batch size by batch size, so
that ours and the reference see the same machine load; with ``--rounds R`` the whole
sweep repeats R times, in reverse order every other round, and the table gives the
median over rounds. A case that fails is reported in the table and the sweep goes
on. The table goes to ``benchmarks/RESULTS.md`` after every case, in the section for
the device it ran on (CPU or GPU, and the ``--threads`` setting), leaving the other
sections as they were, so a sweep that is stopped keeps what it measured.

    python benchmarks/run.py                       # the default: a short run
    python benchmarks/run.py --steps 200 --rounds 3 --torch-compile
    python benchmarks/run.py --engines classic,fused --precisions float32,mixed_bfloat16
    python benchmarks/run.py --backends jax --engines fused --steps-per-execution 1,8,32

``--engines fused`` adds the fused engine on JAX, once for each of
``--steps-per-execution``'s K (whole steps a compiled call runs; the classic engine
runs one); ``--precisions`` adds each precision to every case, the plain PyTorch
reference included (``torch.autocast`` with bfloat16); ``--torch-compile`` adds the
reference under ``torch.compile`` (``reduce-overhead`` unless modes are named). The
ratio column compares each case with the float32 plain PyTorch eager reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import importlib.util
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BACKENDS = ("tensorflow", "jax", "torch")
REFERENCE = "plain PyTorch eager"
# The process that runs the plain PyTorch reference's cases; the others are named
# after their Keras backend.
REFERENCE_PROCESS = "reference"
SECTION = re.compile(r"<!-- (\S+) results start -->.*?<!-- \1 results end -->", re.S)
# The thread pools each framework sizes from the environment: OpenMP and MKL (PyTorch)
# and TensorFlow's own two pools. XLA on the CPU (JAX) has no such switch.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
# The modes --torch-compile takes (torch_reference.COMPILE_MODES, written out so that
# this process need not import PyTorch's compiler).
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
# A failure's reason in the table is cut to this many characters; the whole of it
# goes to the terminal.
REASON_LENGTH = 300


def markers(key: str) -> tuple[str, str]:
    return f"<!-- {key} results start -->", f"<!-- {key} results end -->"


@dataclass(frozen=True)
class Case:
    """One implementation to time: ours on a backend, or the plain PyTorch one."""

    backend: str | None  # a Keras backend; None: the plain PyTorch reference
    engine: str = "classic"
    precision: str = "float32"
    steps_per_execution: int = 1  # the fused engine's whole steps a compiled call
    compile_mode: str | None = None  # the reference's torch.compile mode; None: eager

    @property
    def name(self) -> str:
        if self.backend is None:
            if self.compile_mode is None:
                words = [REFERENCE]
            elif self.compile_mode == "default":
                words = ["plain PyTorch, torch.compile"]
            else:
                words = [f"plain PyTorch, torch.compile {self.compile_mode}"]
        else:
            words = [f"Keras on {self.backend}"]
            if self.engine != "classic":
                words.append(self.engine)
            if self.steps_per_execution != 1:
                words.append(f"{self.steps_per_execution} steps a call")
        if self.precision != "float32":
            words.append(self.precision)
        return ", ".join(words)

    @property
    def process(self) -> str:
        """The process that runs this case: its Keras backend's, or the reference's."""
        return self.backend if self.backend is not None else REFERENCE_PROCESS


@dataclass(frozen=True)
class Failure:
    """A case that gave no figures in one round, and why."""

    name: str
    batch_size: int
    round_index: int
    reason: str


class CaseFailed(Exception):
    """A case gave no figures; the message says why, in one line."""

    def __init__(self, reason: str, details: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.details = details


def child_environment() -> dict[str, str]:
    """This environment, with the repository first on the import path."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


def process_environment(process: str, threads: int | None) -> dict[str, str]:
    """The environment of the process that runs ``process``'s cases."""
    environment = child_environment()
    if threads:
        environment.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    if process != REFERENCE_PROCESS:
        environment["KERAS_BACKEND"] = process
    if process == "jax":
        # The sweep's processes hold the GPU together, and JAX would take 75% of its
        # memory at once; half leaves the PyTorch processes room. A value set by the
        # caller stands.
        environment.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.5")
    return environment


def one_line(text: str) -> str:
    """``text``'s first non-empty line, cut to REASON_LENGTH characters."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= REASON_LENGTH else line[: REASON_LENGTH - 3] + "..."


class Worker:
    """A process that runs the cases of one Keras backend, or of the reference.

    It reads one request a line (JSON) on its standard input and answers each with
    one line on its standard output: ``{"figures": ...}`` or ``{"error": ...}``. A
    process that ends or stops answering costs only the case it was running: the
    next case starts it again. One that could not start at all is not started again.

    Args:
        process: A Keras backend's name, or ``REFERENCE_PROCESS``.
        environment: The process's environment.
        command: The process to start. Defaults to this script with ``--worker``.
    """

    def __init__(
        self,
        process: str,
        environment: dict[str, str],
        command: list[str] | None = None,
    ):
        self.process = process
        self.environment = environment
        self.command = command or [
            sys.executable, str(Path(__file__).resolve()), "--worker", process
        ]  # fmt: skip
        self.child: subprocess.Popen[str] | None = None
        self.answers: queue.Queue[str | None] = queue.Queue()
        self.errors: IO[str] | None = None
        self.start_failure: str | None = None

    def start(self) -> None:
        """Starts the process; :meth:`wait_ready` waits for it."""
        # A file, not a pipe: nobody reads the errors until a case fails, and a full
        # pipe would stop the process.
        self.errors = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.child = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            env=self.environment,
            cwd=ROOT,
            # Its own process group: a case that hangs is stopped with its helpers
            # (torch.compile's compile workers), and Ctrl-C reaches this process only.
            start_new_session=True,
        )
        self.answers = queue.Queue()
        threading.Thread(
            target=self._read, args=(self.child.stdout, self.answers), daemon=True
        ).start()

    @staticmethod
    def _read(stream: IO[str], answers: queue.Queue[str | None]) -> None:
        # A thread, so that waiting for an answer can have a time limit.
        for line in stream:
            answers.put(line)
        answers.put(None)  # the process has ended

    def wait_ready(self, timeout: float | None) -> None:
        """Waits for the process to import its framework; a failure is kept in
        ``start_failure`` and the process is not started again."""
        try:
            self._answer(timeout)
        except CaseFailed as failure:
            self.start_failure = f"the {self.process} process did not start: " + (
                failure.reason
            )
            print(failure.details, file=sys.stderr)

    def run(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """The figures of one case.

        Raises:
            CaseFailed: the case raised, the process ended, or no answer came
                within ``timeout`` seconds (the process is stopped).
        """
        if self.start_failure is not None:
            raise CaseFailed(self.start_failure)
        if self.child is None or self.child.poll() is not None:
            self.start()
            self.wait_ready(timeout)
            if self.start_failure is not None:
                raise CaseFailed(self.start_failure)
        assert self.child is not None and self.child.stdin is not None
        try:
            self.child.stdin.write(json.dumps(request) + "\n")
            self.child.stdin.flush()
        except BrokenPipeError:
            pass  # the process has ended: _answer says how
        answer = self._answer(timeout)
        if "error" in answer:
            raise CaseFailed(answer["error"], answer.get("details", ""))
        return answer["figures"]

    def _answer(self, timeout: float | None) -> dict[str, Any]:
        try:
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise CaseFailed(
                f"no answer within {timeout:g} s (--case-timeout); the {self.process} "
                "process was stopped",
                self.error_tail(),
            ) from None
        if line is None:
            assert self.child is not None
            status = self.child.wait()
            details = self.error_tail()
            self.child = None
            raise CaseFailed(
                f"the {self.process} process ended (exit status {status})"
                + (f": {one_line(details.splitlines()[-1])}" if details else ""),
                details,
            )
        return json.loads(line)

    def error_tail(self, characters: int = 3000) -> str:
        """The end of what the process wrote to its standard error."""
        if self.errors is None:
            return ""
        self.errors.flush()
        self.errors.seek(0, os.SEEK_END)
        size = self.errors.tell()
        self.errors.seek(max(0, size - characters))
        return self.errors.read().strip()

    def stop(self) -> None:
        """Ends the process and its helpers at once."""
        if self.child is not None and self.child.poll() is None:
            try:
                os.killpg(self.child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it ended meanwhile
            self.child.wait()
        self.child = None

    def close(self) -> None:
        """Lets the process end on its own (the end of its input), else stops it."""
        if self.child is not None and self.child.poll() is None:
            assert self.child.stdin is not None
            try:
                self.child.stdin.close()
                self.child.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass  # stopped below
        self.stop()
        if self.errors is not None:
            self.errors.close()


def keras_runner() -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Starts Keras on KERAS_BACKEND; returns the function that times one case."""
    from gan_cookbook.launch import start_keras

    start_keras()
    import keras

    from gan_cookbook import recipes
    from gan_cookbook.bench import benchmark

    def run(request: dict[str, Any]) -> dict[str, Any]:
        case = request["case"]
        if keras.backend.backend() != case["backend"]:
            raise RuntimeError(
                f"This process runs Keras on {keras.backend.backend()}, not on "
                f"{case['backend']}: KERAS_BACKEND was not honoured"
            )
        try:
            return benchmark(
                recipes.get("mnist"),
                steps=request["steps"],
                batch_size=request["batch_size"],
                warmup=request["warmup"],
                limit=request["limit"],
                engine=case["engine"],
                precision=case["precision"],
                steps_per_execution=case["steps_per_execution"],
            )
        finally:
            # Every case builds its own models and trainer; without this the process
            # would keep them all, on the device too.
            keras.backend.clear_session()
            gc.collect()

    return run


def reference_runner() -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Imports the plain PyTorch reference; returns the function that times one
    case."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import torch
    import torch_reference

    if torch.cuda.is_available():
        # The first use of the GPU sets it up: here, not in the first case.
        torch.zeros(1, device="cuda")

    def run(request: dict[str, Any]) -> dict[str, Any]:
        case = request["case"]
        try:
            return torch_reference.benchmark(
                steps=request["steps"],
                batch_size=request["batch_size"],
                warmup=request["warmup"],
                limit=request["limit"],
                compile_mode=case["compile_mode"],
                precision=case["precision"],
            )
        finally:
            gc.collect()

    return run


def serve(process: str) -> None:
    """The worker's side of :class:`Worker`: answers requests until its input ends."""
    # Only answers may reach the parent's pipe; whatever the frameworks print goes to
    # standard error instead.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    run = reference_runner() if process == REFERENCE_PROCESS else keras_runner()
    answers.write(json.dumps({"ready": process}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"figures": run(request)}
        # Any error is the case's own, reported to the parent, which goes on to the
        # next case.
        except Exception as error:  # noqa: BLE001
            answer = {
                "error": one_line(f"{type(error).__name__}: {error}"),
                "details": traceback.format_exc(),
            }
        answers.write(json.dumps(answer) + "\n")


def request_for(
    case: Case, batch_size: int, arguments: argparse.Namespace
) -> dict[str, Any]:
    """What a worker needs to time ``case`` at ``batch_size``."""
    return {
        "case": dataclasses.asdict(case),
        "batch_size": batch_size,
        "steps": arguments.steps,
        "warmup": arguments.warmup,
        "limit": arguments.limit,
    }


# The values --engines and --precisions take (gan_cookbook's ENGINES and PRECISIONS,
# written out so that this process need not import Keras).
CHOICES = {"engines": ("classic", "fused"), "precisions": ("float32", "mixed_bfloat16")}


def check_choices(
    parser: argparse.ArgumentParser, arguments: argparse.Namespace
) -> None:
    """Stops with a usage error naming any engine or precision not in CHOICES, any
    torch.compile mode not in COMPILE_MODES, or a bad count."""
    for option, allowed in CHOICES.items():
        unknown = set(getattr(arguments, option).split(",")) - set(allowed)
        if unknown:
            parser.error(
                f"--{option} takes {', '.join(allowed)}. "
                f"Received: {', '.join(sorted(unknown))}"
            )
    # end_to_end.py shares this check and has neither of the sweep's options.
    if getattr(arguments, "torch_compile", None):
        unknown = set(arguments.torch_compile.split(",")) - set(COMPILE_MODES)
        if unknown:
            parser.error(
                f"--torch-compile takes {', '.join(COMPILE_MODES)}. "
                f"Received: {', '.join(sorted(unknown))}"
            )
    if not hasattr(arguments, "steps_per_execution"):
        return
    counts = positive_integers(parser, "--steps-per-execution", arguments)
    if counts != [1] and "fused" not in arguments.engines.split(","):
        parser.error(
            "--steps-per-execution applies to the fused engine only: add "
            "--engines fused (the classic engine runs one step a call). "
            f"Received: --steps-per-execution {arguments.steps_per_execution} "
            f"--engines {arguments.engines}"
        )


def positive_integers(
    parser: argparse.ArgumentParser, option: str, arguments: argparse.Namespace
) -> list[int]:
    """The comma-separated whole numbers of ``option``, each at least 1."""
    text = getattr(arguments, option.lstrip("-").replace("-", "_"))
    try:
        numbers = [int(word) for word in text.split(",")]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        parser.error(
            f"{option} takes whole numbers of at least 1, comma-separated. "
            f"Received: {option} {text}"
        )
    return list(dict.fromkeys(numbers))


def choose_cases(arguments: argparse.Namespace) -> list[Case]:
    """Every installed backend and engine asked for, the fused engine at every K,
    and the reference in every mode, all in every precision asked for."""
    backends = [
        name
        for name in arguments.backends.split(",")
        if importlib.util.find_spec(name) is not None
    ]
    counts = [int(count) for count in arguments.steps_per_execution.split(",")]
    compile_modes = (
        arguments.torch_compile.split(",") if arguments.torch_compile else []
    )
    cases = []
    for precision in arguments.precisions.split(","):
        for engine in arguments.engines.split(","):
            for backend in backends:
                if engine == "classic":
                    cases.append(Case(backend, engine, precision))
                elif backend == "jax":  # the fused engine is JAX's
                    cases += [
                        Case(backend, engine, precision, steps_per_execution=count)
                        for count in dict.fromkeys(counts)
                    ]
        if importlib.util.find_spec("torch") is not None:
            cases.append(Case(None, precision=precision))
            cases += [
                Case(None, precision=precision, compile_mode=mode)
                for mode in dict.fromkeys(compile_modes)
            ]
    return cases


def has_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


Results = dict[tuple[str, int], dict[int, dict[str, Any]]]


def table(results: Results, failures: list[Failure], cases: list[str]) -> str:
    """The Markdown table: medians over rounds, ratios paired within each round, a
    row for each case that failed in every round, and the failures listed below."""
    lines = [
        "| implementation | batch | ms/step, median (mean) | images/s "
        f"| vs {REFERENCE} |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    failed = {(failure.name, failure.batch_size) for failure in failures}
    batch_sizes = sorted({batch for _, batch in [*results, *failed]})
    for batch in batch_sizes:
        reference = results.get((REFERENCE, batch), {})
        for case in cases:
            rounds = results.get((case, batch))
            if not rounds:
                if (case, batch) in failed:
                    lines.append(f"| {case} | {batch} | failed | | |")
                continue
            figures = list(rounds.values())
            median = statistics.median(r["ms_per_step_median"] for r in figures)
            mean = statistics.median(r["ms_per_step_mean"] for r in figures)
            speed = statistics.median(r["images_per_second"] for r in figures)
            ratios = [
                ours["images_per_second"] / reference[index]["images_per_second"]
                for index, ours in rounds.items()
                if index in reference
            ]
            ratio = f"{statistics.median(ratios):.2f}x" if ratios else "n/a"
            lines.append(
                f"| {case} | {batch} | {median:,.1f} ({mean:,.1f}) | {speed:,.0f} "
                f"| {ratio} |"
            )
    if failures:
        lines += ["", "Failed:", ""]
        lines += [
            f"- {failure.name}, batch {failure.batch_size}, round "
            f"{failure.round_index + 1}: {failure.reason.replace('|', '/')}"
            for failure in failures
        ]
    return "\n".join(lines)


def section(
    key: str,
    kind: str,
    results: Results,
    failures: list[Failure],
    cases: list[str],
    arguments: argparse.Namespace,
    command: str,
    missing: int = 0,
) -> str:
    """The section ``key`` of the results file; ``missing`` measurements are still to
    come (the sweep is running, or was stopped)."""
    machines = {
        case: next(iter(rounds.values()))["machine"]
        for (case, _), rounds in results.items()
    }
    any_machine = next(iter(machines.values()))
    device = any_machine["accelerator"] or "no GPU"
    versions = [f"Python {any_machine['python_version']}"]
    versions.append(f"NumPy {any_machine['numpy_version']}")
    for case, machine in machines.items():
        if case.startswith("Keras on "):
            versions.append(f"Keras {machine['keras_version']}")
        versions.append(f"{machine['framework']} {machine['framework_version']}")
    versions = list(dict.fromkeys(versions))
    title = "CPU" if kind == "cpu" else f"GPU: {device}"
    if arguments.threads:
        title += f", {arguments.threads} thread(s) per framework"
    if arguments.engines != "classic" or arguments.precisions != "float32":
        title += f"; engines {arguments.engines}, precisions {arguments.precisions}"
    if arguments.steps_per_execution != "1":
        title += f"; steps a call {arguments.steps_per_execution}"
    note = (
        f"A CPU run: {any_machine['cpu']}, {any_machine['cpu_cores']} cores, "
        "shared with other work while it ran, so single figures are noisy; the "
        "cases ran interleaved and the ratios compare neighbours in time."
        + (
            f" {', '.join(THREAD_VARIABLES)} were set to {arguments.threads} "
            "(JAX's XLA has no such setting and used its default)."
            if arguments.threads
            else " Each framework used its default thread pools."
        )
        if kind == "cpu"
        else f"{device}; host CPU {any_machine['cpu']}, "
        f"{any_machine['cpu_cores']} cores."
    )
    note += (
        " The cases of each Keras backend ran in one process, the plain PyTorch "
        "reference's in another."
    )
    if missing:
        note += (
            f"\n\nIncomplete: {missing} measurement(s) still to come when this was "
            "written (the sweep was running, or was stopped)."
        )
    warmup = f"{arguments.warmup} warm-up steps per case"
    if arguments.steps_per_execution != "1":
        warmup += " (a fused call of K steps rounds both up to whole calls)"
    if arguments.torch_compile:
        warmup += "; torch.compile's cases warm up for at least 3 steps"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    start, end = markers(key)
    return "\n".join(
        [
            start,
            f"## {title}",
            "",
            note,
            "",
            f"Measured {when}; {', '.join(versions)}. {arguments.steps} timed steps "
            f"after {warmup}, {arguments.rounds} round(s):",
            "",
            f"    {command}",
            "",
            table(results, failures, cases),
            end,
        ]
    )


def write_results(path: Path, key: str, text: str) -> None:
    """Replaces the section ``key`` of ``path``, keeping the others."""
    header = (
        "# Benchmark results\n\n"
        "The cooking DCGAN's training step on MNIST (one D update on real and fake "
        "images, one G update through the frozen D), timed step by step after "
        "warm-up, in processes of their own (Keras fixes its backend per process). "
        "Ours is the classic loop, "
        "`GANTrainer.train_step` (two `train_on_batch` calls), on each Keras "
        "backend, and where a row says so the fused engine (the same step as one "
        "compiled call, or K steps a call) or the mixed_bfloat16 policy; the "
        "reference is the same model and step in plain PyTorch, eager or where a "
        "row says so under `torch.compile` (`benchmarks/torch_reference.py`). "
        "images/s counts real images per median step; the ratio is each case's "
        "images/s over the float32 eager reference's at the same "
        "batch size. Written by `benchmarks/run.py`.\n"
    )
    sections = {}
    if path.exists():
        for match in SECTION.finditer(path.read_text()):
            sections[match.group(1)] = match.group(0)
    sections[key] = text
    if not any(name.startswith("gpu") for name in sections):
        start, end = markers("gpu")
        sections["gpu"] = "\n".join(
            [
                start,
                "## GPU",
                "",
                "Not measured yet: run `python benchmarks/run.py` on a machine with "
                "a GPU, which fills in this section.",
                end,
            ]
        )
    # CPU sections first, each kind's default threads before set ones.
    order = sorted(sections, key=lambda name: (name.startswith("gpu"), name))
    body = "\n\n".join(sections[name] for name in order)
    # Written after every case: a sweep stopped while writing must not leave half a
    # file.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{header}\n{body}\n")
    os.replace(partial, path)


def start_workers(
    processes: Iterable[str], threads: int | None, timeout: float | None
) -> dict[str, Worker]:
    """One worker per process, all started at once and then waited for, so that
    their start-ups overlap and none runs while a case is being timed."""
    workers = {
        process: Worker(process, process_environment(process, threads))
        for process in processes
    }
    for worker in workers.values():
        worker.start()
    for worker in workers.values():
        worker.wait_ready(timeout)
        if worker.start_failure is not None:
            print(worker.start_failure, file=sys.stderr, flush=True)
    return workers


def measure(
    worker: Worker,
    case: Case,
    batch_size: int,
    round_index: int,
    arguments: argparse.Namespace,
    results: Results,
    failures: list[Failure],
) -> None:
    """Times one case in its worker; adds its figures to ``results``, or its failure
    to ``failures``, and prints a line either way."""
    label = f"round {round_index + 1}, batch {batch_size}, {case.name}"
    try:
        figures = worker.run(
            request_for(case, batch_size, arguments), arguments.case_timeout
        )
    except CaseFailed as failure:
        failures.append(Failure(case.name, batch_size, round_index, failure.reason))
        print(
            f"{label}: failed: {failure.reason}\n{failure.details}",
            file=sys.stderr,
            flush=True,
        )
        return
    results.setdefault((case.name, batch_size), {})[round_index] = figures
    print(
        f"{label}: {figures['ms_per_step_median']:.1f} ms/step, "
        f"{figures['images_per_second']:,.0f} images/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    parser.add_argument(
        "--batch-sizes",
        help="comma-separated; default 128,256, and 64 as well without a GPU",
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="Keras backends to time, those installed of them (default: all)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sweep")
    parser.add_argument("--limit", type=int, help="put only N images on the device")
    parser.add_argument(
        "--torch-compile",
        nargs="?",
        const="reduce-overhead",
        metavar="MODES",
        help="also time the reference under torch.compile, in each of MODES "
        f"(comma-separated: {', '.join(COMPILE_MODES)}; default: reduce-overhead)",
    )
    parser.add_argument(
        "--engines",
        default="classic",
        help="comma-separated: classic, fused (JAX only) (default: classic)",
    )
    parser.add_argument(
        "--steps-per-execution",
        default="1",
        metavar="K,K",
        help="comma-separated: whole steps a compiled call of the fused engine "
        "runs, one case each (default: 1; the classic engine always runs 1)",
    )
    parser.add_argument(
        "--precisions",
        default="float32",
        help="comma-separated: float32, mixed_bfloat16 (default: float32)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="threads per framework (OpenMP, MKL, TensorFlow); default: theirs",
    )
    parser.add_argument(
        "--case-timeout",
        type=float,
        metavar="SECONDS",
        help="a case (or a process's start) with no figures after SECONDS fails and "
        "its process is started again (default: no limit)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        serve(arguments.worker)
        return
    if arguments.threads is not None and arguments.threads < 1:
        parser.error(f"--threads must be at least 1. Received: {arguments.threads}")
    if arguments.steps < 1 or arguments.warmup < 0 or arguments.rounds < 1:
        parser.error(
            "--steps and --rounds must be at least 1, --warmup at least 0. "
            f"Received: --steps {arguments.steps} --warmup {arguments.warmup} "
            f"--rounds {arguments.rounds}"
        )
    if arguments.case_timeout is not None and arguments.case_timeout <= 0:
        parser.error(
            f"--case-timeout must be above 0. Received: {arguments.case_timeout:g}"
        )
    check_choices(parser, arguments)
    gpu = has_cuda()
    batch_sizes = (
        positive_integers(parser, "--batch-sizes", arguments)
        if arguments.batch_sizes
        else ([128, 256] if gpu else [64, 128, 256])
    )
    cases = choose_cases(arguments)
    names = [case.name for case in cases]
    command = " ".join(["python", "benchmarks/run.py", *sys.argv[1:]])
    kind = "gpu" if gpu else "cpu"
    key = kind + (f"-threads-{arguments.threads}" if arguments.threads else "")
    # A sweep of other engines, precisions or steps a call gets its own section.
    if arguments.engines != "classic" or arguments.precisions != "float32":
        key += f"-{arguments.engines}-{arguments.precisions}".replace(",", "+")
    if arguments.steps_per_execution != "1":
        key += f"-k-{arguments.steps_per_execution}".replace(",", "+")
    results: Results = {}
    failures: list[Failure] = []
    total = len(cases) * len(batch_sizes) * arguments.rounds
    workers = start_workers(
        dict.fromkeys(case.process for case in cases),
        arguments.threads,
        arguments.case_timeout,
    )
    try:
        for round_index in range(arguments.rounds):
            order = cases if round_index % 2 == 0 else cases[::-1]
            for batch_size in batch_sizes:
                for case in order:
                    measure(
                        workers[case.process], case, batch_size, round_index,
                        arguments, results, failures,
                    )  # fmt: skip
                    if results:
                        done = sum(map(len, results.values())) + len(failures)
                        text = section(
                            key, kind, results, failures, names, arguments, command,
                            missing=total - done,
                        )  # fmt: skip
                        write_results(arguments.out, key, text)
    except BaseException:
        # Stopped (Ctrl-C) or broken: a case may be running, so waiting is no use.
        for worker in workers.values():
            worker.stop()
        raise
    for worker in workers.values():
        worker.close()
    if not results:
        raise SystemExit(f"Every case failed; {arguments.out} is unchanged.")
    print(f"\n{text}\n\nWritten to {arguments.out}")
    if failures:
        raise SystemExit(f"{len(failures)} of {total} measurement(s) failed (above).")


if __name__ == "__main__":
    main()
