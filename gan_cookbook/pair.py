"""A generator and a discriminator as the loop trains them, and what they train on.

The checks that the loop (:mod:`gan_cookbook.loop`), the stacking of the models
(:func:`gan_cookbook.gan_model.stack`) and the conditional builders
(:mod:`gan_cookbook.models`) share: whether G and D are a conditional pair, its number
of classes, and images and labels that fit the pair.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from gan_cookbook.checks import check_integer


def is_auxiliary_classifier(generator: keras.Model, discriminator: keras.Model) -> bool:
    """Whether D is an auxiliary classifier (ACGAN, Odena et al. 2017): G takes
    noise and labels, D takes images only and outputs ``[validity, classes]``."""
    return (
        len(generator.inputs) == 2
        and len(discriminator.inputs) == 1
        and len(discriminator.outputs) == 2
    )


def check_pair(generator: keras.Model, discriminator: keras.Model) -> bool:
    """Whether G and D are a conditional pair: both take labels as their second
    input, of one shape, or G does and D is an auxiliary classifier
    (:func:`is_auxiliary_classifier`). ``ValueError`` for any other mix."""
    inputs = len(generator.inputs), len(discriminator.inputs)
    if inputs == (1, 1):
        return False
    if is_auxiliary_classifier(generator, discriminator):
        return True
    if inputs != (2, 2):
        raise ValueError(
            "The generator and the discriminator must both take one input (noise; "
            "images) or both two (noise and labels; images and labels), or the "
            "generator two and the discriminator one with two outputs (validity and "
            "class probabilities: an auxiliary classifier). "
            f"Received: generator inputs {[tuple(i.shape) for i in generator.inputs]}, "
            "discriminator inputs "
            f"{[tuple(i.shape) for i in discriminator.inputs]}, "
            f"{len(discriminator.outputs)} output(s)"
        )
    g_labels, d_labels = generator.inputs[1], discriminator.inputs[1]
    if tuple(g_labels.shape[1:]) != tuple(d_labels.shape[1:]):
        raise ValueError(
            "The generator's and the discriminator's label inputs must have one shape. "
            f"Received: generator labels {tuple(g_labels.shape)}, discriminator "
            f"labels {tuple(d_labels.shape)}"
        )
    return True


def check_outputs(
    discriminator: keras.Model, probability: bool, num_classes: int | None
) -> None:
    """Raises ``ValueError`` unless D outputs one probability (or score, when
    ``probability`` is false) per image, and an auxiliary classifier's D (two
    outputs) the probabilities of ``num_classes`` classes too."""
    shapes = [tuple(output.shape) for output in discriminator.outputs]
    if len(shapes[0]) not in (1, 2) or shapes[0][1:] not in ((), (1,)):
        raise ValueError(
            "The discriminator must output one "
            f"{'probability' if probability else 'score'} per image, shape "
            f"(batch, 1). Received: discriminator output {shapes[0]}"
        )
    if len(shapes) == 2 and shapes[1][1:] != (num_classes,):
        raise ValueError(
            "An auxiliary classifier's second output is the class probabilities, "
            f"shape (batch, num_classes) = (batch, {num_classes}). "
            f"Received: discriminator outputs {shapes}"
        )


def check_num_classes(num_classes: int | None, conditional: bool) -> int | None:
    """Returns ``num_classes`` if it fits the pair: a count of at least 2 for a
    conditional pair, ``None`` for one that takes no labels."""
    if not conditional:
        if num_classes is not None:
            raise ValueError(
                "`num_classes` is for a conditional pair (G and D taking labels); "
                "this generator and discriminator take none. "
                f"Received: num_classes={num_classes!r}"
            )
        return None
    if num_classes is None:
        raise ValueError(
            "A conditional pair (G and D taking labels) needs `num_classes`, the "
            "number of classes, at least 2. Received: num_classes=None"
        )
    return check_integer("num_classes", num_classes, minimum=2)


def check_images(
    images: Any, generator: keras.Model, discriminator: keras.Model
) -> None:
    """Raises ``ValueError`` unless ``images`` fit G's output and D's input and
    are float in [-1, 1], the range of G's ``tanh``."""
    shape = tuple(ops.shape(images)[1:])
    if shape != tuple(generator.output_shape[1:]):
        raise ValueError(
            f"The generator's output shape {generator.output_shape} must "
            f"match the images' shape (batch, *{shape}). "
            f"Received: images of shape {tuple(ops.shape(images))}"
        )
    if tuple(discriminator.inputs[0].shape[1:]) != shape:
        raise ValueError(
            f"The discriminator's input shape {discriminator.input_shape} "
            f"must match the images' shape (batch, *{shape}). "
            f"Received: images of shape {tuple(ops.shape(images))}"
        )
    dtype = keras.backend.standardize_dtype(images.dtype)
    if not dtype.startswith(("float", "bfloat")):
        raise ValueError(
            "`x` must hold float images in [-1, 1], the range of the generator's "
            "tanh (uint8 pixels: x / 127.5 - 1). "
            f"Received: x of dtype {dtype}"
        )
    low, high = float(ops.min(images)), float(ops.max(images))
    if not (-1 <= low and high <= 1):
        raise ValueError(
            "`x` must hold float images in [-1, 1], the range of the generator's "
            "tanh (images in [0, 1]: x * 2 - 1). "
            f"Received: x with values from {low} to {high}"
        )


def check_labels(
    y: Any, count: int, num_classes: int | None, label_shape: tuple[int, ...] = ()
) -> np.ndarray | None:
    """``y`` as int32 class labels of ``label_shape`` (the label inputs' shape), after
    checking that it fits a pair of ``num_classes`` classes and ``count`` images;
    ``None`` for a pair that takes no labels (``num_classes=None``)."""
    if num_classes is None:
        if y is not None:
            raise ValueError(
                "`y` is for a conditional pair (G and D taking labels); this "
                "generator and discriminator take none. "
                f"Received: y of shape {tuple(np.shape(y))}"
            )
        return None
    if y is None:
        raise ValueError(
            "A conditional pair trains on images and their labels: give `y`, "
            "one class label per image. Received: y=None"
        )
    labels = np.asarray(ops.convert_to_numpy(y))
    if labels.shape[1:] == (1,):
        labels = labels[:, 0]
    if labels.shape != (count,):
        raise ValueError(
            f"`y` must hold one class label per image, shape ({count},) for the "
            f"{count} images of `x`. Received: y of shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"`y` must hold integer class labels. Received: y of dtype {labels.dtype}"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"`y` must hold class labels from 0 to {num_classes - 1} "
            f"(num_classes={num_classes}). "
            f"Received: y with labels from {low} to {high}"
        )
    return labels.astype("int32").reshape((count, *label_shape))
