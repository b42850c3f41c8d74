"""Several whole GAN steps in one compiled call (the fused engine, JAX only): they
train what single steps train, stop and resume on a step, and hand every step's
logs to the callbacks."""

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from gan_cookbook import recipes
from gan_cookbook.average import average_optimizer
from gan_cookbook.bench import benchmark
from gan_cookbook.checkpoint import restore_trainer_state, trainer_state
from gan_cookbook.cli import main
from gan_cookbook.fused import FusedGANTrainer
from gan_cookbook.gan_model import GANModel, discriminator_metrics, make_trainer, stack
from gan_cookbook.loop import NonFiniteLossError
from gan_cookbook.models import quick_discriminator, quick_generator
from gan_cookbook.noise import Noise

from conftest import (
    StepLosses,
    StopAt,
    assert_engines_agree,
    jax_only,
    random_images,
    snapshot,
)

ON_JAX = keras.backend.backend() == "jax"
# 320 images in batches of 32: 10 steps an epoch, which 4 steps a call do not
# divide (calls of 4, 4 and 2 steps an epoch).
IMAGES = random_images(320)
BATCH_SIZE = 32
STEPS = 10


def averaging_gan(steps_per_execution, seed=5):
    """A small pair whose G is averaged by its optimizer (decay 0.9), and its
    fused trainer running ``steps_per_execution`` steps a call."""
    keras.utils.set_random_seed(seed)
    generator = quick_generator(10, (28, 28, 1), filters=8)
    discriminator = quick_discriminator((28, 28, 1), filters=8)
    discriminator.compile(
        optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss="binary_crossentropy",
        metrics=discriminator_metrics(),
    )
    d_on_g = stack(
        generator,
        discriminator,
        average_optimizer(keras.optimizers.Adam(2e-4, beta_1=0.5), 0.9),
    )
    trainer = make_trainer(
        GANModel(generator, discriminator, d_on_g),
        Noise(),
        seed,
        "fused",
        steps_per_execution=steps_per_execution,
    )
    return trainer


def state_of(trainer):
    """Every weight of both models and both optimizers' variables (G's average
    among them)."""
    return snapshot(
        trainer.generator.variables
        + trainer.discriminator.variables
        + trainer.discriminator.optimizer.variables
        + trainer.d_on_g.optimizer.variables
    )


class Steps(keras.callbacks.Callback):
    """Records ``(epoch, step)`` of every ``on_train_batch_end``."""

    def __init__(self):
        super().__init__()
        self.seen, self.epoch = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((self.epoch, batch))


@jax_only
def test_steps_a_call_train_what_single_steps_train():
    runs, seen = {}, {}
    for steps_per_execution in (1, 4):
        trainer = averaging_gan(steps_per_execution)
        record, steps = StepLosses(), Steps()
        history = trainer.fit(
            IMAGES,
            batch_size=BATCH_SIZE,
            epochs=2,
            callbacks=[record, steps],
            verbose=0,
        )
        runs[steps_per_execution] = (record.logs, state_of(trainer))
        seen[steps_per_execution] = steps.seen
        assert len(history.history["d_loss"]) == 2
    # Every step's logs, every weight and G's average, to float rounding: the
    # weights within 1e-4 (XLA rounds a compiled call of several steps differently
    # from single steps, and Adam's normalised updates carry such differences over
    # 20 steps up to about 1.2e-5 in a weight near 0).
    assert_engines_agree(runs[1], runs[4], atol=1e-4)
    # The callbacks saw every step of both epochs, in order, short calls included.
    expected = [(epoch, step) for epoch in range(2) for step in range(STEPS)]
    assert seen[4] == seen[1] == expected


@jax_only
def test_a_run_stopped_within_an_epoch_resumes_as_the_straight_run():
    straight_record = StepLosses()
    straight = averaging_gan(4)
    straight.fit(
        IMAGES, batch_size=BATCH_SIZE, epochs=2, callbacks=[straight_record], verbose=0
    )

    # Stopped at step 6 (from 1) of the first epoch: the call of steps 5 to 8 has
    # run, so the run stops after step 8, and its checkpoint says so.
    before = StepLosses()
    first = averaging_gan(4)
    first.fit(
        IMAGES,
        batch_size=BATCH_SIZE,
        epochs=2,
        callbacks=[before, StopAt(0, 5)],
        verbose=0,
    )
    state = trainer_state(first)
    assert (state["progress"]["epoch"], state["progress"]["step"]) == (0, 8)
    assert len(before.logs) == 8

    after = StepLosses()
    resumed = averaging_gan(4, seed=99)
    restore_trainer_state(resumed, state)
    resumed.fit(IMAGES, batch_size=BATCH_SIZE, epochs=2, callbacks=[after], verbose=0)
    # Exactly: every step of both runs is a compiled call's, cut at the same steps.
    assert before.logs + after.logs == straight_record.logs
    for value, expected in zip(state_of(resumed), state_of(straight), strict=True):
        np.testing.assert_array_equal(value, expected)


@jax_only
def test_a_non_finite_loss_names_its_step_within_a_call():
    trainer = averaging_gan(4)
    record = StepLosses()

    class Poison(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                kernel = trainer.discriminator.weights[0]
                kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    # Step 2 (from 1) is within the call of steps 1 to 4: the poisoned weights are
    # trained from step 5 on, and every step before it reached the callbacks.
    with pytest.raises(NonFiniteLossError, match=r"Epoch 1, step 5 of 10: d_loss is"):
        trainer.fit(
            IMAGES,
            batch_size=BATCH_SIZE,
            callbacks=[record, Poison()],
            verbose=0,
        )
    assert len(record.logs) == 4


@jax_only
def test_no_image_crosses_to_the_device_in_a_call():
    import jax

    trainer = averaging_gan(4)
    images = keras.ops.convert_to_tensor(IMAGES)
    batches = trainer.epoch_batches(images, BATCH_SIZE)
    trainer.train_block(batches, 0, STEPS)  # compiles the call of 4 steps
    # train_on_batch resets Keras' metrics from host scalars in the classic first
    # step only; the compiled calls keep their reset values on the device.
    with jax.transfer_guard_host_to_device("disallow"):
        logs = trainer.train_block(batches, 4, STEPS)
    assert len(logs) == 4 and all(np.isfinite(step["d_loss"]) for step in logs)


def test_steps_per_execution_above_1_needs_the_fused_engine():
    keras.utils.set_random_seed(0)
    generator = quick_generator(10, (28, 28, 1), filters=8)
    discriminator = quick_discriminator((28, 28, 1), filters=8)
    discriminator.compile(optimizer="adam", loss="binary_crossentropy")
    d_on_g = stack(generator, discriminator, keras.optimizers.Adam())
    gan_model = GANModel(generator, discriminator, d_on_g)
    with pytest.raises(
        ValueError,
        match=r"engine='fused'.*Received: steps_per_execution=8, engine='classic'",
    ):
        make_trainer(gan_model, steps_per_execution=8)
    for bad in (0, 2.5, True, "4"):
        with pytest.raises(
            ValueError, match=r"steps_per_execution.*Received: steps_per_execution="
        ):
            make_trainer(gan_model, engine="fused", steps_per_execution=bad)
    if not ON_JAX:
        with pytest.raises(
            ValueError,
            match=r"JAX backend only.*Received: engine='fused', steps_per_execution=8",
        ):
            FusedGANTrainer(generator, discriminator, d_on_g, steps_per_execution=8)


@jax_only
def test_bench_times_several_steps_a_call():
    result = benchmark(
        recipes.get("mnist_quick"),
        steps=3,
        warmup=0,
        batch_size=16,
        limit=64,
        engine="fused",
        steps_per_execution=2,
    )
    # Whole calls of 2 steps: 3 timed steps round up to 4; the warm-up ran two
    # calls (the first compiles).
    assert result["steps_per_execution"] == 2
    assert result["steps"] == 4 and result["warmup"] == 4
    assert len(result["step_ms"]) == 4 and result["ms_per_step_min"] > 0


def test_bench_command_refuses_steps_per_execution_with_the_classic_engine():
    result = CliRunner().invoke(
        main,
        ["bench", "mnist_quick", "--limit", "64", "--batch-size", "16"]
        + ["--steps-per-execution", "2"],
    )
    assert result.exit_code == 2, result.output
    assert "--steps-per-execution" in result.output
    assert "Received: --steps-per-execution 2" in result.output


@jax_only
def test_a_cook_of_several_steps_a_call_stopped_and_resumed_equals_the_straight_one(
    tmp_path,
):
    from gan_cookbook.checkpoint import list_checkpoints, load_checkpoint
    from gan_cookbook.cook import RunStopped, cook

    recipe = recipes.get("mnist_quick")
    options = dict(
        epochs=2, limit=320, batch_size=32, engine="fused", steps_per_execution=4
    )
    straight = cook(recipe, out=tmp_path / "straight", verbose=0, **options)
    expected, _ = load_checkpoint(list_checkpoints(straight.out)[-1])

    class Interrupt(StopAt):
        def act(self):
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)

    # Asked to stop after step 6 of epoch 2, within the call of steps 5 to 8.
    with pytest.raises(RunStopped, match=r"in epoch 2, after step 8 of 10"):
        cook(recipe, out=tmp_path / "run", verbose=0, callbacks=[Interrupt(1, 5)],
             **options)  # fmt: skip
    cook(recipe, out=tmp_path / "run", resume=True, verbose=0)
    resumed, _ = load_checkpoint(list_checkpoints(tmp_path / "run")[-1])
    # Exactly: every step of both runs is a compiled call's, cut at the same steps.
    for key, value in expected.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)


def test_the_cook_command_refuses_several_steps_a_call_on_the_classic_engine(
    tmp_path,
):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        ["cook", "mnist_quick", "--steps-per-execution", "4", "--limit", "64",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--steps-per-execution" in result.output
    assert "--engine fused" in result.output or "fused" in result.output
    assert not out.exists()


def test_a_recipes_steps_per_execution_is_the_fused_engines_default(tmp_path):
    import dataclasses

    from gan_cookbook.cook import prepare

    recipe = dataclasses.replace(recipes.get("mnist_quick"), steps_per_execution=4)
    small = dict(limit=64, batch_size=32, verbose=0)
    # The classic engine runs one step a call and leaves the recipe's value aside.
    classic = prepare(recipe, out=tmp_path / "classic", **small)
    assert getattr(classic.trainer, "steps_per_execution", 1) == 1
    with pytest.raises(ValueError, match=r"Received: steps_per_execution=0"):
        dataclasses.replace(recipe, steps_per_execution=0)
    if ON_JAX:
        fused = prepare(recipe, out=tmp_path / "fused", engine="fused", **small)
        assert fused.trainer.steps_per_execution == 4
        given = prepare(recipe, out=tmp_path / "given", engine="fused",
                        steps_per_execution=2, **small)  # fmt: skip
        assert given.trainer.steps_per_execution == 2
