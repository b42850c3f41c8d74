"""MNIST with a Wasserstein GAN (Arjovsky et al., 2017): a weight-clipped critic
that takes five steps for each of G's, RMSprop, on mnist_quick's models.

Run it: ``python -m gan_cookbook.recipes.mnist_wgan``.
"""

from functools import partial

import keras

from gan_cookbook.models import quick_discriminator
from gan_cookbook.recipes.mnist_quick import RECIPE as MNIST_QUICK

RECIPE = MNIST_QUICK.replace(
    name="mnist_wgan",
    description="MNIST digits with a Wasserstein critic: weights clipped to 0.01, "
    "5 critic steps per G step, RMSprop",
    # The critic maximises mean(D(real)) - mean(D(fake)), G maximises mean(D(G(z))).
    objective="wasserstein",
    # The paper's clip (0.01) keeps the critic roughly Lipschitz; its score is
    # linear. No other change to mnist_quick's D.
    build_discriminator=partial(
        quick_discriminator,
        minibatch_group_size=4,
        activation="linear",
        weight_clip=0.01,
    ),
    # The paper's n_critic: the critic nears its optimum before each G step.
    d_steps=5,
    # The paper's optimiser (momentum hurt its clipped critic).
    discriminator_optimizer=partial(keras.optimizers.RMSprop, 5e-5),
    generator_optimizer=partial(keras.optimizers.RMSprop, 5e-5),
)

if __name__ == "__main__":
    from gan_cookbook.cli import recipe_command

    recipe_command(RECIPE)()
