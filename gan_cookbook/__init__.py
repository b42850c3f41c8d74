"""gan_cookbook: DCGANs on 28x28 images with the classic Keras ``train_on_batch`` loop.

The loop (:func:`stack`, :class:`GANTrainer`) works with any compiled Keras models;
:func:`build_gan_model` builds a :class:`Recipe`'s compiled models, and :func:`cook`
runs a recipe end to end.
"""

import os

# TensorFlow's C++ start-up chatter (CPU features, missing CUDA) buries the progress
# bar; a value set by the user wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from gan_cookbook.cook import Run, RunResult, cook, prepare  # noqa: E402
from gan_cookbook.data import (  # noqa: E402
    Dataset,
    DataSource,
    load_mnist,
    load_npz,
    load_path,
)
from gan_cookbook.fused import FusedGANTrainer  # noqa: E402
from gan_cookbook.gan_model import GANModel, build_gan_model, make_trainer  # noqa: E402
from gan_cookbook.loop import GANTrainer, Noise, stack  # noqa: E402
from gan_cookbook.recipe import Recipe, load_recipe_file  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "DataSource",
    "Dataset",
    "FusedGANTrainer",
    "GANModel",
    "GANTrainer",
    "Noise",
    "Recipe",
    "Run",
    "RunResult",
    "build_gan_model",
    "cook",
    "load_mnist",
    "load_npz",
    "load_path",
    "load_recipe_file",
    "make_trainer",
    "prepare",
    "stack",
]
