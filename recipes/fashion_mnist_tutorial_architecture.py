"""Fashion-MNIST with the TensorFlow tutorial's larger architecture swapped in.

    gan-cookbook cook recipes/fashion_mnist_tutorial_architecture.py --epochs 5

Starts from the built-in ``fashion_mnist`` recipe (the cooking DCGAN with the settings
measured on MNIST) and changes only the models and their noise. Unmeasured: this is the
experiment, to compare its samples/ with the built-in recipe's.
"""

from gan_cookbook.models import tutorial_discriminator, tutorial_generator
from gan_cookbook.noise import Noise
from gan_cookbook.recipes.fashion_mnist import RECIPE as FASHION_MNIST

RECIPE = FASHION_MNIST.replace(
    name="fashion_mnist_tutorial_architecture",
    description="Fashion-MNIST clothes, tutorial architecture with the cooking "
    "training settings",
    # Clothes carry textures, prints and folds that digits do not: the tutorial's G
    # (2.3M parameters, three transposed convolutions with BatchNorm) has about 13
    # times the cooking G's capacity to draw them. D keeps its size (213k).
    build_generator=tutorial_generator,
    build_discriminator=tutorial_discriminator,
    # The tutorial's G was designed for 100 numbers from a standard normal.
    noise_dim=100,
    noise=Noise("normal"),
    # Kept from fashion_mnist: Adam(2e-4, beta_1=0.5), batch 128, 10 epochs. The
    # tutorial's own Adam(1e-4) is slow on MNIST: Fréchet distance 79 after 40 of its
    # 50 epochs (docs/evaluation.md).
)
