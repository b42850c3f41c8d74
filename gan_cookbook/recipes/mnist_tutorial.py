"""MNIST with the TensorFlow DCGAN tutorial's architecture and settings.

Run it: ``python -m gan_cookbook.recipes.mnist_tutorial [--epochs N --out DIR ...]``.
"""

from functools import partial

import keras

from gan_cookbook.data import load_mnist
from gan_cookbook.models import tutorial_discriminator, tutorial_generator
from gan_cookbook.noise import Noise
from gan_cookbook.recipe import Recipe

RECIPE = Recipe(
    name="mnist_tutorial",
    description="MNIST digits, the TensorFlow DCGAN tutorial (noise 100, 50 epochs)",
    # Ships inside the package: runs with no network.
    load_data=load_mnist,
    # The tutorial's models, D ending in a sigmoid so one loss serves every recipe.
    build_generator=tutorial_generator,
    build_discriminator=tutorial_discriminator,
    # The tutorial draws 100 numbers from a standard normal distribution.
    noise_dim=100,
    noise=Noise("normal", mean=0.0, stddev=1.0),
    # The tutorial's optimizers: Adam(1e-4) for each model, Keras' other defaults.
    discriminator_optimizer=partial(keras.optimizers.Adam, 1e-4),
    generator_optimizer=partial(keras.optimizers.Adam, 1e-4),
    # Binary cross-entropy, as the tutorial (there from logits; here on probabilities).
    loss="binary_crossentropy",
    # The tutorial's BATCH_SIZE.
    batch_size=256,
    # The tutorial's EPOCHS. This architecture learns slowly at the tutorial's rate:
    # digits, most of them readable and many broken, after 40 epochs (2 h 28 min on 2
    # CPU cores, measuring excluded; the 50, at that pace, some 3 hours).
    epochs=50,
    # The tutorial shows 16 samples; 8x8 matches the other recipes' grids.
    grid_size=8,
    seed=0,
    # Not the tutorial's: the grids and generator.keras come from an average of G's
    # weights (decay 0.99, measured on the mnist recipe when its rates were the
    # tutorial's kind: slow, and the same for D and G). Training is exactly
    # the tutorial's; generator_raw.keras holds the trained G. Measured Fréchet
    # distance (docs/evaluation.md), average against trained G: 432 / 466 after
    # epoch 1, 351 / 332 after epoch 2, 208 / 239 after epoch 5, 193 / 198 after
    # epoch 10, 165 / 239 after epoch 20 (the trained G on 5 classes, the average 8),
    # 104 / 108 after epoch 30, 79 / 95 after epoch 40 (10 classes each).
    average=0.99,
)

if __name__ == "__main__":
    from gan_cookbook.cli import recipe_command

    recipe_command(RECIPE)()
