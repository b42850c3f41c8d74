"""Measuring generated images: one path for every dataset.

- :mod:`~gan_cookbook.evaluation.scores`: the metrics' NumPy mathematics (Fréchet
  distance, KID, classifier score, class histogram).
- :mod:`~gan_cookbook.evaluation.classifier`: the small CNN whose features and classes
  the metrics use: shipped for MNIST, trained on first use and cached otherwise
  (``python -m gan_cookbook.evaluation.classifier`` makes the shipped weights). Its
  names are imported from it, not from here: the package loads it only when a
  classifier is needed.
- :mod:`~gan_cookbook.evaluation.generation`: drawing noise and labels, generating
  images, and the names of the logged measurements; it imports nothing of the
  package.
- :mod:`~gan_cookbook.evaluation.measure`: the reference and floor images, the
  :class:`Evaluator` that measures a generator, and the table of a measurement.

The ``--eval-every`` callback is a training hook, not a measurement: it lives in
:mod:`gan_cookbook.callbacks` (:func:`~gan_cookbook.callbacks.frechet_callback`),
which imports this package; nothing here imports it.
"""

from gan_cookbook.evaluation.generation import (
    FRECHET_KEY,
    FRECHET_RAW_KEY,
    LABEL_KEY,
    draw_noise,
    generate,
)
from gan_cookbook.evaluation.measure import (
    EvaluationData,
    Evaluator,
    evaluation_data,
    measure,
    splits_of,
    table,
)
from gan_cookbook.evaluation.scores import compare

__all__ = [
    "FRECHET_KEY",
    "FRECHET_RAW_KEY",
    "LABEL_KEY",
    "EvaluationData",
    "Evaluator",
    "compare",
    "draw_noise",
    "evaluation_data",
    "generate",
    "measure",
    "splits_of",
    "table",
]
