"""What the average of G costs a step: a recipe timed with and without it.

Times the recipe's step as ``gan-cookbook bench`` does, once with the recipe's
``average`` and once with none, in one process, in turn for ``--rounds`` rounds
(the order flipped every other round, so that both see the same machine load), and
prints each round's median ms per step and the median over rounds.

    python benchmarks/average_cost.py --recipe mnist_quick --rounds 6 --steps 150
    python benchmarks/average_cost.py --recipe mnist --rounds 2 --steps 100
"""

from __future__ import annotations

import argparse
import dataclasses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recipe", default="mnist_quick", help="a built-in name or a file"
    )
    parser.add_argument("--rounds", type=int, default=6, help="rounds (default 6)")
    parser.add_argument("--steps", type=int, default=150, help="timed steps a case")
    parser.add_argument("--limit", type=int, default=9600, help="images on the device")
    parser.add_argument("--decay", type=float, help="the decay (default the recipe's)")
    arguments = parser.parse_args()

    from gan_cookbook import launch

    launch.start_keras()
    from step_cost import interleaved_medians, report

    from gan_cookbook.recipes import resolve as resolve_recipe

    recipe = resolve_recipe(arguments.recipe)
    decay = arguments.decay if arguments.decay is not None else recipe.average
    if decay is None:
        parser.error(f"--recipe {arguments.recipe} keeps no average: give --decay")
    cases = {
        f"average {decay}": dataclasses.replace(recipe, average=decay),
        "no average": dataclasses.replace(recipe, average=None),
    }
    medians = interleaved_medians(
        cases, arguments.rounds, arguments.steps, arguments.limit
    )
    with_average, without = report(
        f"{recipe.name}, {arguments.rounds} rounds of {arguments.steps} steps", medians
    ).values()
    print(f"  the average costs {100 * (with_average / without - 1):+.1f}% a step")


if __name__ == "__main__":
    main()
