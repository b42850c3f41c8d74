"""A recipe file from a recipe and a trial's values: ``best_recipe.py`` and each
trial's ``recipe.py``.

The file imports the recipe searched as ``BASE``, by name for a built-in one or by
path for a recipe file (so that its builders and data are found again), and makes
``RECIPE = dataclasses.replace(BASE, ...)`` of the fields the values change, each
commented with the range searched and the recipe's own value. Its imports are sorted
and its long calls split as ruff writes them, so that the file can be kept and edited
as any other recipe file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import keras_tuner
from keras_tuner.engine import hyperparameters as hp_types

from gan_cookbook import recipes
from gan_cookbook.recipe import Recipe
from gan_cookbook.search_space import python_code, recipe_changes


def _base_import(base: Recipe) -> tuple[str, ...] | None:
    """The lines that make ``BASE`` in a recipe file, or ``None`` for a recipe made
    in Python, which no file can import."""
    if base.file is not None:
        return (
            "from gan_cookbook.recipe import load_recipe_file",
            f"BASE = load_recipe_file({python_code(base.file)})",
        )
    if base.name in recipes.BUILTIN and recipes.get(base.name) == base:
        return (f"from gan_cookbook.recipes.{base.name} import RECIPE as BASE",)
    return None


def _import_order(line: str) -> tuple[int, str]:
    """Standard library, then Keras, then this package, as ruff sorts them."""
    module = line.split()[1]
    group = 2 if module.startswith("gan_cookbook") else 1 if module == "keras" else 0
    return group, line


def recipe_source(
    base: Recipe,
    values: Mapping[str, Any],
    *,
    name: str,
    description: str,
    docstring: str,
    space: keras_tuner.HyperParameters | None = None,
    data: Mapping[str, Any] | None = None,
) -> str | None:
    """A recipe file: ``BASE``, the recipe ``base`` by name or path, with the
    settings ``values`` (a search's names) replaced.

    Args:
        base: The recipe the search started from.
        values: The settings, as a trial used them.
        name: The new recipe's name.
        description: The new recipe's description.
        docstring: The file's docstring.
        space: The search space, for each field's comment (what was searched).
        data: The ``--data`` the search trained on: ``path``, ``resize``,
            ``skip_bad_images``; the file loads it.

    Returns:
        The file's text, or ``None`` when ``base`` was made in Python.
    """
    base_lines = _base_import(base)
    if base_lines is None:
        return None
    changes = recipe_changes(base, values, "the search")
    imports = {
        "import dataclasses",
        *(line for line in base_lines if " import " in line),
    }
    for change in changes.values():
        imports.update(change.imports)
    searched = {} if space is None else {hp.name: hp for hp in space.space}
    body = [
        f"    name={python_code(name)},",
        f"    description={python_code(description)},",
    ]
    if data is not None:
        imports.update(
            ("from functools import partial", "from gan_cookbook.data import load_path")
        )
        body += [
            "    # The data the search trained and measured on.",
            "    load_data=partial(",
            f"        load_path, {python_code(data['path'])}, "
            f"resize={python_code(data['resize'])}, "
            f"skip_bad_images={data['skip_bad_images']!r}",
            "    ),",
        ]
    for field, change in changes.items():
        related = _RELATED.get(field, (field,))
        ranges = "; ".join(
            _describe(searched[setting]) for setting in related if setting in searched
        )
        note = f"Search space: {ranges}" if ranges else "Tuned"
        body += textwrap.wrap(
            f"{note}; {base.name}'s own: {change.was}.",
            width=88,
            initial_indent="    # ",
            subsequent_indent="    # ",
            break_on_hyphens=False,
        )
        body += _assignment(field, change.code)
    assignments = [line for line in base_lines if " import " not in line]
    lines = [f'"""{_wrap_docstring(docstring)}\n"""', ""]
    groups: dict[int, list[str]] = {}
    for line in imports:
        groups.setdefault(_import_order(line)[0], []).append(line)
    for group in sorted(groups):
        # As isort writes them: "import x" before "from x import y".
        lines += sorted(groups[group], key=lambda line: (line.startswith("from"), line))
        lines.append("")
    if assignments:
        lines += [*assignments, ""]
    lines += [
        "# Every other setting is BASE's own, its epochs too.",
        "RECIPE = dataclasses.replace(",
        "    BASE,",
        *body,
        ")",
        "",
    ]
    return "\n".join(lines)


def _assignment(field: str, code: str) -> list[str]:
    """``field=code,`` in the recipe's call, split over lines as ruff splits a call
    that does not fit in 88 columns."""
    line = f"    {field}={code},"
    opened = code.find("(")
    if len(line) <= 88 or opened < 0 or not code.endswith(")"):
        return [line]
    arguments = code[opened + 1 : -1]
    inner = f"        {arguments}"
    if len(inner) <= 88:
        return [f"    {field}={code[: opened + 1]}", inner, "    ),"]
    parts = [part.strip() for part in arguments.split(", ")]
    return [
        f"    {field}={code[: opened + 1]}",
        *(f"        {part}," for part in parts),
        "    ),",
    ]


def _wrap_docstring(text: str) -> str:
    """Each paragraph wrapped to 88 columns; indented lines (commands) as they are."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if paragraph.startswith(" "):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(
                textwrap.fill(
                    paragraph, width=85, break_on_hyphens=False, break_long_words=False
                )
            )
    return "\n\n".join(paragraphs)


_RELATED = {
    "discriminator_optimizer": ("discriminator_learning_rate", "beta_1"),
    "generator_optimizer": ("generator_learning_rate", "beta_1"),
}
"""The search's settings behind a recipe field, where they are not its own name."""


def _describe(hyperparameter: hp_types.HyperParameter) -> str:
    """A hyperparameter's range in words, for a recipe file's comment."""
    name = hyperparameter.name
    if isinstance(hyperparameter, hp_types.Choice):
        return f"{name} of {', '.join(map(python_code, hyperparameter.values))}"
    if isinstance(hyperparameter, hp_types.Fixed):
        return f"{name} fixed at {hyperparameter.value!r}"
    if isinstance(hyperparameter, (hp_types.Int, hp_types.Float)):
        sampling = " (log)" if hyperparameter.sampling == "log" else ""
        return (
            f"{name} from {hyperparameter.min_value:g} to "
            f"{hyperparameter.max_value:g}{sampling}"
        )
    return name
