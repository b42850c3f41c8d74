"""Kuzushiji-MNIST (cursive Japanese characters) with a wider-noise cooking DCGAN.

Run it: ``python -m gan_cookbook.recipes.kmnist [--epochs N --out DIR ...]``.
The first run downloads the two training files (18 MB) into the Keras cache;
offline, copy them there by hand (the error message says which, from where, to
where) or pass ``--data``.
"""

from gan_cookbook.data import load_kmnist
from gan_cookbook.noise import Noise
from gan_cookbook.recipes.mnist import RECIPE as MNIST

# What is measured and what is reasoned: the architecture, optimizers, batch, epochs
# and average of G are the mnist recipe's, measured on MNIST
# (gan_cookbook/recipes/mnist.py); nothing has been measured on Kuzushiji-MNIST,
# which has as many images as MNIST. The one
# change, the noise, is reasoned: each of its 10 classes gathers several different
# written forms of one hiragana (its README shows them), so the data has more distinct
# shapes per class than MNIST's digits.
RECIPE = MNIST.replace(
    name="kmnist",
    description="Kuzushiji-MNIST characters, the cooking DCGAN with noise 100 "
    "(Adam 2e-4 / 2e-3, 10 epochs); downloads once",
    # The official MNIST-format files, fetched once into the Keras cache and checked
    # against their MD5s; no network once cached.
    load_data=load_kmnist,
    # The DCGAN paper's input: 100 numbers uniform in [-1, 1). Ten numbers leave G few
    # directions to spread the several forms of each class over; 100 cost G 0.56M
    # more parameters, all in its first Dense layer (747k in all against 182k).
    noise_dim=100,
    noise=Noise("uniform", low=-1.0, high=1.0),
)

if __name__ == "__main__":
    from gan_cookbook.cli import recipe_command

    recipe_command(RECIPE)()
