"""What a recipe's step costs against another's: recipes timed in turn.

Times each recipe's step as ``gan-cookbook bench`` does, in one process, in turn for
``--rounds`` rounds (the order flipped every other round, so that all see the same
machine load), and prints each round's median ms per step, the median over rounds,
and each recipe's cost against the first.

    python benchmarks/step_cost.py --recipes mnist,mnist_conditional --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any


def interleaved_medians(
    cases: dict[str, Any], rounds: int, steps: int, limit: int
) -> dict[str, list[float]]:
    """Each case's (a recipe's) median ms per step in each round, the cases timed in
    turn, their order flipped every other round."""
    from gan_cookbook.bench import benchmark

    medians: dict[str, list[float]] = {label: [] for label in cases}
    for round_number in range(rounds):
        order = list(cases) if round_number % 2 == 0 else list(reversed(cases))
        for label in order:
            result = benchmark(cases[label], steps=steps, limit=limit)
            median = result["ms_per_step_median"]
            medians[label].append(median)
            print(f"round {round_number + 1}, {label}: {median:.1f} ms", flush=True)
    return medians


def report(title: str, medians: dict[str, list[float]]) -> dict[str, float]:
    """Prints every case's median over rounds; returns them."""
    print(f"\n{title}:")
    overall = {}
    for label, values in medians.items():
        overall[label] = statistics.median(values)
        print(f"  {label}: median {overall[label]:.1f} ms "
              f"(rounds: {', '.join(f'{value:.1f}' for value in values)})")  # fmt: skip
    return overall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recipes",
        default="mnist,mnist_conditional",
        help="built-in names or files, comma-separated; the first is the baseline",
    )
    parser.add_argument("--rounds", type=int, default=4, help="rounds (default 4)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps a case")
    parser.add_argument("--limit", type=int, default=6400, help="images on the device")
    arguments = parser.parse_args()

    from gan_cookbook import launch

    launch.start_keras()
    from gan_cookbook.recipes import resolve as resolve_recipe

    names = arguments.recipes.split(",")
    if len(names) < 2:
        parser.error(f"--recipes needs two or more. Received: {arguments.recipes}")
    cases = {name: resolve_recipe(name) for name in names}
    medians = interleaved_medians(
        cases, arguments.rounds, arguments.steps, arguments.limit
    )
    overall = report(f"{arguments.rounds} rounds of {arguments.steps} steps", medians)
    baseline = overall[names[0]]
    for name in names[1:]:
        print(f"  {name} costs {100 * (overall[name] / baseline - 1):+.1f}% a step "
              f"against {names[0]}")  # fmt: skip


if __name__ == "__main__":
    main()
