import math
import re

import keras
import numpy as np
import pytest

from gan_cookbook.keras_objects import MinibatchStandardDeviation
from gan_cookbook.models import (
    cooking_discriminator,
    cooking_generator,
    precision_scope,
    quick_discriminator,
    quick_generator,
    refined_quick_generator,
    tutorial_discriminator,
    tutorial_generator,
)

# Parameter counts in closed form, layer by layer (BatchNorm: 4 per feature, of which
# the 2 moving statistics are not trainable).
COOKING_G = (
    (10 * 6272 + 6272)  # Dense 128*7*7
    + 4 * 6272  # BatchNorm
    + (2 * 2 * 128 * 64 + 64)  # Conv2DTranspose 64, 2x2
    + (3 * 3 * 64 * 64 + 64)  # Conv2D 64, 3x3
    + 4 * 64  # BatchNorm
    + (2 * 2 * 64 * 64 + 64)  # Conv2DTranspose 64, 2x2
)
COOKING_D_CONV = (5 * 5 * 64 + 64) + (5 * 5 * 64 * 128 + 128)
TUTORIAL_G = (
    100 * 12544  # Dense 7*7*256, no bias
    + 4 * 12544  # BatchNorm
    + 5 * 5 * 256 * 128  # Conv2DTranspose 128, no bias
    + 4 * 128
    + 5 * 5 * 128 * 64  # Conv2DTranspose 64, no bias
    + 4 * 64
)


@pytest.mark.parametrize("channels", [1, 3])
def test_cooking_generator(channels):
    model = cooking_generator(10, (28, 28, channels))
    assert model.input_shape == (None, 10)
    assert model.output_shape == (None, 28, 28, channels)
    assert model.count_params() == COOKING_G + (5 * 5 * 64 * channels + channels)
    non_trainable = 2 * 6272 + 2 * 64
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    assert trainable == model.count_params() - non_trainable
    shapes = [tuple(layer.output.shape) for layer in model.layers[1:]]
    assert shapes == [
        (None, 6272), (None, 6272), (None, 6272), (None, 7, 7, 128),
        (None, 14, 14, 64), (None, 14, 14, 64), (None, 14, 14, 64), (None, 14, 14, 64),
        (None, 28, 28, 64), (None, 28, 28, channels), (None, 28, 28, channels),
    ]  # fmt: skip


@pytest.mark.parametrize("channels", [1, 3])
def test_cooking_discriminator(channels):
    model = cooking_discriminator((28, 28, channels))
    assert model.output_shape == (None, 1)
    conv = (5 * 5 * channels * 64 + 64) + (5 * 5 * 64 * 128 + 128)
    assert model.count_params() == conv + (6272 + 1)
    shapes = [tuple(layer.output.shape) for layer in model.layers[1:]]
    assert shapes == [
        (None, 28, 28, 64), (None, 28, 28, 64), (None, 14, 14, 64),
        (None, 14, 14, 128), (None, 14, 14, 128), (None, 7, 7, 128),
        (None, 6272), (None, 1), (None, 1),
    ]  # fmt: skip
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


@pytest.mark.parametrize("channels", [1, 3])
def test_refined_quick_generator_adds_one_half_resolution_convolution(channels):
    plain = quick_generator(32, (28, 28, channels))
    model = refined_quick_generator(32, (28, 28, channels))
    assert model.output_shape == (None, 28, 28, channels)
    # Conv2D 32 -> 32, 3x3, and its BatchNorm (4 per feature, 2 of them trainable).
    added = (3 * 3 * 32 * 32 + 32) + 4 * 32
    assert model.count_params() == plain.count_params() + added
    (convolution,) = [
        layer for layer in model.layers if type(layer).__name__ == "Conv2D"
    ]
    assert convolution.output.shape[1:] == (14, 14, 32)


def minibatch_feature(images: np.ndarray, group: int) -> np.ndarray:
    """The closed form: each group's per-feature standard deviation, averaged."""
    groups = images.reshape(-1, group, *images.shape[1:])
    deviation = np.sqrt(groups.var(axis=1) + 1e-8).mean(axis=(1, 2, 3))
    return np.repeat(deviation, group)


@pytest.mark.parametrize("count, group", [(8, 4), (6, 2)], ids=["4", "gcd 2"])
def test_minibatch_standard_deviation_matches_its_closed_form(count, group):
    images = np.random.default_rng(0).normal(size=(count, 3, 3, 2)).astype("float32")
    output = keras.ops.convert_to_numpy(MinibatchStandardDeviation(4)(images))
    assert output.shape == (count, 3, 3, 3)
    np.testing.assert_array_equal(output[..., :2], images)
    expected = minibatch_feature(images, group)
    for index in range(count):
        np.testing.assert_allclose(output[index, ..., 2], expected[index], rtol=1e-5)
    # Identical images within a group give (almost) no deviation.
    same = np.repeat(images[:1], count, axis=0)
    feature = keras.ops.convert_to_numpy(MinibatchStandardDeviation(4)(same))
    np.testing.assert_allclose(feature[..., 2], 1e-4, rtol=1e-3)


def test_minibatch_groups_keep_real_and_fake_apart():
    # The loop stacks D's batch as reals, then as many fakes: with a batch of 8 and
    # groups of 4, new fakes must not change what D computes for the reals.
    model = quick_discriminator((28, 28, 1), filters=4, minibatch_group_size=4)
    rng = np.random.default_rng(1)
    reals = rng.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    fakes = [rng.uniform(-1, 1, (8, 28, 28, 1)).astype("float32") for _ in range(2)]
    first, second = (
        keras.ops.convert_to_numpy(model(np.concatenate([reals, fake])))
        for fake in fakes
    )
    np.testing.assert_array_equal(first[:8], second[:8])
    assert not np.allclose(first[8:], second[8:])


def test_quick_discriminator_with_minibatch_feature_saves_and_loads(tmp_path):
    plain = quick_discriminator((28, 28, 1), filters=4)
    model = quick_discriminator((28, 28, 1), filters=4, minibatch_group_size=4)
    # Only the Dense layer grows: one input per position of the added channel.
    assert model.count_params() == plain.count_params() + 7 * 7
    images = np.random.default_rng(2).uniform(-1, 1, (8, 28, 28, 1))
    model.save(tmp_path / "discriminator.keras")
    loaded = keras.saving.load_model(tmp_path / "discriminator.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images)),
        keras.ops.convert_to_numpy(model(images)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("value", [1, 2.5, True, "4"])
def test_minibatch_group_size_must_be_an_integer_of_at_least_2(value):
    received = re.escape(f"={value!r}")
    with pytest.raises(ValueError, match=f"Received: minibatch_group_size{received}"):
        quick_discriminator(minibatch_group_size=value)
    with pytest.raises(ValueError, match=f"Received: group_size{received}"):
        MinibatchStandardDeviation(value)


@pytest.mark.parametrize("channels", [1, 3])
def test_tutorial_generator(channels):
    model = tutorial_generator(100, (28, 28, channels))
    assert model.output_shape == (None, 28, 28, channels)
    assert model.count_params() == TUTORIAL_G + 5 * 5 * 64 * channels
    assert all("bias" not in weight.path for weight in model.weights)
    shapes = [tuple(layer.output.shape) for layer in model.layers[1:]]
    assert shapes == [
        (None, 12544), (None, 12544), (None, 12544), (None, 7, 7, 256),
        (None, 7, 7, 128), (None, 7, 7, 128), (None, 7, 7, 128),
        (None, 14, 14, 64), (None, 14, 14, 64), (None, 14, 14, 64),
        (None, 28, 28, channels), (None, 28, 28, channels),
    ]  # fmt: skip


@pytest.mark.parametrize("channels", [1, 3])
def test_tutorial_discriminator(channels):
    model = tutorial_discriminator((28, 28, channels))
    assert model.output_shape == (None, 1)
    conv = (5 * 5 * channels * 64 + 64) + (5 * 5 * 64 * 128 + 128)
    assert model.count_params() == conv + (6272 + 1)
    assert [layer.__class__.__name__ for layer in model.layers].count("Dropout") == 2
    assert all(
        layer.rate == 0.3
        for layer in model.layers
        if layer.__class__.__name__ == "Dropout"
    )
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


@pytest.mark.parametrize(
    "build", [cooking_generator, tutorial_generator], ids=["cooking", "tutorial"]
)
def test_generators_reject_bad_arguments(build):
    with pytest.raises(
        ValueError, match=r"image_shape.*Received: image_shape=\(30, 30, 1\)"
    ):
        build(10, (30, 30, 1))
    with pytest.raises(ValueError, match="Received: noise_dim=0"):
        build(0, (28, 28, 1))


def test_discriminator_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"Received: image_shape=\(28, 28\)"):
        cooking_discriminator((28, 28))


@pytest.mark.parametrize(
    "build",
    [
        lambda: cooking_generator(10),
        lambda: cooking_discriminator(),
        lambda: tutorial_generator(100),
        lambda: tutorial_discriminator(),
    ],
    ids=["cooking G", "cooking D", "tutorial G", "tutorial D"],
)
def test_mixed_bfloat16_computes_in_bfloat16_and_ends_in_float32(build):
    with precision_scope("mixed_bfloat16"):
        model = build()
    assert keras.config.dtype_policy().name == "float32"  # restored
    *hidden, last = [layer for layer in model.layers[1:]]
    assert {layer.compute_dtype for layer in hidden} == {"bfloat16"}
    assert last.compute_dtype == "float32"
    assert {variable.dtype for variable in model.weights} == {"float32"}
    output = model(keras.random.uniform((2, *model.input_shape[1:])))
    assert keras.backend.standardize_dtype(output.dtype) == "float32"


def test_precision_scope_restores_the_policy_and_checks_its_name():
    with pytest.raises(RuntimeError), precision_scope("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        raise RuntimeError("a builder failed")
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="Received: precision='bfloat16'"):
        with precision_scope("bfloat16"):
            pass
