"""Built-in recipes, each runnable as ``python -m gan_cookbook.recipes.<name>``."""

from __future__ import annotations

import ast
import importlib
import sys
from importlib import resources
from typing import TYPE_CHECKING

from gan_cookbook import launch

if TYPE_CHECKING:
    from gan_cookbook.recipe import Recipe

BUILTIN = (
    "mnist",
    "mnist_quick",
    "mnist_tutorial",
    "mnist_conditional",
    "mnist_quick_conditional",
    "fashion_mnist",
    "fashion_mnist_conditional",
    "kmnist",
    "kmnist_conditional",
)


def check_name(name: str) -> str:
    """Returns ``name`` if it is a built-in recipe's."""
    if name not in BUILTIN:
        raise ValueError(
            f"Unknown recipe {name!r}. Known recipes: {', '.join(BUILTIN)} "
            "(or give the path of a recipe file)."
        )
    return name


def get(name: str) -> Recipe:
    """The built-in recipe called ``name``."""
    module = importlib.import_module(f"gan_cookbook.recipes.{check_name(name)}")
    return module.RECIPE


def describe(name: str) -> str:
    """The ``description`` of a built-in recipe, read from its source: listing the
    recipes starts no Keras backend."""
    source = resources.files(__name__).joinpath(f"{check_name(name)}.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "description":
            return ast.literal_eval(node.value)
    return get(name).description


if sys.argv[:1] == ["-m"]:
    # ``python -m gan_cookbook.recipes.<name>``: Python imports this package while
    # it locates the recipe, with sys.argv[0] set to "-m" (see ``python -m``'s
    # documentation). Keras starts here, before the recipe imports it, as it does
    # for ``gan-cookbook``: quietly, with a one-line error if the backend is missing
    # and status 130 without a traceback on Ctrl-C. The recipe's imports happen
    # here too, so that nothing is left to interrupt before its command begins.
    launch.filter_backend_noise_until_exit()
    try:
        launch.start_keras()
        with launch.interrupts_deferred():
            importlib.import_module("gan_cookbook.recipe")
            importlib.import_module("gan_cookbook.cli")
    except ImportError as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"\n{launch.NOTHING_WRITTEN}", file=sys.stderr)
        sys.exit(130)
