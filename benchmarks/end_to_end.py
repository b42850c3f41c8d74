"""Cooks recipes end to end and reports time and quality: one row per run.

For each recipe, engine and precision asked for, runs the recipe's own command
(``python -m gan_cookbook.recipes.<name>``) in a fresh process, as a user would, and
times it from process start to the last file it wrote; then runs ``gan-cookbook
evaluate`` on the run folder and reads its ``metrics.json``. Prints a Markdown table:
seconds, Fréchet distance, KID, class coverage and class KL, each beside the real-data
floor, with the machine named.

    python benchmarks/end_to_end.py                             # mnist, classic
    KERAS_BACKEND=jax python benchmarks/end_to_end.py --engines classic,fused \\
        --precisions float32,mixed_bfloat16
    python benchmarks/end_to_end.py --recipes mnist,mnist_tutorial --out runs/report

The fused engine runs on JAX: its cases get ``KERAS_BACKEND=jax``; the others run on
the backend ``KERAS_BACKEND`` names.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# benchmarks/run.py, beside this script
from run import check_choices, child_environment

from gan_cookbook.run_folder import RunFolder

ROOT = Path(__file__).resolve().parent.parent


def environment_for(engine: str) -> dict[str, str]:
    environment = child_environment()
    if engine == "fused":
        environment["KERAS_BACKEND"] = "jax"
    return environment


def run(command: list[str], environment: dict[str, str], what: str) -> None:
    result = subprocess.run(
        command, env=environment, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"{what} failed ({' '.join(command)}):\n{result.stderr[-3000:]}")


def cook_and_measure(
    recipe: str,
    engine: str,
    precision: str,
    out: Path,
    arguments: argparse.Namespace,
) -> dict:
    """Cooks one run into ``out``, evaluates it, and returns the row's figures."""
    environment = environment_for(engine)
    command = [sys.executable, "-m", f"gan_cookbook.recipes.{recipe}", "--quiet"]
    command += ["--out", str(out), "--engine", engine, "--precision", precision]
    for option in ("epochs", "limit"):
        if getattr(arguments, option) is not None:
            command += [f"--{option}", str(getattr(arguments, option))]
    started = time.time()
    run(command, environment, f"cooking {recipe} ({engine}, {precision})")
    last_written = max(p.stat().st_mtime for p in out.rglob("*") if p.is_file())
    seconds = last_written - started
    evaluate = [sys.executable, "-m", "gan_cookbook", "evaluate", str(out)]
    run(evaluate + ["--n", str(arguments.n)], environment, f"evaluating {out}")
    folder = RunFolder(out)
    metrics = json.loads(folder.metrics_path.read_text())
    record = folder.read_record()
    return {
        "recipe": recipe,
        "engine": engine,
        "precision": precision,
        "backend": record.backend,
        "epochs": record.recipe["epochs"],
        "images": record.data.images,
        "seconds": seconds,
        "metrics": metrics,
    }


def machine(environment: dict[str, str]) -> str:
    """The machine line of ``gan-cookbook bench``, from a process on the backend."""
    code = (
        "from gan_cookbook.bench import machine, machine_line; "
        "print(machine_line(machine()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() or "unknown machine"


def kid_text(values: dict) -> str:
    """KID x 1000 and its standard error over the subsets, as ``evaluate`` shows
    them (this script imports no Keras: its processes own the GPU)."""
    error = values.get("kid_standard_error")
    if error is None:
        return f"{1000 * values['kid']:.1f}"
    return f"{1000 * values['kid']:.1f} ± {1000 * error:.1f}"


def table(rows: list[dict]) -> str:
    """The Markdown table: each figure beside its real-data floor."""
    lines = [
        "| recipe | engine | precision | backend | epochs | seconds, start to last "
        "file | Fréchet distance (floor) | KID x 1000 (floor) | classes covered | "
        "class KL (floor) |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        generated = row["metrics"]["generated"]
        floor = row["metrics"]["floor"]
        classes = len(row["metrics"].get("real_class_histogram") or []) or "?"
        lines.append(
            f"| {row['recipe']} | {row['engine']} | {row['precision']} "
            f"| {row['backend']} | {row['epochs']} | {row['seconds']:,.0f} "
            f"| {generated['frechet_distance']:.2f} ({floor['frechet_distance']:.2f}) "
            f"| {kid_text(generated)} ({kid_text(floor)}) "
            f"| {generated['classes_covered']} of {classes} "
            f"| {generated['class_kl']:.3f} ({floor['class_kl']:.4f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="mnist", help="comma-separated names")
    parser.add_argument("--engines", default="classic", help="classic, fused")
    parser.add_argument(
        "--precisions", default="float32", help="float32, mixed_bfloat16"
    )
    parser.add_argument("--epochs", type=int, help="default: each recipe's")
    parser.add_argument("--limit", type=int, help="train on the first N images")
    parser.add_argument("--n", type=int, default=10000, help="images to evaluate")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "runs" / "end-to-end",
        help="folder for the run folders, one per row; they must not exist yet",
    )
    arguments = parser.parse_args()
    check_choices(parser, arguments)
    cases = [
        (recipe, engine, precision)
        for recipe in arguments.recipes.split(",")
        for engine in arguments.engines.split(",")
        for precision in arguments.precisions.split(",")
    ]
    folders = [arguments.out / "-".join(case) for case in cases]
    taken = [str(folder) for folder in folders if folder.exists()]
    if taken:
        parser.error(
            "--out: these run folders exist already; choose another --out. "
            f"Received: {', '.join(taken)}"
        )
    rows = []
    for (recipe, engine, precision), folder in zip(cases, folders, strict=True):
        row = cook_and_measure(recipe, engine, precision, folder, arguments)
        rows.append(row)
        print(
            f"{recipe}, {engine}, {precision}: {row['seconds']:,.0f} s, Fréchet "
            f"distance {row['metrics']['generated']['frechet_distance']:.2f}",
            flush=True,
        )
    only_fused = {engine for _, engine, _ in cases} == {"fused"}
    described = machine(environment_for("fused" if only_fused else "classic"))
    print(f"\n{described}\n\n{table(rows)}")


if __name__ == "__main__":
    main()
