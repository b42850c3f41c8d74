"""The two seed DCGAN architectures and a small fast one, as Keras functional models.

Both generators end in ``tanh`` (images in [-1, 1]) and both discriminators end in a
sigmoid (one probability per image), which is what the loop in :mod:`gan_cookbook.loop`
expects. Every builder takes the image shape, channels included, so a recipe for RGB
data or another size divisible by 4 reuses them unchanged.

Under a mixed precision policy (:func:`precision_scope`) the layers compute in
bfloat16 and keep float32 weights; the final activations stay float32, as Keras' mixed
precision guide advises, so that images and probabilities (and the loss taken on them)
keep their full precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
from keras import layers, ops

from gan_cookbook.checks import check_integer

# Keras dtype policies a run may use (PRECISIONS). "mixed_float16" is left out: it
# needs loss scaling, which the fused engine and the checkpoints do not handle.
from gan_cookbook.choices import PRECISIONS
from gan_cookbook.keras_objects import ClipWeights, MinibatchStandardDeviation
from gan_cookbook.pair import check_num_classes


def check_precision(precision: str) -> str:
    """Returns ``precision`` if it is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"`precision` must be one of {', '.join(PRECISIONS)}. "
            f"Received: precision={precision!r}"
        )
    return precision


def check_precision_on_device(precision: str) -> str:
    """Returns ``precision`` if models of it train on the backend and device Keras
    runs on.

    ``"mixed_bfloat16"`` is refused on PyTorch on the CPU: PyTorch picks its CPU
    bfloat16 convolution kernels by the CPU's instruction set, and where it has no
    oneDNN bfloat16 kernel (a CPU without AVX512-BF16 or AMX) its fallback fails in
    the backward pass ("slow_conv2d: grad_weight must be contiguous") in the first
    step, for the cooking models though not for the quick ones. As that depends on
    the machine and the layers, it is refused on every CPU, before anything is
    built.

    Raises:
        ValueError: ``precision`` is not one of :data:`PRECISIONS`, or is
            ``"mixed_bfloat16"`` on PyTorch on the CPU.
    """
    check_precision(precision)
    if precision == "mixed_bfloat16" and keras.backend.backend() == "torch":
        # Where Keras puts its tensors: a CUDA GPU when there is one, or the device
        # KERAS_TORCH_DEVICE names.
        device = ops.zeros(()).device.type
        if device == "cpu":
            raise ValueError(
                "`precision` mixed_bfloat16 does not train on Keras' torch backend "
                "on the cpu device: PyTorch's bfloat16 convolutions on a CPU can "
                "fail in the backward pass. Use precision='float32', or another "
                "backend on the CPU (KERAS_BACKEND=tensorflow or jax), or PyTorch "
                "on a CUDA GPU. Received: precision='mixed_bfloat16'"
            )
    return precision


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[None]:
    """Builds the models made inside it with the Keras dtype policy ``precision``.

    Keras reads the global policy when a layer is created, so models built in the
    scope keep it; the previous policy is restored on leaving, so that models built
    later (the evaluation classifier, a user's own) are unaffected.

    Args:
        precision: ``"float32"`` or ``"mixed_bfloat16"`` (bfloat16 arithmetic,
            float32 weights).

    Raises:
        ValueError: ``precision`` is not one of :data:`PRECISIONS`, or does not
            train on this backend and device (:func:`check_precision_on_device`).
    """
    check_precision_on_device(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _check_image_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    image_shape = tuple(int(size) for size in image_shape)
    if len(image_shape) != 3 or any(size <= 0 for size in image_shape):
        raise ValueError(
            "`image_shape` must be (height, width, channels) with positive sizes. "
            f"Received: image_shape={image_shape}"
        )
    height, width, _ = image_shape
    if height % 4 or width % 4:
        # Both generators upsample twice by 2 from a (height/4, width/4) seed.
        raise ValueError(
            "`image_shape` height and width must be divisible by 4. "
            f"Received: image_shape={image_shape}"
        )
    return image_shape


def cooking_generator(
    noise_dim: int = 10, image_shape: tuple[int, int, int] = (28, 28, 1)
) -> keras.Model:
    """Generator of the "3 minutes for cooking DCGAN" seed.

    Dense(128*h/4*w/4) -> BatchNorm -> LeakyReLU(0.2) -> Reshape -> Conv2DTranspose(64,
    2x2, stride 2) -> Conv2D(64, 3x3) -> BatchNorm -> ReLU -> Conv2DTranspose(64, 2x2,
    stride 2) -> Conv2D(channels, 5x5) -> tanh.
    """
    noise_dim = check_integer("noise_dim", noise_dim)
    image_shape = _check_image_shape(image_shape)
    noise = keras.Input(shape=(noise_dim,), name="noise")
    images = _cooking_generator_layers(noise, image_shape)
    return keras.Model(noise, images, name="cooking_generator")


def _cooking_generator_layers(x, image_shape: tuple[int, int, int]):
    height, width, channels = image_shape
    seed_shape = (height // 4, width // 4, 128)
    x = layers.Dense(seed_shape[0] * seed_shape[1] * seed_shape[2])(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Reshape(seed_shape)(x)
    x = layers.Conv2DTranspose(64, 2, strides=2, padding="same")(x)
    x = layers.Conv2D(64, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2DTranspose(64, 2, strides=2, padding="same")(x)
    x = layers.Conv2D(channels, 5, padding="same")(x)
    return layers.Activation("tanh", dtype="float32")(x)


def cooking_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    activation: str = "sigmoid",
) -> keras.Model:
    """Discriminator of the "3 minutes for cooking DCGAN" seed.

    Conv2D(64, 5x5) -> LeakyReLU(0.2) -> MaxPool(2) -> Conv2D(128, 5x5) ->
    LeakyReLU(0.2) -> MaxPool(2) -> Flatten -> Dense(1) -> sigmoid, or
    ``activation="linear"`` for the score of the least-squares, hinge and
    Wasserstein objectives (:mod:`gan_cookbook.objectives`).
    """
    image_shape = _check_image_shape(image_shape)
    images = keras.Input(shape=image_shape, name="images")
    x = layers.Dense(1)(_cooking_features(images))
    output = layers.Activation(_check_activation(activation), dtype="float32")(x)
    return keras.Model(images, output, name="cooking_discriminator")


def _cooking_features(images):
    x = layers.Conv2D(64, 5, padding="same")(images)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(128, 5, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.MaxPooling2D(2)(x)
    return layers.Flatten()(x)


def conditional_cooking_generator(
    noise_dim: int = 10,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    embedding_dim: int = 10,
) -> keras.Model:
    """The cooking generator, told which class to draw: ``[noise, label] -> images``.

    The label (an integer, shape ``(batch,)``) is embedded in ``embedding_dim``
    numbers and joined to the noise (Mirza and Osindero, 2014); the layers after
    that are :func:`cooking_generator`'s.
    """
    image_shape = _check_image_shape(image_shape)
    noise, label, x = _noise_and_label(noise_dim, num_classes, embedding_dim)
    images = _cooking_generator_layers(x, image_shape)
    return keras.Model([noise, label], images, name="conditional_cooking_generator")


def _projection_logit(features, label, num_classes: int):
    """A projection discriminator's logit (Miyato and Koyama, 2018):
    ``Dense(1)(features) + embedding(label) . features``."""
    embedded = layers.Embedding(
        num_classes, features.shape[-1], name="label_embedding"
    )(label)
    projected = layers.Dot(axes=1)([features, embedded])
    return layers.Add()([layers.Dense(1)(features), projected])


def _noise_and_label(noise_dim: int, num_classes: int, embedding_dim: int):
    """A conditional G's two inputs, and the noise joined to the label's embedding
    (Mirza and Osindero, 2014)."""
    noise_dim = check_integer("noise_dim", noise_dim)
    num_classes = check_num_classes(num_classes, conditional=True)
    noise = keras.Input(shape=(noise_dim,), name="noise")
    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(
        label
    )
    return noise, label, layers.Concatenate()([noise, embedded])


CONDITIONINGS = ("projection", "channels", "multiply")
"""How :func:`conditional_cooking_discriminator` takes the label in."""


def conditional_cooking_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    conditioning: str = "projection",
) -> keras.Model:
    """The cooking discriminator, judging an image as one of a class:
    ``[images, label] -> probability``.

    Args:
        image_shape: ``(height, width, channels)``.
        num_classes: The number of classes.
        conditioning: How the label comes in. ``"projection"`` (the default;
            Miyato and Koyama, 2018): the logit is ``Dense(1)(features) +
            embedding(label) . features``, on the cooking D's flattened features.
            ``"channels"`` (keras-io's conditional GAN): the one-hot label, as
            ``num_classes`` constant channels, concatenated to the image.
            ``"multiply"`` (Keras-GAN's CGAN): the image multiplied by an embedding
            of the label of the image's shape.
    """
    image_shape = _check_image_shape(image_shape)
    num_classes = check_num_classes(num_classes, conditional=True)
    if conditioning not in CONDITIONINGS:
        raise ValueError(
            f"`conditioning` must be one of {', '.join(CONDITIONINGS)}. "
            f"Received: conditioning={conditioning!r}"
        )
    height, width, channels = image_shape
    images = keras.Input(shape=image_shape, name="images")
    label = keras.Input(shape=(), dtype="int32", name="label")
    if conditioning == "projection":
        x = _projection_logit(_cooking_features(images), label, num_classes)
    else:
        if conditioning == "channels":
            one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot")(
                layers.Reshape((1,))(label)
            )
            planes = layers.UpSampling2D((height, width))(
                layers.Reshape((1, 1, num_classes))(one_hot)
            )
            joined = layers.Concatenate()([images, planes])
        else:
            embedded = layers.Embedding(
                num_classes, height * width * channels, name="label_embedding"
            )(label)
            joined = layers.Multiply()([images, layers.Reshape(image_shape)(embedded)])
        x = layers.Dense(1)(_cooking_features(joined))
    probability = layers.Activation("sigmoid", dtype="float32")(x)
    return keras.Model(
        [images, label], probability, name="conditional_cooking_discriminator"
    )


def quick_generator(
    noise_dim: int = 32,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 32,
) -> keras.Model:
    """A small, fast DCGAN generator for the five-minute recipe.

    Dense(2*filters*h/4*w/4) -> BatchNorm -> LeakyReLU(0.2) -> Reshape ->
    Conv2DTranspose(filters, 4x4, stride 2) -> BatchNorm -> LeakyReLU(0.2) ->
    Conv2DTranspose(channels, 4x4, stride 2) -> tanh. Each upsampling is one strided
    transposed convolution (DCGAN's), with no full-resolution convolution after it:
    about 3.5 MFLOP an image with 32 filters, some thirty times less than the
    cooking generator.
    """
    return _quick_generator(noise_dim, image_shape, filters, "quick_generator")


def refined_quick_generator(
    noise_dim: int = 32,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 32,
) -> keras.Model:
    """:func:`quick_generator` with one Conv2D(filters, 3x3) -> BatchNorm ->
    LeakyReLU(0.2) at half resolution, between its two upsamplings: about 3.6 MFLOP
    an image more with 32 filters, none at full resolution (measured in
    ``gan_cookbook/recipes/mnist_quick.py``)."""
    return _quick_generator(
        noise_dim, image_shape, filters, "refined_quick_generator", refine=True
    )


def _quick_generator(
    noise_dim: int,
    image_shape: tuple[int, int, int],
    filters: int,
    name: str,
    refine: bool = False,
) -> keras.Model:
    noise_dim = check_integer("noise_dim", noise_dim)
    image_shape = _check_image_shape(image_shape)
    noise = keras.Input(shape=(noise_dim,), name="noise")
    images = _quick_generator_layers(noise, image_shape, filters, refine)
    return keras.Model(noise, images, name=name)


def _quick_generator_layers(
    x, image_shape: tuple[int, int, int], filters: int, refine: bool = False
):
    height, width, channels = image_shape
    seed_shape = (height // 4, width // 4, 2 * filters)
    x = layers.Dense(seed_shape[0] * seed_shape[1] * seed_shape[2])(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Reshape(seed_shape)(x)
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    if refine:
        x = layers.Conv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same")(x)
    return layers.Activation("tanh", dtype="float32")(x)


def quick_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 32,
    minibatch_group_size: int | None = None,
    activation: str = "sigmoid",
    weight_clip: float | None = None,
) -> keras.Model:
    """A small, fast DCGAN discriminator for the five-minute recipe.

    Conv2D(filters, 4x4, stride 2) -> LeakyReLU(0.2) -> Conv2D(2*filters, 4x4,
    stride 2) -> LeakyReLU(0.2) -> Flatten -> Dense(1) -> sigmoid. Strided
    convolutions instead of the cooking D's full-resolution ones and pooling: about
    3.5 MFLOP an image with 32 filters.

    Args:
        image_shape: ``(height, width, channels)``, height and width divisible by 4.
            Defaults to ``(28, 28, 1)``.
        filters: The first convolution's filters (the second has twice as many).
            Defaults to 32.
        minibatch_group_size: When set, a :class:`MinibatchStandardDeviation`
            feature over groups of this many images comes before ``Flatten``.
            Defaults to ``None`` (no such feature).
        activation: The output's activation: ``"sigmoid"`` (the default) for a
            probability, ``"linear"`` for the score of the least-squares, hinge
            and Wasserstein objectives (:mod:`gan_cookbook.objectives`).
        weight_clip: When set, every weight is kept within ``[-weight_clip,
            weight_clip]`` after each of D's updates (:class:`ClipWeights`, a WGAN
            critic's 0.01). Defaults to ``None``.
    """
    image_shape = _check_image_shape(image_shape)
    if minibatch_group_size is not None:
        check_integer("minibatch_group_size", minibatch_group_size, minimum=2)
    constraints = _clipped(weight_clip)
    images = keras.Input(shape=image_shape, name="images")
    features = _quick_features(images, filters, minibatch_group_size, constraints)
    x = layers.Dense(1, **constraints)(features)
    output = layers.Activation(_check_activation(activation), dtype="float32")(x)
    return keras.Model(images, output, name="quick_discriminator")


def _check_activation(activation: str) -> str:
    if activation not in ("sigmoid", "linear"):
        raise ValueError(
            "`activation` must be 'sigmoid' (a probability) or 'linear' (a score). "
            f"Received: activation={activation!r}"
        )
    return activation


def _clipped(weight_clip: float | None) -> dict[str, ClipWeights]:
    """The constraint arguments of a layer whose weights are clipped, if any."""
    if weight_clip is None:
        return {}
    clip = ClipWeights(weight_clip)
    return {"kernel_constraint": clip, "bias_constraint": clip}


def auxiliary_quick_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    filters: int = 32,
    minibatch_group_size: int | None = None,
) -> keras.Model:
    """:func:`quick_discriminator` with a class head: an auxiliary classifier
    (ACGAN, Odena et al. 2017), ``images -> [validity, classes]``.

    Both heads read the same flattened features: ``validity`` is
    ``Dense(1) -> sigmoid``, the probability that the image is real; ``class`` is
    ``Dense(num_classes) -> softmax``, the probabilities of its class.
    """
    image_shape = _check_image_shape(image_shape)
    num_classes = check_num_classes(num_classes, conditional=True)
    if minibatch_group_size is not None:
        check_integer("minibatch_group_size", minibatch_group_size, minimum=2)
    images = keras.Input(shape=image_shape, name="images")
    features = _quick_features(images, filters, minibatch_group_size)
    validity = layers.Activation("sigmoid", dtype="float32", name="validity")(
        layers.Dense(1)(features)
    )
    classes = layers.Activation("softmax", dtype="float32", name="class")(
        layers.Dense(num_classes)(features)
    )
    return keras.Model(
        images, [validity, classes], name="auxiliary_quick_discriminator"
    )


def _quick_features(
    images,
    filters: int,
    minibatch_group_size: int | None = None,
    constraints: dict | None = None,
):
    x = images
    for width in (filters, 2 * filters):
        x = layers.Conv2D(width, 4, strides=2, padding="same", **(constraints or {}))(x)
        x = layers.LeakyReLU(negative_slope=0.2)(x)
    if minibatch_group_size is not None:
        x = MinibatchStandardDeviation(group_size=minibatch_group_size)(x)
    return layers.Flatten()(x)


def conditional_quick_generator(
    noise_dim: int = 32,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    embedding_dim: int = 10,
    filters: int = 32,
) -> keras.Model:
    """:func:`quick_generator`, told which class to draw: ``[noise, label] ->
    images``, the label embedded in ``embedding_dim`` numbers and joined to the
    noise, as in :func:`conditional_cooking_generator`."""
    image_shape = _check_image_shape(image_shape)
    noise, label, x = _noise_and_label(noise_dim, num_classes, embedding_dim)
    images = _quick_generator_layers(x, image_shape, filters)
    return keras.Model([noise, label], images, name="conditional_quick_generator")


def conditional_quick_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    filters: int = 32,
) -> keras.Model:
    """:func:`quick_discriminator` judging an image as one of a class: ``[images,
    label] -> probability``, a projection discriminator on its flattened features
    (the conditioning measured best for the cooking D: docs/conditional.md)."""
    image_shape = _check_image_shape(image_shape)
    num_classes = check_num_classes(num_classes, conditional=True)
    images = keras.Input(shape=image_shape, name="images")
    label = keras.Input(shape=(), dtype="int32", name="label")
    x = _projection_logit(_quick_features(images, filters), label, num_classes)
    probability = layers.Activation("sigmoid", dtype="float32")(x)
    return keras.Model(
        [images, label], probability, name="conditional_quick_discriminator"
    )


def tutorial_generator(
    noise_dim: int = 100, image_shape: tuple[int, int, int] = (28, 28, 1)
) -> keras.Model:
    """Generator of the TensorFlow DCGAN tutorial ("DCGAN Implementation in Keras").

    Dense(h/4*w/4*256, no bias) -> BatchNorm -> LeakyReLU -> Reshape ->
    Conv2DTranspose(128, 5x5, stride 1) -> BatchNorm -> LeakyReLU ->
    Conv2DTranspose(64, 5x5, stride 2) -> BatchNorm -> LeakyReLU ->
    Conv2DTranspose(channels, 5x5, stride 2) -> tanh; no biases after the Dense.
    """
    noise_dim = check_integer("noise_dim", noise_dim)
    height, width, channels = _check_image_shape(image_shape)
    seed_shape = (height // 4, width // 4, 256)
    noise = keras.Input(shape=(noise_dim,), name="noise")
    x = layers.Dense(seed_shape[0] * seed_shape[1] * seed_shape[2], use_bias=False)(
        noise
    )
    x = layers.BatchNormalization()(x)
    # The tutorial uses Keras' LeakyReLU default; Keras 3 changed that default from
    # 0.3 to 0.2, so the tutorial's slope is written out.
    x = layers.LeakyReLU(negative_slope=0.3)(x)
    x = layers.Reshape(seed_shape)(x)
    for filters, strides in ((128, 1), (64, 2)):
        x = layers.Conv2DTranspose(
            filters, 5, strides=strides, padding="same", use_bias=False
        )(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(negative_slope=0.3)(x)
    x = layers.Conv2DTranspose(channels, 5, strides=2, padding="same", use_bias=False)(
        x
    )
    images = layers.Activation("tanh", dtype="float32")(x)
    return keras.Model(noise, images, name="tutorial_generator")


def tutorial_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1),
) -> keras.Model:
    """Discriminator of the TensorFlow DCGAN tutorial, ending in a sigmoid.

    Conv2D(64, 5x5, stride 2) -> LeakyReLU -> Dropout(0.3) -> Conv2D(128, 5x5,
    stride 2) -> LeakyReLU -> Dropout(0.3) -> Flatten -> Dense(1) -> sigmoid.
    The tutorial's D returns logits for a from-logits loss; this project's D returns
    a probability so that every recipe shares one loss and one loop.
    """
    image_shape = _check_image_shape(image_shape)
    images = keras.Input(shape=image_shape, name="images")
    x = images
    for filters in (64, 128):
        x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
        x = layers.LeakyReLU(negative_slope=0.3)(x)
        x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(1)(x)
    probability = layers.Activation("sigmoid", dtype="float32")(x)
    return keras.Model(images, probability, name="tutorial_discriminator")
