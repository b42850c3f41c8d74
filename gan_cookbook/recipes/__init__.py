"""Built-in recipes, each runnable as ``python -m gan_cookbook.recipes.<name>``."""

from __future__ import annotations

import importlib

from gan_cookbook.recipe import Recipe

BUILTIN = ("mnist", "mnist_quick", "mnist_tutorial", "fashion_mnist", "kmnist")


def get(name: str) -> Recipe:
    """The built-in recipe called ``name``."""
    if name not in BUILTIN:
        raise ValueError(
            f"Unknown recipe {name!r}. Known recipes: {', '.join(BUILTIN)} "
            "(or give the path of a recipe file)."
        )
    return importlib.import_module(f"gan_cookbook.recipes.{name}").RECIPE
