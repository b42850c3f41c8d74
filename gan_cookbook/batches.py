"""An epoch's batches, shuffled and gathered on the device.

:meth:`~gan_cookbook.loop.GANTrainer.fit` copies the training images to the device
once; every epoch draws an order there and gathers its batches there, so that no
step copies an image from the host. The batches come stacked, one array of shape
``(steps, batch_size, ...)``: the fused engine runs several steps a call over a slice
of it, and the classic loop takes them one by one (:func:`unstacked`).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def stacked_batches(
    images: Any, batch_size: int, seed: keras.random.SeedGenerator, labels: Any = None
) -> tuple[Any, Any]:
    """An epoch of batches of ``images`` (and of their ``labels``), in an order
    drawn from ``seed``; the images left over are dropped.

    Returns:
        The images' batches, shape ``(steps, batch_size, *image_shape)``, and the
        labels', shape ``(steps, batch_size, *label_shape)`` (``None`` without
        ``labels``).
    """
    count = int(ops.shape(images)[0])
    steps = count // batch_size
    order = keras.random.shuffle(ops.arange(count), seed=seed)
    chosen = order[: steps * batch_size]
    image_batches = ops.reshape(
        ops.take(images, chosen, axis=0),
        (steps, batch_size, *tuple(ops.shape(images)[1:])),
    )
    if labels is None:
        return image_batches, None
    label_batches = ops.reshape(
        ops.take(labels, chosen, axis=0),
        (steps, batch_size, *tuple(ops.shape(labels)[1:])),
    )
    return image_batches, label_batches


def unstacked(image_batches: Any, label_batches: Any = None) -> list:
    """Stacked batches as a list, one step's batch (or ``(images, labels)`` pair)
    each: a step picks its batch from a Python list, as indexing a device array with
    the step number would send that number to the device."""
    steps = int(ops.shape(image_batches)[0])
    images = ops.unstack(image_batches, num=steps, axis=0)
    if label_batches is None:
        return images
    labels = ops.unstack(label_batches, num=steps, axis=0)
    return list(zip(images, labels, strict=True))
