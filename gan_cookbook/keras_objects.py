"""The package's own Keras classes, which saved models name: a layer, a metric, a
loss and a constraint.

``discriminator.keras`` names ``gan_cookbook>MinibatchStandardDeviation`` (the
quick recipes' D), ``gan_cookbook>LabelAccuracy`` (the metrics D is compiled
with), ``gan_cookbook>WassersteinLoss`` (the critic losses of
:mod:`gan_cookbook.objectives`) and ``gan_cookbook>ClipWeights`` (a clipped
critic's weights). Keras finds a class by that name once this module has been imported:
``import gan_cookbook`` imports it as soon as Keras is imported, so every saved model
loads with ``keras.saving.load_model``. It imports nothing of the package but
:mod:`gan_cookbook.checks`, so it can be imported at any moment after Keras.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers, ops

from gan_cookbook.checks import check_integer


@keras.saving.register_keras_serializable(package="gan_cookbook")
class MinibatchStandardDeviation(layers.Layer):
    """One more channel telling D how much the images of a small group differ.

    ProGAN's minibatch standard deviation (Karras et al., ICLR 2018): the standard
    deviation of each feature over a group of ``group_size`` images, averaged over
    features and positions, appended to every image of the group as a constant
    channel. A G that draws the same digit again and again makes groups of fakes
    that differ less than groups of real images, which D can then see.

    The groups are runs of consecutive images (ProGAN strides them), because the
    classic loop stacks D's batch as the real images, then as many fakes: with a
    batch size divisible by ``group_size`` each group is all real or all fake. A
    batch whose size ``group_size`` does not divide takes groups of the largest size
    that divides both.

    Takes feature maps ``(batch, height, width, channels)`` and returns them with
    one channel more.

    Args:
        group_size: Images per group, at least 2. Defaults to 4 (ProGAN's).
    """

    def __init__(self, group_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = check_integer("group_size", group_size, minimum=2)

    def call(self, inputs):
        count = inputs.shape[0]
        # A traced batch of unknown size takes the full groups (and must fit them).
        group = self.group_size if count is None else math.gcd(count, self.group_size)
        height, width, channels = inputs.shape[1:]
        # float32 keeps the small differences that bfloat16 would round away.
        values = ops.cast(inputs, "float32")
        groups = ops.reshape(values, (-1, group, height, width, channels))
        deviation = ops.sqrt(ops.var(groups, axis=1) + 1e-8)
        per_group = ops.mean(deviation, axis=(1, 2, 3))
        per_image = ops.repeat(per_group, group, axis=0)
        feature = ops.ones_like(values[..., :1]) * per_image[:, None, None, None]
        return ops.concatenate([inputs, ops.cast(feature, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


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
        # Above 0.5, not 1: a smoothed real label (0.9) is still a real image's.
        y_true = ops.cast(ops.reshape(y_true, (-1,)) > 0.5, "float32")
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


@keras.saving.register_keras_serializable(package="gan_cookbook")
class WassersteinLoss(keras.losses.Loss):
    """The mean of ``y_true * y_pred``: a critic's score, signed by its target.

    With targets -1 for real images and +1 for fakes, a critic that minimises it
    maximises ``mean(D(real)) - mean(D(fake))``, the Wasserstein estimate of
    Arjovsky et al. (2017); with target -1 for G's images through ``d_on_g``, G
    maximises ``mean(D(G(z)))``, which is also the hinge objective's G loss (Lim
    and Ye, 2017). The targets are :mod:`gan_cookbook.objectives`'s.
    """

    def __init__(self, name: str = "wasserstein", **kwargs: Any):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        return ops.mean(y_true * y_pred, axis=-1)


@keras.saving.register_keras_serializable(package="gan_cookbook")
class ClipWeights(keras.constraints.Constraint):
    """Keeps every value of a weight within ``[-clip_value, clip_value]``.

    A WGAN critic's weight clipping (Arjovsky et al., 2017) the Keras way: given as a
    layer's ``kernel_constraint`` and ``bias_constraint``, it is applied by the
    optimizer after every update of that weight, so a critic trained with
    ``train_on_batch`` is clipped after each of its steps and never while it is
    frozen inside ``d_on_g``.

    Args:
        clip_value: The bound, greater than 0. WGAN's is 0.01.
    """

    def __init__(self, clip_value: float = 0.01):
        if (
            isinstance(clip_value, bool)
            or not isinstance(clip_value, (int, float))
            or not clip_value > 0
            or not math.isfinite(clip_value)
        ):
            raise ValueError(
                "`clip_value` must be a number greater than 0, such as 0.01. "
                f"Received: clip_value={clip_value!r}"
            )
        self.clip_value = float(clip_value)

    def __call__(self, w):
        return ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self) -> dict[str, Any]:
        return {"clip_value": self.clip_value}
