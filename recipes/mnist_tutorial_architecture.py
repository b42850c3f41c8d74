"""MNIST recipe with the TensorFlow tutorial's architecture swapped in.

Copy this file, change what you like, and cook it:

    gan-cookbook cook recipes/mnist_tutorial_architecture.py --epochs 5

A recipe file defines one ``Recipe`` named ``RECIPE``. This one starts from the
built-in ``mnist`` recipe and changes only what the swap needs.
"""

from gan_cookbook.models import tutorial_discriminator, tutorial_generator
from gan_cookbook.noise import Noise
from gan_cookbook.recipes.mnist import RECIPE as MNIST

RECIPE = MNIST.replace(
    name="mnist_tutorial_architecture",
    description="MNIST digits, tutorial architecture with the mnist recipe's training",
    # The tutorial's models: 2.3M-parameter G, D with dropout.
    build_generator=tutorial_generator,
    build_discriminator=tutorial_discriminator,
    # The tutorial's G was designed for 100 numbers from a standard normal.
    noise_dim=100,
    noise=Noise("normal"),
    # Kept from mnist: Adam(2e-4, beta_1=0.5) for both models, batch 128, 10 epochs,
    # an 8x8 grid and seed 0. The tutorial's own Adam(1e-4) needs about 50 epochs
    # (the built-in mnist_tutorial recipe); the faster rate is the experiment here.
)
