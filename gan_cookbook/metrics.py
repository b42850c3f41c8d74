"""Metrics for the discriminator's training step."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="gan_cookbook")
class LabelAccuracy(keras.metrics.Metric):
    """Accuracy of a sigmoid discriminator on the images of one label only.

    ``LabelAccuracy(1, name="real_accuracy")`` is the share of real images that D
    calls real; ``LabelAccuracy(0, name="fake_accuracy")`` the share of fakes it
    calls fake. Computed inside the train function, so ``train_on_batch`` returns it
    with the loss and no extra host sync.

    Args:
        label: The label (0 or 1) whose images are counted.
        threshold: Probability above which D says "real". Defaults to 0.5.
        name: The metric's name.
    """

    def __init__(
        self, label: int, threshold: float = 0.5, name: str | None = None, **kwargs: Any
    ):
        if label not in (0, 1):
            raise ValueError(f"`label` must be 0 or 1. Received: label={label!r}")
        super().__init__(name=name or f"label_{label}_accuracy", **kwargs)
        self.label = label
        self.threshold = threshold
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        said_real = ops.cast(ops.reshape(y_pred, (-1,)) > self.threshold, "float32")
        selected = y_true if self.label == 1 else 1.0 - y_true
        agrees = said_real if self.label == 1 else 1.0 - said_real
        self.correct.assign_add(ops.sum(selected * agrees))
        self.count.assign_add(ops.sum(selected))

    def result(self):
        return ops.divide_no_nan(self.correct, self.count)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "label": self.label,
            "threshold": self.threshold,
        }


def discriminator_metrics() -> list[keras.metrics.Metric]:
    """D's accuracy on real images and on fakes, named ``real_accuracy`` and
    ``fake_accuracy`` (``d_real_accuracy`` and ``d_fake_accuracy`` in the logs)."""
    return [
        LabelAccuracy(1, name="real_accuracy"),
        LabelAccuracy(0, name="fake_accuracy"),
    ]
