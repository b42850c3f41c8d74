"""Built-in recipes, each runnable as ``python -m gan_cookbook.recipes.<name>``."""

from __future__ import annotations

import ast
import importlib
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from gan_cookbook import launch
from gan_cookbook.files import write_text

if TYPE_CHECKING:
    from gan_cookbook.recipe import Recipe

EXAMPLES_PACKAGE = "gan_cookbook.examples"
"""The example recipe files (the repository's ``recipes/`` folder), shipped in the
package for :func:`copy_recipe_file`."""

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
    "mnist_lsgan",
    "mnist_hinge",
    "mnist_wgan",
    "mnist_acgan",
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


def is_file_name(name_or_path: str) -> bool:
    """Whether ``name_or_path`` names a recipe file rather than a built-in recipe."""
    return name_or_path.endswith(".py") or Path(name_or_path).is_file()


def resolve(name_or_path: str) -> Recipe:
    """A built-in recipe by name, or the recipe in a ``.py`` file.

    Raises:
        ValueError: an unknown name, or a file that holds no recipe.
    """
    if is_file_name(name_or_path):
        from gan_cookbook.recipe import load_recipe_file

        return load_recipe_file(name_or_path)
    return get(name_or_path)


def examples() -> list[str]:
    """The names of the example recipe files, to copy and edit."""
    folder = resources.files(EXAMPLES_PACKAGE)
    return sorted(
        entry.name[: -len(".py")]
        for entry in folder.iterdir()
        if entry.name.endswith(".py") and entry.name[0] not in "._"
    )


def recipe_text(name: str) -> str:
    """The source of a built-in recipe or an example recipe file.

    Raises:
        ValueError: ``name`` is neither; the message lists both kinds.
    """
    if name in BUILTIN:
        return resources.files(__name__).joinpath(f"{name}.py").read_text()
    if name in examples():
        return resources.files(EXAMPLES_PACKAGE).joinpath(f"{name}.py").read_text()
    raise ValueError(
        f"Unknown recipe {name!r}. Built-in recipes: {', '.join(BUILTIN)}; example "
        f"recipe files: {', '.join(examples())}. Received: {name!r}"
    )


def copy_recipe_file(name: str, destination: str | Path | None = None) -> Path:
    """Writes the source of a built-in or example recipe to a new file, to edit and
    cook (``gan-cookbook cook FILE``).

    Args:
        name: A built-in recipe's name or an example's (:func:`examples`).
        destination: The new file, or a folder to write ``<name>.py`` in. Defaults
            to ``<name>.py`` in the current folder.

    Raises:
        ValueError: ``name`` is unknown, or the file exists already (a copy never
            overwrites one).
    """
    text = recipe_text(name)
    path = Path(destination) if destination is not None else Path(f"{name}.py")
    if path.is_dir():
        path = path / f"{name}.py"
    if path.exists():
        raise ValueError(
            f"`destination` {path} already exists, and a copy never overwrites a "
            f"file: give another name or folder. Received: destination={str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
    return path


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
    # and status 130 without a traceback on Ctrl-C. The recipe's own imports happen
    # here too; its command line is imported by its ``__main__`` block.
    launch.filter_backend_noise_until_exit()
    try:
        launch.start_keras()
        with launch.interrupts_deferred():
            importlib.import_module("gan_cookbook.recipe")
    except ImportError as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"\n{launch.NOTHING_WRITTEN}", file=sys.stderr)
        sys.exit(130)
