"""Kuzushiji-MNIST characters drawn by class: the kmnist recipe, conditional.

Run it: ``python -m gan_cookbook.recipes.kmnist_conditional``, then
``gan-cookbook sample RUN --class 3``. Downloads its data once, as kmnist does.
"""

from gan_cookbook.recipes.kmnist import RECIPE as UNCONDITIONAL
from gan_cookbook.recipes.mnist_conditional import conditional

# The kmnist recipe (its data and noise; nothing else differs from mnist's), with
# mnist_conditional's models: one line each, none measured on this data.
RECIPE = conditional(
    UNCONDITIONAL,
    description="Kuzushiji-MNIST characters by class: the cooking DCGAN with the label "
    "joined in; downloads once",
)

if __name__ == "__main__":
    from gan_cookbook.cli import recipe_command

    recipe_command(RECIPE)()
