"""The loop's behaviour; tests/test_backends.py runs this file on each backend."""

import re

import keras
import numpy as np
import pytest

from gan_cookbook.checkpoint import restore_trainer_state, trainer_state
from gan_cookbook.fused import FusedGANTrainer
from gan_cookbook.gan_model import stack
from gan_cookbook.loop import GANTrainer, NonFiniteLossError
from gan_cookbook.models import cooking_discriminator, cooking_generator
from gan_cookbook.noise import Noise

from conftest import (
    StepLosses,
    StopAt,
    assert_engines_agree,
    assert_same_weights,
    changed,
    make_gan,
    random_images,
    snapshot,
    spy_on,
)

TRAINERS = {"classic": GANTrainer, "fused": FusedGANTrainer}


def test_each_call_trains_only_its_model(gan):
    generator, discriminator, d_on_g, trainer = gan
    record = []
    spy_on(discriminator, record, generator, discriminator)
    spy_on(d_on_g, record, generator, discriminator)
    moving = ["moving" in weight.path for weight in generator.weights]
    assert sum(moving) == 4  # two BatchNorm layers

    for step in range(3):
        logs = trainer.train_step(random_images(16, seed=step))
        assert set(logs) >= {"d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"}

    assert [call["model"] for call in record] == [discriminator.name, d_on_g.name] * 3
    for d_call, g_call in zip(record[::2], record[1::2], strict=True):
        # D's step: D trainable, every D weight moves, no G weight does.
        assert d_call["trainable"] is True
        assert all(d_call["d_changed"]) and not any(d_call["g_changed"])
        # d_on_g's step: D frozen and untouched; every G weight moves, the BatchNorm
        # moving statistics included (G runs in training mode).
        assert g_call["trainable"] is False
        assert not any(g_call["d_changed"]) and all(g_call["g_changed"])


def test_fakes_come_from_training_mode_and_stay_on_the_device(gan):
    generator, discriminator, d_on_g, trainer = gan
    record = []
    spy_on(discriminator, record, generator, discriminator)
    real = random_images(16)
    moving = [weight for weight in generator.weights if "moving" in weight.path]
    before = snapshot(moving)
    trainer.make_fake_batch(keras.ops.convert_to_tensor(real))
    # Only a call in training mode updates BatchNorm's moving statistics.
    assert all(changed(before, moving))

    trainer.train_step(keras.ops.convert_to_tensor(real))
    images = record[0]["x"]
    # The mixed batch D trains on is a backend tensor (never a NumPy copy), real half
    # first, then as many fakes in tanh's range.
    assert not isinstance(images, np.ndarray)
    images = keras.ops.convert_to_numpy(images)
    assert images.shape == (32, 28, 28, 1)
    np.testing.assert_allclose(images[:16], real, rtol=0, atol=0)
    assert np.abs(images[16:]).max() <= 1 and np.std(images[16:]) > 0


def test_same_seed_same_losses_step_for_step():
    images = random_images(64)
    runs = []
    for _ in range(2):
        trainer = make_gan(seed=5)[3]
        losses = []
        runs.append(losses)
        record = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda step, logs, losses=losses: losses.append(
                (logs["d_loss"], logs["g_loss"])
            )
        )
        trainer.fit(images, batch_size=16, epochs=2, callbacks=[record], verbose=0)
    assert len(runs[0]) == 8
    assert runs[0] == runs[1]
    other_seed = make_gan(seed=6)[3].fit(images, batch_size=16, epochs=1, verbose=0)
    assert other_seed.history["d_loss"][0] != pytest.approx(
        np.mean([d for d, _ in runs[0][:4]]), abs=1e-7
    )


def test_epoch_is_one_reshuffled_pass_in_full_batches(gan):
    trainer = gan[3]
    # Image i is filled with the value i / 100, so batches can be traced back.
    images = np.broadcast_to(
        (np.arange(50, dtype="float32") / 100)[:, None, None, None], (50, 28, 28, 1)
    ).copy()
    seen = []
    original = trainer.train_step
    trainer.train_step = lambda batch: (
        seen.append(np.round(keras.ops.convert_to_numpy(batch)[:, 0, 0, 0] * 100)),
        original(batch),
    )[1]
    history = trainer.fit(images, batch_size=16, epochs=2, verbose=0)
    assert len(seen) == 6  # 50 // 16 = 3 full batches an epoch; 2 images dropped
    first, second = np.concatenate(seen[:3]), np.concatenate(seen[3:])
    for epoch in (first, second):
        assert len(set(epoch)) == 48 and set(epoch) <= set(range(50))
    assert not np.array_equal(first, second)
    assert sorted(history.history) == [
        "d_fake_accuracy", "d_loss", "d_real_accuracy", "g_loss",
        "images_per_second", "seconds",
    ]  # fmt: skip
    assert len(history.history["d_loss"]) == 2


def test_callbacks_get_keras_hooks_and_logs(gan):
    calls = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            calls.append(f"batch_end {batch} {sorted(logs)[:2]}")

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch} {'images_per_second' in logs}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    gan[3].fit(
        random_images(32), batch_size=16, epochs=1, callbacks=[Recorder()], verbose=0
    )
    assert calls == [
        "train_begin",
        "epoch_begin 0",
        "batch_end 0 ['d_fake_accuracy', 'd_loss']",
        "batch_end 1 ['d_fake_accuracy', 'd_loss']",
        "epoch_end 0 True",
        "train_end",
    ]


def test_a_callback_can_stop_training(gan):
    class StopAtOnce(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    history = gan[3].fit(
        random_images(32), batch_size=16, epochs=5, callbacks=[StopAtOnce()], verbose=0
    )
    assert len(history.history["d_loss"]) == 1


def test_shapes_are_checked_before_training(gan):
    trainer = gan[3]
    with pytest.raises(
        ValueError, match=r"\(None, 28, 28, 1\).*\(batch, \*\(32, 32, 1\)\)"
    ):
        trainer.fit(random_images(8, (32, 32, 1)), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"batch_size.*Received: batch_size=9"):
        trainer.fit(random_images(8), batch_size=9, verbose=0)
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        trainer.fit(random_images(8), batch_size=0, verbose=0)


def test_discriminator_must_output_one_probability():
    generator = cooking_generator()
    images = keras.Input((28, 28, 1))
    two_outputs = keras.Model(
        images,
        keras.layers.Dense(2, activation="sigmoid")(keras.layers.Flatten()(images)),
    )
    two_outputs.compile(optimizer="adam", loss="binary_crossentropy")
    d_on_g = stack(generator, two_outputs, keras.optimizers.Adam())
    with pytest.raises(ValueError, match=r"one probability.*\(None, 2\)"):
        GANTrainer(generator, two_outputs, d_on_g)


def constant_discriminator(logit):
    """A compiled D that says sigmoid(logit) to every image, until it trains."""
    images = keras.Input((28, 28, 1))
    probability = keras.layers.Dense(
        1,
        activation="sigmoid",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(logit),
    )(keras.layers.Flatten()(images))
    discriminator = keras.Model(images, probability)
    # A rate of 0: D's step leaves it saying sigmoid(logit) for d_on_g's step too.
    discriminator.compile(
        optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy"
    )
    return discriminator


@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_real_label_is_d_target_for_real_images_only(real_label):
    generator = cooking_generator()
    discriminator = constant_discriminator(1.0)
    d_on_g = stack(generator, discriminator, keras.optimizers.SGD())
    trainer = GANTrainer(generator, discriminator, d_on_g, real_label=real_label)
    d_logs, g_logs = trainer.step(keras.ops.convert_to_tensor(random_images(8)))
    p = 1 / (1 + np.exp(-1.0))
    # Half the batch real at real_label, half fake at 0; the loss before the update.
    real_loss = -(real_label * np.log(p) + (1 - real_label) * np.log(1 - p))
    assert float(d_logs["loss"]) == pytest.approx((real_loss - np.log(1 - p)) / 2)
    # d_on_g's labels stay 1.
    assert float(g_logs["loss"]) == pytest.approx(-np.log(p))


@pytest.mark.parametrize("real_label", [0.5, 1.1, True, "0.9"])
def test_real_label_outside_its_range_is_refused(gan, real_label):
    received = re.escape(f"Received: real_label={real_label!r}")
    with pytest.raises(ValueError, match=f"above 0.5 and at most 1.*{received}"):
        GANTrainer(*gan[:3], real_label=real_label)


def test_stack_needs_a_compiled_matching_discriminator():
    generator = cooking_generator()
    discriminator = cooking_discriminator()
    with pytest.raises(ValueError, match="must be compiled"):
        stack(generator, discriminator)
    discriminator.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="its own"):
        stack(generator, discriminator, discriminator.optimizer)
    rgb = cooking_discriminator((28, 28, 3))
    rgb.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"\(None, 28, 28, 1\).*\(None, 28, 28, 3\)"):
        stack(generator, rgb)
    d_on_g = stack(generator, discriminator, keras.optimizers.Adam())
    assert d_on_g.input_shape == (None, 10) and d_on_g.output_shape == (None, 1)
    assert discriminator.trainable  # stack leaves D as it found it


def test_noise_distributions():
    uniform = keras.ops.convert_to_numpy(
        Noise("uniform", low=-2, high=3).sample((20000, 4), seed=1)
    )
    assert uniform.min() >= -2 and uniform.max() < 3
    assert uniform.mean() == pytest.approx(0.5, abs=0.05)
    assert uniform.var() == pytest.approx(25 / 12, rel=0.05)
    normal = keras.ops.convert_to_numpy(
        Noise("normal", mean=1, stddev=2).sample((20000, 4), seed=1)
    )
    assert normal.mean() == pytest.approx(
        1, abs=0.05
    ) and normal.std() == pytest.approx(2, rel=0.03)
    default = keras.ops.convert_to_numpy(Noise().sample((1000, 10), seed=2))
    assert default.min() >= 0 and default.max() < 1
    with pytest.raises(ValueError, match="Received: distribution='gaussian'"):
        Noise("gaussian")
    with pytest.raises(ValueError, match="Received: low=1, high=1"):
        Noise(low=1, high=1)


def test_noise_of_another_distribution_trains():
    trainer = make_gan(noise=Noise("normal"))[3]
    history = trainer.fit(random_images(32), batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])


@pytest.mark.parametrize("stop", [(0, 3), (1, 1)], ids=["epoch-end", "mid-epoch"])
def test_restored_state_resumes_exactly(stop):
    """2 epochs straight equal a run stopped and restored into fresh models."""
    images = random_images(64)
    straight = StepLosses()
    generator, discriminator, _, trainer = make_gan(seed=3)
    trainer.fit(images, batch_size=16, epochs=2, callbacks=[straight], verbose=0)

    before = StepLosses()
    first = make_gan(seed=3)[3]
    first.fit(
        images, batch_size=16, epochs=2, callbacks=[before, StopAt(*stop)], verbose=0
    )
    state = trainer_state(first)
    assert (state["progress"]["epoch"], state["progress"]["step"]) == (
        (1, 0) if stop == (0, 3) else (1, 2)
    )

    after = StepLosses()
    resumed_generator, resumed_discriminator, _, resumed = make_gan(seed=99)
    restore_trainer_state(resumed, state)
    history = resumed.fit(images, batch_size=16, epochs=2, callbacks=[after], verbose=0)
    assert before.losses + after.losses == straight.losses
    assert_same_weights(
        (generator, resumed_generator), (discriminator, resumed_discriminator)
    )
    # The resumed epoch's mean includes the steps run before the stop.
    assert history.history["d_loss"][-1] == pytest.approx(
        np.mean([d for d, _ in straight.losses[4:]])
    )


def test_non_finite_loss_stops_with_the_step():
    _, discriminator, _, trainer = make_gan()

    class Poison(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                kernel = discriminator.weights[0]
                kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    with pytest.raises(
        NonFiniteLossError,
        match=r"Epoch 1, step 3 of 4: (d_loss is nan|the weights are no longer finite)",
    ):
        trainer.fit(random_images(64), batch_size=16, callbacks=[Poison()], verbose=0)


def test_state_from_another_architecture_is_refused():
    state = trainer_state(make_gan()[3])
    other = make_gan(noise_dim=20)[3]
    with pytest.raises(ValueError, match="another architecture"):
        restore_trainer_state(other, state)


ON_JAX = keras.backend.backend() == "jax"
TORCH_ON_CPU = (
    keras.backend.backend() == "torch" and keras.ops.zeros(()).device.type == "cpu"
)


@pytest.mark.skipif(ON_JAX, reason="the fused engine runs on JAX: nothing to refuse")
def test_fused_engine_is_refused_off_jax():
    generator, discriminator, d_on_g, _ = make_gan()
    with pytest.raises(ValueError, match="JAX backend only.*Received: engine='fused'"):
        FusedGANTrainer(generator, discriminator, d_on_g)


@pytest.mark.skipif(
    not ON_JAX,
    reason="the fused engine runs on JAX only; tests/test_backends.py runs this test "
    "on JAX",
)
def test_fused_engine_computes_what_the_classic_loop_computes():
    images = random_images(64)
    runs = {}
    for engine in ("classic", "fused"):
        generator, discriminator, d_on_g, _ = make_gan(seed=4)
        trainer = TRAINERS[engine](generator, discriminator, d_on_g, seed=4)
        record = StepLosses()
        trainer.fit(images, batch_size=16, epochs=2, callbacks=[record], verbose=0)
        runs[engine] = (
            record.logs,
            snapshot(generator.weights + discriminator.weights),
        )
    # Every log of every step: losses, and D's accuracies, which start from reset
    # metrics in each step as train_on_batch's do.
    assert_engines_agree(runs["classic"], runs["fused"])


@pytest.mark.parametrize("engine", ["classic", "fused"])
def test_no_image_or_noise_crosses_to_the_device_in_a_step(monkeypatch, engine):
    """Steps run under JAX's transfer guard: any host-to-device copy raises."""
    if keras.backend.backend() != "jax":
        pytest.skip("JAX's transfer guard")
    import jax
    import jax.numpy as jnp

    # Keras resets each metric from a host scalar at the start of train_on_batch
    # (state, not data); this reset does the same on the device, so that the guard
    # sees every other transfer.
    zeros = jax.jit(lambda values: [jnp.zeros_like(value) for value in values])

    def reset_metrics_on_device(model):
        variables = [v for metric in model.metrics for v in metric.variables]
        values = zeros([variable.value for variable in variables])
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)

    monkeypatch.setattr(keras.Model, "reset_metrics", reset_metrics_on_device)
    generator, discriminator, d_on_g, _ = make_gan(seed=1)
    trainer = TRAINERS[engine](generator, discriminator, d_on_g, seed=1)
    batches = trainer.shuffled_batches(
        keras.ops.convert_to_tensor(random_images(64)), 16
    )
    trainer.train_step(batches[0])  # compiles
    with jax.transfer_guard_host_to_device("disallow"):
        for batch in batches[1:]:
            logs = trainer.train_step(batch)
        assert np.isfinite(logs["d_loss"])
        with pytest.raises(Exception, match="Disallowed host-to-device transfer"):
            trainer.train_step(random_images(16))  # a host batch is caught


@pytest.mark.parametrize("engine", ["classic", "fused"])
def test_mixed_bfloat16_trains_like_float32_within_its_precision(engine):
    if engine == "fused" and keras.backend.backend() != "jax":
        pytest.skip("the fused engine runs on JAX")
    if TORCH_ON_CPU:
        pytest.skip(
            "mixed_bfloat16 is refused on PyTorch on the CPU: "
            "test_mixed_bfloat16_is_refused_on_pytorch_on_the_cpu checks it"
        )
    images = random_images(32)
    losses, models = {}, {}
    for precision in ("float32", "mixed_bfloat16"):
        generator, discriminator, _, trainer = make_gan(
            seed=3, engine=engine, precision=precision
        )
        before = snapshot(generator.weights + discriminator.weights)
        losses[precision] = [
            trainer.train_step(images[:16]), trainer.train_step(images[16:])
        ]  # fmt: skip
        models[precision] = (generator, discriminator, before)
    generator, discriminator, before = models["mixed_bfloat16"]
    # The weights and optimizer state stay float32; every weight (BatchNorm moving
    # statistics included) moved; G's images and D's probabilities are float32.
    assert {variable.dtype for variable in generator.weights} == {"float32"}
    assert {variable.dtype for variable in discriminator.weights} == {"float32"}
    assert all(changed(before, generator.weights + discriminator.weights))
    fakes = generator(keras.random.uniform((4, 10)), training=False)
    assert keras.backend.standardize_dtype(fakes.dtype) == "float32"
    probabilities = discriminator(fakes, training=False)
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
    # Same seed and data: the same losses, to bfloat16's 8 bits of mantissa.
    for mixed, full in zip(losses["mixed_bfloat16"], losses["float32"], strict=True):
        for key in ("d_loss", "g_loss"):
            assert mixed[key] == pytest.approx(full[key], abs=0.03)
            assert mixed[key] != full[key]  # bfloat16 arithmetic did happen


@pytest.mark.skipif(
    not TORCH_ON_CPU,
    reason="refused on PyTorch on the CPU only; tests/test_backends.py runs this "
    "test on PyTorch",
)
def test_mixed_bfloat16_is_refused_on_pytorch_on_the_cpu():
    # PyTorch's CPU bfloat16 convolution fails in its backward pass where it has no
    # oneDNN bfloat16 kernel ("slow_conv2d: grad_weight must be contiguous"), inside
    # Keras' train step: the models are refused before they are built.
    policy = keras.config.dtype_policy()
    with pytest.raises(
        ValueError,
        match=r"torch backend on the cpu device.*precision='float32'.*"
        r"KERAS_BACKEND=tensorflow or jax.*CUDA GPU\. "
        r"Received: precision='mixed_bfloat16'$",
    ):
        make_gan(precision="mixed_bfloat16")
    assert keras.config.dtype_policy() == policy
    logs = make_gan(precision="float32")[3].train_step(random_images(16))
    assert np.isfinite(logs["d_loss"])  # float32 trains on the same backend


@pytest.mark.parametrize("engine", ["classic", "fused"])
def test_models_are_left_as_the_trainer_found_them(engine):
    if engine == "fused" and keras.backend.backend() != "jax":
        pytest.skip("the fused engine runs on JAX")
    generator, discriminator, _, trainer = make_gan(seed=2, engine=engine)
    images = random_images(32)
    trainer.train_step(images[:16])
    assert discriminator.trainable
    trainer.fit(images, batch_size=16, epochs=1, verbose=0)
    assert discriminator.trainable
    assert all(layer.trainable for layer in discriminator.layers)
    assert len(discriminator.trainable_weights) == 6  # 2 convolutions, 1 dense

    # D is the user's again: its own fit trains it, and only it.
    labels = np.ones((16, 1), "float32")
    before = snapshot(discriminator.trainable_weights)
    discriminator.fit(images[:16], labels, epochs=1, verbose=0)
    discriminator.train_on_batch(images[:16], labels)
    assert all(changed(before, discriminator.trainable_weights))

    # A D the user froze stays frozen.
    discriminator.trainable = False
    trainer.train_step(images[:16])
    assert not discriminator.trainable

    # A step that raises while D is frozen for G's call puts D back too.
    discriminator.trainable = True

    def fail(*args, **kwargs):
        assert not discriminator.trainable
        raise RuntimeError("G's call failed")

    trainer.d_on_g.train_on_batch = fail
    if engine == "classic":
        with pytest.raises(RuntimeError, match="G's call failed"):
            trainer.train_step(images[:16])
        assert discriminator.trainable
        with pytest.raises(RuntimeError, match="G's call failed"):
            trainer.fit(images, batch_size=16, epochs=2, verbose=0)
        assert discriminator.trainable


@pytest.mark.parametrize(
    "images, message",
    [
        (
            np.full((32, 28, 28, 1), 255, np.uint8),
            r"float images in \[-1, 1\].*Received: x of dtype uint8",
        ),
        (
            np.full((32, 28, 28, 1), 255.0, np.float32),
            r"float images in \[-1, 1\].*Received: x with values from 255.0 to 255.0",
        ),
    ],
    ids=["uint8", "0-255-float"],
)
def test_fit_refuses_images_outside_the_tanh_range(gan, images, message):
    generator, discriminator, _, trainer = gan
    before = snapshot(generator.weights + discriminator.weights)
    with pytest.raises(ValueError, match=message):
        trainer.fit(images, batch_size=16, verbose=0)
    assert not any(changed(before, generator.weights + discriminator.weights))
