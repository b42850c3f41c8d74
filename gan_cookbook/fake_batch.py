"""The fake half of D's batch: noise drawn and fakes made on the device.

:class:`FakeBatch` is the part of :class:`~gan_cookbook.loop.GANTrainer`'s step that
is compiled (:func:`gan_cookbook.backend.compile_training_call`, or inside the fused
engine's one call): G in training mode on fresh noise, joined to a real batch.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from gan_cookbook.noise import Noise


def class_logits(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The log-frequencies of ``labels``' classes, what fakes' labels are drawn
    from; a class with no label gets a logit no draw picks."""
    counts = np.bincount(labels.reshape(-1), minlength=num_classes).astype("float64")
    with np.errstate(divide="ignore"):
        logits = np.log(counts / counts.sum())
    return np.where(counts > 0, logits, -1e9).astype("float32")


class FakeBatch(keras.Layer):
    """Draws noise, makes fakes with G in training mode, and joins them to a real batch.

    A Keras layer so that :func:`gan_cookbook.backend.compile_training_call` (and the
    fused engine) can compile it: noise is drawn on the device with a
    ``SeedGenerator`` and the fakes never leave the device. Called on a batch of real
    images, it returns D's images (the real half first, then as many fakes) and a
    fresh batch of noise for G's step.

    For a conditional G (``num_classes`` given), called on real images and their
    labels, it draws the fakes' labels on the device too, from
    :attr:`class_logits` (uniform until :meth:`GANTrainer.fit` sets the training
    labels' frequencies), and returns D's inputs ``[images, labels]`` and G's
    ``[noise, labels]``.
    """

    def __init__(
        self,
        generator: keras.Model,
        noise: Noise,
        seed: int | None,
        num_classes: int | None = None,
    ):
        super().__init__(name="fake_batch")
        self.generator = generator
        self.noise = noise
        self.noise_dim = generator.inputs[0].shape[-1]
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.num_classes = num_classes
        if num_classes is not None:
            self.label_shape = tuple(generator.inputs[1].shape[1:])
            self.class_logits = self.add_weight(
                shape=(num_classes,),
                initializer="zeros",
                trainable=False,
                name="class_logits",
            )
        self.built = True

    def draw_labels(self, batch_size: Any) -> Any:
        """``batch_size`` class labels drawn from :attr:`class_logits`, as int32."""
        labels = keras.random.categorical(
            ops.expand_dims(self.class_logits, 0),
            batch_size,
            dtype="int32",
            seed=self.seed_generator,
        )
        return ops.reshape(labels, (-1, *self.label_shape))

    def call(self, real_images, real_labels=None, training=True):
        batch_size = ops.shape(real_images)[0]
        noise_for_d = self.noise.sample(
            (batch_size, self.noise_dim), seed=self.seed_generator
        )
        conditional = self.num_classes is not None
        if conditional:
            labels_for_d = self.draw_labels(batch_size)
            fakes = self.generator([noise_for_d, labels_for_d], training=training)
        else:
            fakes = self.generator(noise_for_d, training=training)
        images = ops.concatenate([real_images, ops.cast(fakes, real_images.dtype)])
        noise_for_g = self.noise.sample(
            (batch_size, self.noise_dim), seed=self.seed_generator
        )
        if not conditional:
            return images, noise_for_g
        labels = ops.concatenate([ops.cast(real_labels, "int32"), labels_for_d])
        return [images, labels], [noise_for_g, self.draw_labels(batch_size)]
