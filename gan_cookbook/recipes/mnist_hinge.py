"""MNIST with the hinge loss (Lim and Ye, 2017; Miyato et al., 2018): mnist_quick's
models and steps, D a linear score trained to stay above 1 on real images and below
-1 on fakes.

Run it: ``python -m gan_cookbook.recipes.mnist_hinge``.
"""

from functools import partial

from gan_cookbook.models import quick_discriminator
from gan_cookbook.recipes.mnist_quick import RECIPE as MNIST_QUICK

RECIPE = MNIST_QUICK.replace(
    name="mnist_hinge",
    description="MNIST digits with the hinge objective: mnist_quick's models, "
    "D a margin score, G raising it",
    # D: mean(relu(1 - D(real))) + mean(relu(1 + D(fake))), Keras' Hinge on targets
    # 1 and -1; G: -mean(D(G(z))). The objective of SAGAN and BigGAN.
    objective="hinge",
    # A score, not a probability: D's last layer is linear.
    build_discriminator=partial(
        quick_discriminator, minibatch_group_size=4, activation="linear"
    ),
)

if __name__ == "__main__":
    from gan_cookbook.cli import recipe_command

    recipe_command(RECIPE)()
