"""The averaged generator: its closed form, its BatchNorm statistics, resume, files.

Runs on every backend (tests/test_backends.py runs it in a process per backend).
"""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from gan_cookbook import recipes
from gan_cookbook.average import (
    AveragedGenerator,
    average_optimizer,
    averaging_decay,
    moving_statistics,
)
from gan_cookbook.cook import cook
from gan_cookbook.gan_model import GANModel, averaged_generator, make_trainer, stack
from gan_cookbook.models import quick_discriminator, quick_generator
from gan_cookbook.noise import Noise
from gan_cookbook.sampling import load_cooked, sample

from conftest import random_images

SMALL = {"limit": 64, "batch_size": 32, "verbose": 0}


def numpy_values(variables):
    return [ops.convert_to_numpy(variable).copy() for variable in variables]


def make_models(decay=None, seed=0, engine="classic"):
    # Small models (BatchNorm in G, as the recipes' generators): the average does not
    # depend on their size.
    keras.utils.set_random_seed(seed)
    generator = quick_generator(10, (28, 28, 1), filters=8)
    discriminator = quick_discriminator((28, 28, 1), filters=8)
    discriminator.compile(
        optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy"
    )
    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    if decay is not None:
        optimizer = average_optimizer(optimizer, decay)
    d_on_g = stack(generator, discriminator, optimizer)
    gan_model = GANModel(generator, discriminator, d_on_g)
    return gan_model, make_trainer(gan_model, Noise(), seed, engine)


def closed_form_check(engine):
    gan_model, trainer = make_models(decay=0.9, engine=engine)
    averaged = averaged_generator(gan_model)
    assert averaged is not None and averaged.decay == pytest.approx(0.9)
    images = random_images(64)
    expected = None
    for start in range(0, 64, 16):
        trainer.train_step(images[start : start + 16])
        weights = numpy_values(gan_model.generator.trainable_variables)
        # Keras' use_ema: the first step's weights, then decay * average + ...
        expected = (
            weights
            if expected is None
            else [
                0.9 * old + 0.1 * new
                for old, new in zip(expected, weights, strict=True)
            ]
        )
    model = averaged.update()
    for got, want in zip(
        numpy_values(model.trainable_variables), expected, strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The average is not the last weights: after four steps they differ.
    assert any(
        not np.allclose(got, last)
        for got, last in zip(
            numpy_values(model.trainable_variables), weights, strict=True
        )
    )


def test_the_average_matches_its_closed_form():
    closed_form_check("classic")


def test_the_fused_engine_keeps_the_same_average():
    if keras.backend.backend() != "jax":
        pytest.skip("the fused engine runs on JAX only")
    closed_form_check("fused")


def test_averaging_does_not_change_training():
    plain, plain_trainer = make_models(decay=None)
    averaging, averaging_trainer = make_models(decay=0.99)
    images = random_images(64)
    for start in range(0, 64, 16):
        plain_logs = plain_trainer.train_step(images[start : start + 16])
        averaging_logs = averaging_trainer.train_step(images[start : start + 16])
        assert plain_logs == averaging_logs
    for model in ("generator", "discriminator"):
        for a, b in zip(
            numpy_values(getattr(plain, model).variables),
            numpy_values(getattr(averaging, model).variables),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    # Refreshing the copy changes nothing in the trained G either.
    before = numpy_values(averaging.generator.variables)
    averaged_generator(averaging).update()
    for a, b in zip(before, numpy_values(averaging.generator.variables), strict=True):
        np.testing.assert_array_equal(a, b)


def test_batchnorm_statistics_are_recomputed_for_the_averaged_weights():
    gan_model, trainer = make_models(decay=0.5)
    trainer.train_step(random_images(32))
    trainer.train_step(random_images(32, seed=1))
    generator, optimizer = gan_model.generator, gan_model.d_on_g.optimizer

    copied = AveragedGenerator(generator, optimizer, batchnorm="copy").update()
    for a, b in zip(
        moving_statistics(copied), moving_statistics(generator), strict=True
    ):
        np.testing.assert_array_equal(a, b)

    averaged = AveragedGenerator(
        generator, optimizer, batchnorm_count=256, seed=3
    ).update()
    # The first BatchNorm normalises the first Dense layer's outputs: its moving
    # statistics must be their mean and variance over the recomputing noise.
    noise = Noise().sample((256, 10), seed=3)
    first_batchnorm = next(
        layer
        for layer in averaged.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    inputs = keras.Model(averaged.inputs, first_batchnorm.input)(noise)
    inputs = ops.convert_to_numpy(inputs).reshape(-1, inputs.shape[-1])
    mean, variance = moving_statistics(averaged)[:2]
    np.testing.assert_allclose(mean, inputs.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(variance, inputs.var(axis=0), rtol=1e-3, atol=1e-5)
    # And those are not the trained G's.
    assert not np.allclose(mean, moving_statistics(generator)[0])
    # The layers keep their own momentum.
    assert first_batchnorm.momentum == pytest.approx(0.99)


def test_two_averaged_epochs_equal_one_then_a_resume(tmp_path):
    mnist = recipes.get("mnist_quick").replace(average=0.9)
    cook(mnist, out=tmp_path / "straight", epochs=2, **SMALL)
    cook(mnist, out=tmp_path / "split", epochs=1, **SMALL)
    cook(mnist, out=tmp_path / "split", epochs=2, resume=True, **SMALL)
    for name in ("generator.keras", "generator_raw.keras"):
        straight = keras.saving.load_model(tmp_path / "straight" / name)
        split = keras.saving.load_model(tmp_path / "split" / name)
        for a, b in zip(
            numpy_values(straight.weights), numpy_values(split.weights), strict=True
        ):
            np.testing.assert_array_equal(a, b)


def test_an_averaged_run_saves_both_generators_and_samples_the_average(tmp_path):
    mnist = recipes.get("mnist_quick").replace(average=0.9)
    result = cook(mnist, out=tmp_path / "run", epochs=1, **SMALL)
    out = Path(result.out)
    averaged = keras.saving.load_model(out / "generator.keras", compile=False)
    raw = keras.saving.load_model(out / "generator_raw.keras", compile=False)
    for a, b in zip(
        numpy_values(raw.weights), numpy_values(result.generator.weights), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        numpy_values(averaged.weights),
        numpy_values(result.averaged_generator.weights),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(
            numpy_values(averaged.weights), numpy_values(raw.weights), strict=True
        )
    )
    cooked = load_cooked(out)
    assert cooked.average == pytest.approx(0.9)
    assert "average" in cooked.description and cooked.raw_path.name == (
        "generator_raw.keras"
    )
    images = sample(cooked, 9)
    assert images.shape == (9, 28, 28, 1) and np.isfinite(images).all()
    assert -1 <= images.min() and images.max() <= 1


def test_a_recipe_without_an_average_saves_one_generator(tmp_path):
    plain = dataclasses.replace(recipes.get("mnist_quick"), average=None)
    result = cook(plain, out=tmp_path / "run", epochs=1, **SMALL)
    assert result.averaged_generator is None
    assert not (tmp_path / "run" / "generator_raw.keras").exists()
    assert load_cooked(tmp_path / "run").raw_path is None


def test_average_optimizer_keeps_the_settings():
    optimizer = average_optimizer(keras.optimizers.Adam(3e-4, beta_1=0.4), 0.995)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert optimizer.get_config()["beta_1"] == pytest.approx(0.4)
    assert float(optimizer.learning_rate) == pytest.approx(3e-4)
    assert averaging_decay(optimizer) == pytest.approx(0.995)
    assert averaging_decay(keras.optimizers.Adam()) is None


@pytest.mark.parametrize("decay", [0, 1, 1.5, -0.1, True, "0.9"])
def test_a_bad_decay_names_the_argument(decay):
    with pytest.raises(ValueError, match=r"`decay` must be a number in \(0, 1\)"):
        average_optimizer(keras.optimizers.Adam(), decay)
    with pytest.raises(ValueError, match=r"`average` must be .*Received: average="):
        recipes.get("mnist").replace(average=decay)


def test_an_optimizer_without_an_average_is_refused():
    gan_model, _ = make_models(decay=None)
    assert averaged_generator(gan_model) is None
    with pytest.raises(ValueError, match="`optimizer` keeps no average"):
        AveragedGenerator(gan_model.generator, gan_model.d_on_g.optimizer)
