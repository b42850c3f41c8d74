"""The ``gan-cookbook`` command line: thin click commands over library functions.

One module per group of commands: :mod:`~gan_cookbook.cli.cooking` (``cook``,
``resume``, ``list``, ``copy-recipe`` and each built-in recipe's command),
:mod:`~gan_cookbook.cli.inspecting` (``sample``, ``interpolate``, ``evaluate``,
``compare``), :mod:`~gan_cookbook.cli.tools` (``bench``, ``tune``); what they share is
in :mod:`~gan_cookbook.cli.common`. Keras is imported only inside the commands that
need it, once their input has been checked.
"""

from __future__ import annotations

import click

from gan_cookbook.cli.common import InterruptibleGroup
from gan_cookbook.cli.cooking import (
    cook,
    copy_recipe,
    list_recipes,
    recipe_command,
    resume,
)
from gan_cookbook.cli.inspecting import compare, evaluate, interpolate, sample
from gan_cookbook.cli.tools import bench, tune_recipe

__all__ = ["main", "recipe_command"]


@click.group(
    cls=InterruptibleGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="gan-cookbook")
def main() -> None:
    """Cook DCGANs on 28x28 images with the classic Keras train_on_batch loop."""


for command in (
    cook,
    resume,
    list_recipes,
    copy_recipe,
    sample,
    interpolate,
    evaluate,
    compare,
    bench,
    tune_recipe,
):
    main.add_command(command)
