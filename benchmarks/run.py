"""Times our classic loop on every installed Keras backend against plain PyTorch.

Each case runs in its own process (Keras fixes its backend per process), and the cases
run in turn, batch size by batch size, so that ours and the reference see the same
machine load; with ``--rounds R`` the whole sweep repeats R times, in reverse order
every other round, and the table gives the median over rounds. Writes the table to
``benchmarks/RESULTS.md``, in the section for the device it ran on (CPU or GPU, and
the ``--threads`` setting), leaving the other sections as they were.

    python benchmarks/run.py                       # the default: a short run
    python benchmarks/run.py --steps 200 --rounds 3 --torch-compile
    python benchmarks/run.py --engines classic,fused --precisions float32,mixed_bfloat16

``--engines fused`` adds the fused engine on JAX; ``--precisions`` adds each precision
to every case, the plain PyTorch reference included (``torch.autocast`` with bfloat16).
The ratio column compares each case with the float32 plain PyTorch reference.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BACKENDS = ("tensorflow", "jax", "torch")
REFERENCE = "plain PyTorch eager"
SECTION = re.compile(r"<!-- (\S+) results start -->.*?<!-- \1 results end -->", re.S)
# The thread pools each framework sizes from the environment: OpenMP and MKL (PyTorch)
# and TensorFlow's own two pools. XLA on the CPU (JAX) has no such switch.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def markers(key: str) -> tuple[str, str]:
    return f"<!-- {key} results start -->", f"<!-- {key} results end -->"


@dataclass(frozen=True)
class Case:
    """One implementation to time: ours on a backend, or the plain PyTorch one."""

    backend: str | None  # a Keras backend; None: the plain PyTorch reference
    engine: str = "classic"
    precision: str = "float32"
    torch_compile: bool = False

    @property
    def name(self) -> str:
        if self.backend is None:
            words = ["torch.compile" if self.torch_compile else REFERENCE]
        else:
            words = [f"Keras on {self.backend}"]
            if self.engine != "classic":
                words.append(self.engine)
        if self.precision != "float32":
            words.append(self.precision)
        return ", ".join(words)


def child_environment() -> dict[str, str]:
    """This environment, with the repository first on the import path."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


def run_case(case: Case, batch_size: int, arguments: argparse.Namespace) -> dict:
    """Runs one case in a fresh process and returns its JSON figures."""
    timing = [
        "--steps", str(arguments.steps),
        "--warmup", str(arguments.warmup),
        "--batch-size", str(batch_size),
        "--precision", case.precision,
        "--json",
    ]  # fmt: skip
    if arguments.limit:
        timing += ["--limit", str(arguments.limit)]
    environment = child_environment()
    if arguments.threads:
        environment.update(dict.fromkeys(THREAD_VARIABLES, str(arguments.threads)))
    if case.backend is not None:
        command = [sys.executable, "-m", "gan_cookbook", "bench", "mnist", *timing]
        command += ["--engine", case.engine]
        environment["KERAS_BACKEND"] = case.backend
    else:
        command = [sys.executable, str(ROOT / "benchmarks" / "torch_reference.py")]
        command += timing + (["--compile"] if case.torch_compile else [])
    result = subprocess.run(
        command, env=environment, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(
            f"{case.name} at batch {batch_size} failed:\n{result.stderr[-3000:]}"
        )
    return json.loads(result.stdout[result.stdout.index("{") :])


# The values --engines and --precisions take (gan_cookbook's ENGINES and PRECISIONS,
# written out so that this process need not import Keras).
CHOICES = {"engines": ("classic", "fused"), "precisions": ("float32", "mixed_bfloat16")}


def check_choices(
    parser: argparse.ArgumentParser, arguments: argparse.Namespace
) -> None:
    """Stops with a usage error naming any engine or precision not in CHOICES."""
    for option, allowed in CHOICES.items():
        unknown = set(getattr(arguments, option).split(",")) - set(allowed)
        if unknown:
            parser.error(
                f"--{option} takes {', '.join(allowed)}. "
                f"Received: {', '.join(sorted(unknown))}"
            )


def choose_cases(arguments: argparse.Namespace) -> list[Case]:
    """Every installed backend and engine asked for, in every precision asked for."""
    backends = [
        name
        for name in arguments.backends.split(",")
        if importlib.util.find_spec(name) is not None
    ]
    cases = []
    for precision in arguments.precisions.split(","):
        for engine in arguments.engines.split(","):
            for backend in backends:
                # The fused engine is JAX's.
                if engine == "classic" or backend == "jax":
                    cases.append(Case(backend, engine, precision))
        if importlib.util.find_spec("torch") is not None:
            cases.append(Case(None, precision=precision))
            if arguments.torch_compile:
                cases.append(Case(None, precision=precision, torch_compile=True))
    return cases


def has_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def table(results: dict[tuple[str, int], list[dict]], cases: list[str]) -> str:
    """The Markdown table: medians over rounds, ratios paired within each round."""
    lines = [
        "| implementation | batch | ms/step, median (mean) | images/s "
        f"| vs {REFERENCE} |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    batch_sizes = sorted({batch for _, batch in results})
    for batch in batch_sizes:
        reference = results.get((REFERENCE, batch), [])
        for case in cases:
            rounds = results.get((case, batch))
            if not rounds:
                continue
            median = statistics.median(r["ms_per_step_median"] for r in rounds)
            mean = statistics.median(r["ms_per_step_mean"] for r in rounds)
            speed = statistics.median(r["images_per_second"] for r in rounds)
            ratios = [
                ours["images_per_second"] / theirs["images_per_second"]
                for ours, theirs in zip(rounds, reference, strict=False)
            ]
            ratio = f"{statistics.median(ratios):.2f}x" if ratios else "n/a"
            lines.append(
                f"| {case} | {batch} | {median:,.1f} ({mean:,.1f}) | {speed:,.0f} "
                f"| {ratio} |"
            )
    return "\n".join(lines)


def section(
    key: str,
    kind: str,
    results: dict[tuple[str, int], list[dict]],
    cases: list[str],
    arguments: argparse.Namespace,
    command: str,
) -> str:
    machines = {case: rounds[0]["machine"] for (case, _), rounds in results.items()}
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
            f"after {arguments.warmup} warm-up steps per case, "
            f"{arguments.rounds} round(s):",
            "",
            f"    {command}",
            "",
            table(results, cases),
            end,
        ]
    )


def write_results(path: Path, key: str, text: str) -> None:
    """Replaces the section ``key`` of ``path``, keeping the others."""
    header = (
        "# Benchmark results\n\n"
        "The cooking DCGAN's training step on MNIST (one D update on real and fake "
        "images, one G update through the frozen D), timed step by step after "
        "warm-up, each case in its own process. Ours is the classic loop, "
        "`GANTrainer.train_step` (two `train_on_batch` calls), on each Keras "
        "backend, and where a row says so the fused engine (the same step as one "
        "compiled call) or the mixed_bfloat16 policy; the reference is the same "
        "model and step in plain PyTorch (`benchmarks/torch_reference.py`). "
        "images/s counts real images per median step; the ratio is each case's "
        "images/s over the float32 reference's at the same "
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
    path.write_text(f"{header}\n{body}\n")


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
        "--torch-compile", action="store_true", help="also time torch.compile"
    )
    parser.add_argument(
        "--engines",
        default="classic",
        help="comma-separated: classic, fused (JAX only) (default: classic)",
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
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown file")
    arguments = parser.parse_args()
    if arguments.threads is not None and arguments.threads < 1:
        parser.error(f"--threads must be at least 1. Received: {arguments.threads}")
    if arguments.steps < 1 or arguments.warmup < 0 or arguments.rounds < 1:
        parser.error(
            "--steps and --rounds must be at least 1, --warmup at least 0. "
            f"Received: --steps {arguments.steps} --warmup {arguments.warmup} "
            f"--rounds {arguments.rounds}"
        )
    gpu = has_cuda()
    batch_sizes = (
        [int(size) for size in arguments.batch_sizes.split(",")]
        if arguments.batch_sizes
        else ([128, 256] if gpu else [64, 128, 256])
    )
    check_choices(parser, arguments)
    cases = choose_cases(arguments)
    results: dict[tuple[str, int], list[dict]] = {}
    for round_index in range(arguments.rounds):
        order = cases if round_index % 2 == 0 else cases[::-1]
        for batch_size in batch_sizes:
            for case in order:
                figures = run_case(case, batch_size, arguments)
                results.setdefault((case.name, batch_size), []).append(figures)
                print(
                    f"round {round_index + 1}, batch {batch_size}, {case.name}: "
                    f"{figures['ms_per_step_median']:.1f} ms/step, "
                    f"{figures['images_per_second']:,.0f} images/s",
                    flush=True,
                )
    command = " ".join(["python", "benchmarks/run.py", *sys.argv[1:]])
    kind = "gpu" if gpu else "cpu"
    key = kind + (f"-threads-{arguments.threads}" if arguments.threads else "")
    # A sweep of other engines or precisions gets its own section.
    if arguments.engines != "classic" or arguments.precisions != "float32":
        key += f"-{arguments.engines}-{arguments.precisions}".replace(",", "+")
    names = [case.name for case in cases]
    text = section(key, kind, results, names, arguments, command)
    write_results(arguments.out, key, text)
    print(f"\n{text}\n\nWritten to {arguments.out}")


if __name__ == "__main__":
    main()
