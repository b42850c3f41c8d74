"""gan_cookbook: DCGANs on 28x28 images with the classic Keras ``train_on_batch`` loop.

The loop (:class:`GANTrainer`, on models stacked by :func:`stack`) works with any
compiled Keras models; :func:`build_gan_model` builds a :class:`Recipe`'s compiled
models, and :func:`cook` runs a recipe end to end.

The names below are imported on first use, so that ``import gan_cookbook`` (and the
command line's ``--help``) does not start a Keras backend. The package's Keras
classes that saved models name are registered as soon as Keras is imported
(:mod:`gan_cookbook.keras_objects`), so ``keras.saving.load_model`` loads every model
a run saves after ``import gan_cookbook``, whichever of the two is imported first.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

# First, before Keras: sets TensorFlow's log level unless the user has.
from gan_cookbook import launch  # noqa: F401

__version__ = "0.1.0"

_MODULES = {
    "DataSource": "gan_cookbook.data",
    "Dataset": "gan_cookbook.loaders",
    "FusedGANTrainer": "gan_cookbook.fused",
    "GANModel": "gan_cookbook.gan_model",
    "GANTrainer": "gan_cookbook.loop",
    "Noise": "gan_cookbook.noise",
    "Recipe": "gan_cookbook.recipe",
    "Run": "gan_cookbook.cook",
    "RunResult": "gan_cookbook.cook",
    "build_gan_model": "gan_cookbook.gan_model",
    "cook": "gan_cookbook.cook",
    "load_mnist": "gan_cookbook.data",
    "load_npz": "gan_cookbook.data",
    "load_path": "gan_cookbook.data",
    "load_recipe_file": "gan_cookbook.recipe",
    "make_trainer": "gan_cookbook.gan_model",
    "prepare": "gan_cookbook.cook",
    "stack": "gan_cookbook.gan_model",
}

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

if TYPE_CHECKING:
    from gan_cookbook.cook import Run, RunResult, cook, prepare
    from gan_cookbook.data import DataSource, load_mnist, load_npz, load_path
    from gan_cookbook.fused import FusedGANTrainer
    from gan_cookbook.gan_model import GANModel, build_gan_model, make_trainer, stack
    from gan_cookbook.loaders import Dataset
    from gan_cookbook.loop import GANTrainer
    from gan_cookbook.noise import Noise
    from gan_cookbook.recipe import Recipe, load_recipe_file


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Finds ``keras`` as Python would and, once its module has run, imports
    :mod:`gan_cookbook.keras_objects`; then leaves ``sys.meta_path``."""

    def find_spec(
        self,
        name: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            importlib.import_module("gan_cookbook.keras_objects")

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'gan_cookbook' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])


# Last: the modules it imports may import the package.
if "keras" in sys.modules:
    importlib.import_module("gan_cookbook.keras_objects")
else:
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())
