"""Learning rates that fall linearly to 0 at a run's last step.

Runs on every backend (tests/test_backends.py runs it in a process per backend).
"""

import keras
import numpy as np
import pytest
from keras import ops

from gan_cookbook import recipes
from gan_cookbook.cook import cook, prepare
from gan_cookbook.gan_model import build_gan_model, make_trainer
from gan_cookbook.schedule import decaying_optimizer

from conftest import StopAt, random_images

SMALL = {"limit": 64, "batch_size": 32, "verbose": 0}
# 64 images in batches of 32: two steps an epoch.
STEPS_PER_EPOCH = 2


def decaying_recipe():
    return recipes.get("mnist_quick").replace(learning_rate_decay="linear")


def rate(optimizer):
    return float(ops.convert_to_numpy(optimizer.learning_rate))


def trainable_values(model):
    return [ops.convert_to_numpy(v).copy() for v in model.trainable_variables]


@pytest.mark.parametrize("engine", ["classic", "fused"])
def test_both_rates_fall_linearly_to_zero_then_nothing_trains(engine):
    if engine == "fused" and keras.backend.backend() != "jax":
        pytest.skip("the fused engine runs on JAX only")
    recipe = decaying_recipe()
    start = {
        "discriminator": float(recipe.discriminator_optimizer().learning_rate),
        "d_on_g": float(recipe.generator_optimizer().learning_rate),
    }
    gan_model = build_gan_model(recipe, steps=4)
    trainer = make_trainer(gan_model, recipe.noise, recipe.seed, engine)
    images = random_images(32)
    for step in range(1, 5):
        trainer.train_step(images)
        for model, first in start.items():
            optimizer = getattr(gan_model, model).optimizer
            assert int(ops.convert_to_numpy(optimizer.iterations)) == step
            # PolynomialDecay of power 1: rate * (1 - step / steps).
            assert rate(optimizer) == pytest.approx(first * (1 - step / 4), rel=1e-5)
    assert rate(gan_model.discriminator.optimizer) == 0.0
    assert rate(gan_model.d_on_g.optimizer) == 0.0
    # Past the run's end the rate stays 0: no weight moves.
    before = {
        name: trainable_values(getattr(gan_model, name))
        for name in ("generator", "discriminator")
    }
    trainer.train_step(images)
    for name, values in before.items():
        after = trainable_values(getattr(gan_model, name))
        for a, b in zip(values, after, strict=True):
            np.testing.assert_array_equal(a, b)


class Rates(keras.callbacks.Callback):
    """Records D's and d_on_g's rates at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.gan_model = None
        self.rates = []

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(
            (
                rate(self.gan_model.discriminator.optimizer),
                rate(self.gan_model.d_on_g.optimizer),
            )
        )


def test_a_cooked_run_decays_over_its_own_length(tmp_path):
    recipe = decaying_recipe()
    first = (
        float(recipe.discriminator_optimizer().learning_rate),
        float(recipe.generator_optimizer().learning_rate),
    )
    # The run's length comes from the command's epochs, batch size and limit.
    rates = Rates()
    run = prepare(recipe, out=tmp_path / "run", epochs=4, callbacks=[rates], **SMALL)
    rates.gan_model = run.gan_model
    run.cook()
    for epoch, (d_rate, g_rate) in enumerate(rates.rates, start=1):
        left = 1 - epoch / 4
        assert d_rate == pytest.approx(first[0] * left, rel=1e-5, abs=1e-12)
        assert g_rate == pytest.approx(first[1] * left, rel=1e-5, abs=1e-12)
    assert len(rates.rates) == 4


def test_a_stopped_decaying_run_resumes_exactly(tmp_path):
    recipe = decaying_recipe()
    cook(recipe, out=tmp_path / "straight", epochs=2, **SMALL)
    stop = StopAt(0, STEPS_PER_EPOCH - 1)
    prepare(recipe, out=tmp_path / "split", epochs=2, callbacks=[stop], **SMALL).cook()
    resumed = cook(recipe, out=tmp_path / "split", epochs=2, resume=True, **SMALL)
    assert resumed.resumed_from.name == "epoch_0001.npz"
    for name in ("generator.keras", "generator_raw.keras", "discriminator.keras"):
        straight = keras.saving.load_model(tmp_path / "straight" / name)
        split = keras.saving.load_model(tmp_path / "split" / name)
        for a, b in zip(straight.weights, split.weights, strict=True):
            np.testing.assert_array_equal(
                ops.convert_to_numpy(a), ops.convert_to_numpy(b)
            )


def test_decaying_optimizer_keeps_the_other_settings():
    optimizer = decaying_optimizer(keras.optimizers.Adam(3e-4, beta_1=0.4), 10)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert optimizer.get_config()["beta_1"] == pytest.approx(0.4)
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "PolynomialDecay"
    assert schedule["config"]["decay_steps"] == 10
    assert schedule["config"]["end_learning_rate"] == 0.0


@pytest.mark.parametrize("decay", ["cosine", "", True, 1])
def test_a_bad_decay_names_the_field(decay):
    with pytest.raises(
        ValueError,
        match=r"`learning_rate_decay` must be None .* Received: learning_rate_decay=",
    ):
        recipes.get("mnist").replace(learning_rate_decay=decay)


def test_a_decaying_recipe_needs_the_run_length():
    with pytest.raises(ValueError, match=r"`steps` is needed .* Received: steps=None"):
        build_gan_model(decaying_recipe())


@pytest.mark.parametrize("steps", [0, -1, 2.5, True, None])
def test_bad_steps_name_the_argument(steps):
    with pytest.raises(ValueError, match=r"`steps` must be an integer .* Received"):
        decaying_optimizer(keras.optimizers.Adam(), steps)


def test_an_optimizer_on_a_schedule_already_is_refused():
    scheduled = keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.9)
    )
    with pytest.raises(ValueError, match="follows a schedule already"):
        decaying_optimizer(scheduled, 10)
