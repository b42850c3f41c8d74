"""TensorBoard: Keras' scalars callback and the epoch sample grid as an image.

Image summaries need ``tf.summary``, so this module imports TensorFlow (installed with
the package, whatever backend Keras runs on); nothing else in the package imports it
except :mod:`gan_cookbook.backend`, and this module is only imported for
``--tensorboard``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import keras
import numpy as np
from PIL import Image

from gan_cookbook.callbacks import SampleGrid


class SampleGridImage(keras.callbacks.Callback):
    """Writes each epoch's sample grid (the PNG :class:`SampleGrid` saved) to
    TensorBoard as the image ``samples``, in the run ``log_dir/samples``.

    It must come after the ``SampleGrid`` in the callback list.
    """

    def __init__(self, grid: SampleGrid, log_dir: str | Path):
        super().__init__()
        self.grid = grid
        self.log_dir = Path(log_dir) / "samples"
        self._writer: Any = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        import tensorflow as tf

        self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        import tensorflow as tf

        with Image.open(self.grid.path_for(epoch)) as picture:
            pixels = np.asarray(picture)
        if pixels.ndim == 2:
            pixels = pixels[..., np.newaxis]
        with self._writer.as_default():
            tf.summary.image("samples", pixels[np.newaxis], step=epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._writer is not None:
            self._writer.close()


def check_installed(log_dir: str | Path) -> None:
    """Raises ``ValueError`` before training if ``tf.summary`` cannot write scalars."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ValueError(
            "--tensorboard needs the tensorboard package (tf.summary's scalars and "
            'images live there): pip install tensorboard, or pip install -e ".['
            f'tensorboard]". Received: --tensorboard {log_dir}'
        )


def tensorboard_callbacks(
    grid: SampleGrid, log_dir: str | Path
) -> list[keras.callbacks.Callback]:
    """Keras' ``TensorBoard`` (epoch scalars, in ``log_dir/train``) and the grid image.

    The graph is not written: it needs a traced TensorFlow train function, which the
    JAX and PyTorch backends do not have.
    """
    return [
        keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False),
        SampleGridImage(grid, log_dir),
    ]
