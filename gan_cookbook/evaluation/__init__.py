"""Measuring generated images: one path for every dataset.

- :mod:`~gan_cookbook.evaluation.scores`: the metrics' NumPy mathematics (Fréchet
  distance, KID, classifier score, class histogram).
- :mod:`~gan_cookbook.evaluation.classifier`: the small CNN whose features and classes
  the metrics use: shipped for MNIST, trained on first use and cached otherwise
  (``python -m gan_cookbook.evaluation.classifier`` makes the shipped weights). Its
  names are imported from it, not from here: the package loads it only when a
  classifier is needed.
- :mod:`~gan_cookbook.evaluation.measure`: drawing noise and generating images, the
  reference and floor images, the :class:`Evaluator` that measures a generator,
  and the ``--eval-every`` callback (:func:`frechet_callback`).
"""

from gan_cookbook.evaluation.measure import (
    FRECHET_KEY,
    FRECHET_RAW_KEY,
    LABEL_KEY,
    EvaluationData,
    Evaluator,
    draw_noise,
    evaluation_data,
    frechet_callback,
    generate,
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
    "frechet_callback",
    "generate",
    "measure",
    "splits_of",
    "table",
]
