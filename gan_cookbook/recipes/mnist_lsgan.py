"""MNIST with a least-squares GAN (Mao et al., 2017): mnist_quick's models and steps,
D's sigmoid and cross-entropy traded for a linear score and squared error.

Run it: ``python -m gan_cookbook.recipes.mnist_lsgan``.
"""

from functools import partial

from gan_cookbook.models import quick_discriminator
from gan_cookbook.recipes.mnist_quick import RECIPE as MNIST_QUICK

RECIPE = MNIST_QUICK.replace(
    name="mnist_lsgan",
    description="MNIST digits with the least-squares objective: mnist_quick's "
    "models, D a linear score regressed to 1 (real) and 0 (fake)",
    # The one change: D and G are trained by squared error towards the targets
    # (Mao et al.'s 0-1 coding), which still pushes a fake that D already calls
    # real further on, where the sigmoid's cross-entropy saturates.
    objective="least_squares",
    # A least-squares D outputs an unbounded score: no sigmoid. Everything else,
    # the minibatch feature included, is mnist_quick's, so the table compares
    # objectives only.
    build_discriminator=partial(
        quick_discriminator, minibatch_group_size=4, activation="linear"
    ),
)

if __name__ == "__main__":
    from gan_cookbook.cli import recipe_command

    recipe_command(RECIPE)()
