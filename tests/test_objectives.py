"""The GAN objectives, d_steps, weight clipping and an auxiliary classifier D, all
through the loop's two train_on_batch calls."""

import keras
import numpy as np
import pytest
from keras import layers

from gan_cookbook import objectives
from gan_cookbook.checkpoint import restore_trainer_state, trainer_state
from gan_cookbook.gan_model import discriminator_metrics, stack
from gan_cookbook.keras_objects import ClipWeights, WassersteinLoss
from gan_cookbook.loop import GANTrainer
from gan_cookbook.models import (
    auxiliary_quick_discriminator,
    conditional_quick_generator,
    quick_discriminator,
    quick_generator,
)

from conftest import (
    StepLosses,
    assert_engines_agree,
    assert_same_weights,
    changed,
    jax_only,
    random_images,
    snapshot,
    spy_on,
)

ON_JAX = keras.backend.backend() == "jax"


def make_pair(
    objective="standard", d_steps=1, weight_clip=None, seed=0, learning_rate=2e-4
):
    """The quick models with 8 filters, compiled for ``objective``."""
    keras.utils.set_random_seed(seed)
    chosen = objectives.get(objective)
    generator = quick_generator(10, (28, 28, 1), filters=8)
    discriminator = quick_discriminator(
        (28, 28, 1),
        filters=8,
        activation=chosen.output_activation,
        weight_clip=weight_clip,
    )
    discriminator.compile(
        optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        loss=chosen.discriminator_loss,
        metrics=discriminator_metrics(chosen),
    )
    d_on_g = stack(
        generator,
        discriminator,
        keras.optimizers.Adam(learning_rate, beta_1=0.5),
        loss=chosen.generator_loss,
    )
    trainer = GANTrainer(
        generator,
        discriminator,
        d_on_g,
        seed=seed,
        objective=objective,
        d_steps=d_steps,
    )
    return generator, discriminator, d_on_g, trainer


@pytest.mark.parametrize("objective", objectives.NAMES)
def test_each_objectives_calls_train_only_their_model(objective):
    generator, discriminator, d_on_g, trainer = make_pair(objective)
    record = []
    spy_on(discriminator, record, generator, discriminator)
    spy_on(d_on_g, record, generator, discriminator)
    for step in range(2):
        logs = trainer.train_step(random_images(16, seed=step))
        assert np.isfinite([logs["d_loss"], logs["g_loss"]]).all()
    assert [call["model"] for call in record] == [discriminator.name, d_on_g.name] * 2
    # The output's bias has no gradient under a critic's loss (a constant added to
    # every score cancels between real and fake), nor under the hinge while every
    # margin is active, as it is at the start.
    moved = slice(None, -1) if objective in ("hinge", "wasserstein") else slice(None)
    for d_call, g_call in zip(record[::2], record[1::2], strict=True):
        assert all(d_call["d_changed"][moved]) and not any(d_call["g_changed"])
        assert not any(g_call["d_changed"]) and all(g_call["g_changed"])


def linear_pair(objective, kernel, bias, fake_value):
    """G that makes every pixel ``fake_value`` whatever its noise, and a linear D
    (``kernel . pixels + bias``, then a sigmoid for a probability objective), both
    with a learning rate of 0, so the logs are the losses at these weights."""
    chosen = objectives.get(objective)
    noise = keras.Input((3,))
    pixels = layers.Dense(
        4,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(fake_value),
    )(noise)
    generator = keras.Model(noise, layers.Reshape((2, 2, 1))(pixels))
    images = keras.Input((2, 2, 1))
    score = layers.Dense(
        1,
        kernel_initializer=keras.initializers.Constant(kernel.reshape(4, 1)),
        bias_initializer=keras.initializers.Constant(bias),
    )(layers.Flatten()(images))
    output = layers.Activation(chosen.output_activation)(score)
    discriminator = keras.Model(images, output)
    discriminator.compile(
        optimizer=keras.optimizers.SGD(0.0), loss=chosen.discriminator_loss
    )
    d_on_g = stack(
        generator, discriminator, keras.optimizers.SGD(0.0), chosen.generator_loss
    )
    return GANTrainer(generator, discriminator, d_on_g, objective=objective, seed=0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# Each objective's losses in the papers' terms, on D's scores s of the real images and
# f of the fakes. Keras averages D's loss over its batch of real and fake images, so
# D's is half the papers' sum of the two expectations (the same gradient direction).
CLOSED_FORMS = {
    "standard": (
        lambda s, f: (
            (np.mean(-np.log(sigmoid(s))) + np.mean(-np.log(1 - sigmoid(f)))) / 2
        ),
        lambda f: np.mean(-np.log(sigmoid(f))),
    ),
    "least_squares": (
        lambda s, f: (np.mean((s - 1) ** 2) + np.mean(f**2)) / 2,
        lambda f: np.mean((f - 1) ** 2),
    ),
    "hinge": (
        lambda s, f: (
            (np.mean(np.maximum(0, 1 - s)) + np.mean(np.maximum(0, 1 + f))) / 2
        ),
        lambda f: -np.mean(f),
    ),
    "wasserstein": (
        lambda s, f: (np.mean(f) - np.mean(s)) / 2,
        lambda f: -np.mean(f),
    ),
}
TARGETS = {  # real, fake, G's
    "standard": (1, 0, 1),
    "least_squares": (1, 0, 1),
    "hinge": (1, -1, -1),
    "wasserstein": (-1, 1, -1),
}


@pytest.mark.parametrize("objective", objectives.NAMES)
def test_targets_and_losses_equal_the_closed_form_on_a_linear_d(objective):
    rng = np.random.default_rng(1)
    kernel = rng.normal(0, 0.5, 4).astype("float32")
    bias, fake_value = 0.1, 0.3
    trainer = linear_pair(objective, kernel, bias, fake_value)
    d_targets, g_targets = trainer.labels_for(3)
    real, fake, generated = TARGETS[objective]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(d_targets)[:, 0], [real] * 3 + [fake] * 3
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(g_targets)[:, 0], [generated] * 3
    )

    images = rng.uniform(-1, 1, (3, 2, 2, 1)).astype("float32")
    logs = trainer.train_step(images)
    real_scores = images.reshape(3, 4) @ kernel + bias
    fake_scores = np.full(3, fake_value * kernel.sum() + bias)
    d_loss, g_loss = CLOSED_FORMS[objective]
    assert logs["d_loss"] == pytest.approx(d_loss(real_scores, fake_scores), rel=1e-5)
    assert logs["g_loss"] == pytest.approx(g_loss(fake_scores), rel=1e-5)


def test_d_steps_gives_d_that_many_updates_each_on_its_own_batch():
    generator, discriminator, d_on_g, trainer = make_pair(d_steps=3)
    record = []
    spy_on(discriminator, record, generator, discriminator)
    spy_on(d_on_g, record, generator, discriminator)
    images = random_images(50)
    history = trainer.fit(images, batch_size=4, epochs=1, verbose=0)

    # 50 images, 12 a step (3 D updates of 4): 4 steps, the last 2 images dropped.
    assert int(discriminator.optimizer.iterations) == 12
    assert int(d_on_g.optimizer.iterations) == 4
    assert [call["model"] for call in record] == (
        [discriminator.name] * 3 + [d_on_g.name]
    ) * 4
    reals = np.concatenate(
        [
            keras.ops.convert_to_numpy(call["x"])[:4]
            for call in record
            if call["model"] == discriminator.name
        ]
    )
    # Each D update had its own 4 real images: 48 distinct images of the epoch.
    assert len({image.tobytes() for image in reals}) == 48
    assert {image.tobytes() for image in reals} <= {i.tobytes() for i in images}
    # An epoch counts D's real images: 48 of them.
    seconds = history.history["seconds"][0]
    assert history.history["images_per_second"][0] == pytest.approx(48 / seconds)


def test_the_clip_holds_after_every_d_update():
    generator, discriminator, d_on_g, trainer = make_pair(
        "wasserstein", d_steps=2, weight_clip=0.01, learning_rate=0.05
    )
    clipped = [weight for weight in discriminator.trainable_weights]
    assert all(isinstance(w.constraint, ClipWeights) for w in clipped)
    largest = []
    original = discriminator.train_on_batch

    def train_on_batch(*args, **kwargs):
        result = original(*args, **kwargs)
        largest.append(
            max(np.abs(keras.ops.convert_to_numpy(w)).max() for w in clipped)
        )
        return result

    discriminator.train_on_batch = train_on_batch
    trainer.fit(random_images(32), batch_size=4, epochs=1, verbose=0)
    assert len(largest) == 8
    # Every update hits the bound (such a rate would take weights far past it) and
    # none passes it.
    assert largest == pytest.approx([0.01] * 8, abs=1e-7)


def test_a_clipped_critic_saves_and_loads_with_its_constraint(tmp_path):
    _, discriminator, _, _ = make_pair("wasserstein", weight_clip=0.02)
    discriminator.save(tmp_path / "critic.keras")
    loaded = keras.saving.load_model(tmp_path / "critic.keras")
    constraint = loaded.trainable_weights[0].constraint
    assert isinstance(constraint, ClipWeights) and constraint.clip_value == 0.02
    assert isinstance(loaded.loss, WassersteinLoss)


@pytest.mark.parametrize("d_steps", [2, 3])
def test_a_run_stopped_within_a_block_resumes_exactly(d_steps):
    images = random_images(64)
    straight = StepLosses()
    generator, discriminator, _, trainer = make_pair("hinge", d_steps, seed=3)
    trainer.fit(images, batch_size=4, epochs=2, callbacks=[straight], verbose=0)

    first_generator, first_discriminator, first_d_on_g, first = make_pair(
        "hinge", d_steps, seed=3
    )
    calls = []
    original = first_discriminator.train_on_batch

    def train_on_batch(*args, **kwargs):
        calls.append(None)
        if len(calls) == 2 * d_steps + 1:  # the first D update of the third step
            first_d_on_g.stop_training = True  # as Ctrl-C's callback does
        return original(*args, **kwargs)

    first_discriminator.train_on_batch = train_on_batch
    before = StepLosses()
    first.fit(images, batch_size=4, epochs=2, callbacks=[before], verbose=0)
    # The block is finished, then training stops: 3 whole steps.
    assert len(calls) == 3 * d_steps and len(before.losses) == 3
    state = trainer_state(first)
    assert (state["progress"]["epoch"], state["progress"]["step"]) == (0, 3)

    after = StepLosses()
    resumed_generator, resumed_discriminator, _, resumed = make_pair(
        "hinge", d_steps, seed=99
    )
    restore_trainer_state(resumed, state)
    resumed.fit(images, batch_size=4, epochs=2, callbacks=[after], verbose=0)
    assert before.losses + after.losses == straight.losses
    assert_same_weights(
        (generator, resumed_generator), (discriminator, resumed_discriminator)
    )


def make_acgan(seed=0, classes=4):
    keras.utils.set_random_seed(seed)
    generator = conditional_quick_generator(10, (28, 28, 1), classes, filters=8)
    discriminator = auxiliary_quick_discriminator((28, 28, 1), classes, filters=8)
    discriminator.compile(
        optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss=["binary_crossentropy", objectives.CLASS_LOSS],
    )
    d_on_g = stack(generator, discriminator, keras.optimizers.Adam(2e-4, beta_1=0.5))
    return generator, discriminator, d_on_g


def test_an_auxiliary_classifier_learns_the_classes_through_the_same_two_calls():
    generator, discriminator, d_on_g = make_acgan()
    trainer = GANTrainer(generator, discriminator, d_on_g, num_classes=4, seed=0)
    record = []
    spy_on(discriminator, record, generator, discriminator)
    spy_on(d_on_g, record, generator, discriminator)
    real_labels = np.array([0, 1, 2, 3, 3, 2, 1, 0], dtype="int32")
    labels = {}

    def keep_targets(model, name):
        original = model.train_on_batch

        def train_on_batch(x, y, **kwargs):
            labels[name] = (x, y)
            return original(x, y, **kwargs)

        model.train_on_batch = train_on_batch

    keep_targets(discriminator, "d")
    keep_targets(d_on_g, "g")
    logs = trainer.train_step(random_images(8), real_labels)
    assert {"d_validity_loss", "d_class_loss", "g_validity_loss", "g_class_loss"} <= (
        set(logs)
    )

    d_x, (validity, classes) = labels["d"]
    assert tuple(keras.ops.shape(d_x)) == (16, 28, 28, 1)  # images only
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(validity)[:, 0], [1] * 8 + [0] * 8
    )
    classes = keras.ops.convert_to_numpy(classes)
    np.testing.assert_array_equal(classes[:8], real_labels)
    assert set(classes[8:]) <= {0, 1, 2, 3}
    (noise, drawn), (g_validity, g_classes) = labels["g"]
    # G is trained to make D name the class each fake was drawn for.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(g_classes), keras.ops.convert_to_numpy(drawn)
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(g_validity), 1)
    d_call, g_call = record
    assert all(d_call["d_changed"]) and not any(d_call["g_changed"])
    assert not any(g_call["d_changed"]) and all(g_call["g_changed"])


def test_auxiliary_classifier_labels_out_of_range_are_refused():
    generator, discriminator, d_on_g = make_acgan()
    trainer = GANTrainer(generator, discriminator, d_on_g, num_classes=4)
    with pytest.raises(ValueError, match="from 0 to 3.*Received: y with labels"):
        trainer.fit(random_images(8), np.array([0, 1, 2, 3, 4, 0, 1, 2]), batch_size=4)


def test_a_class_head_of_another_size_is_refused():
    generator, discriminator, d_on_g = make_acgan(classes=4)
    with pytest.raises(ValueError, match=r"\(batch, 5\).*Received: discriminator out"):
        GANTrainer(generator, discriminator, d_on_g, num_classes=5)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"objective": "wgan"}, "standard, least_squares, hinge, wasserstein.*"
         "Received: objective='wgan'"),
        ({"d_steps": 0}, "`d_steps`.*Received: d_steps=0"),
        ({"d_steps": 1.5}, "`d_steps`.*Received: d_steps=1.5"),
        ({"d_steps": True}, "`d_steps`.*Received: d_steps=True"),
        ({"objective": "hinge"}, "loss hinge.*Received: discriminator compiled with "
         "loss binary_crossentropy"),
        ({"objective": "hinge", "real_label": 0.9}, "Received: real_label=0.9"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_argument(settings, message):
    generator, discriminator, d_on_g, _ = make_pair()
    with pytest.raises(ValueError, match=message):
        GANTrainer(generator, discriminator, d_on_g, **settings)


def test_a_sigmoid_critic_and_a_linear_standard_d_are_refused():
    generator, discriminator, d_on_g, _ = make_pair("standard")
    wasserstein = objectives.get("wasserstein")
    discriminator.compile(optimizer="adam", loss=wasserstein.discriminator_loss)
    d_on_g.compile(optimizer="adam", loss=wasserstein.generator_loss)
    with pytest.raises(ValueError, match="unbounded score.*Received: .*'sigmoid'"):
        GANTrainer(generator, discriminator, d_on_g, objective="wasserstein")

    generator, discriminator, d_on_g, _ = make_pair("least_squares")
    standard = objectives.get("standard")
    discriminator.compile(optimizer="adam", loss=standard.discriminator_loss)
    d_on_g.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="sigmoid.*Received: .*'linear'"):
        GANTrainer(generator, discriminator, d_on_g)


def test_a_loss_is_known_in_each_of_its_forms():
    for form in ("mse", "mean_squared_error", keras.losses.MeanSquaredError()):
        assert objectives.loss_name(form) == "mean_squared_error"
    assert objectives.loss_name(WassersteinLoss()) == "wasserstein"
    with pytest.raises(ValueError, match="Received: clip_value=0"):
        ClipWeights(0)


@jax_only
@pytest.mark.parametrize(
    ("objective", "d_steps"), [("wasserstein", 3), ("least_squares", 1)]
)
def test_the_fused_engine_computes_what_the_classic_loop_computes(objective, d_steps):
    from gan_cookbook.fused import FusedGANTrainer

    images = random_images(48)
    runs = {}
    for engine in ("classic", "fused"):
        generator, discriminator, d_on_g, _ = make_pair(
            objective, d_steps, weight_clip=0.05, seed=4
        )
        trainer_class = FusedGANTrainer if engine == "fused" else GANTrainer
        trainer = trainer_class(
            generator,
            discriminator,
            d_on_g,
            seed=4,
            objective=objective,
            d_steps=d_steps,
        )
        record = StepLosses()
        trainer.fit(images, batch_size=4, epochs=2, callbacks=[record], verbose=0)
        runs[engine] = (
            record.logs,
            snapshot(generator.weights + discriminator.weights),
        )
    assert len(runs["classic"][0]) == 2 * (48 // (4 * d_steps))
    assert_engines_agree(runs["classic"], runs["fused"])


def test_changed_weights_helper_sees_a_change():
    # The helpers the tests above lean on tell a change from none.
    weight = keras.Variable(np.zeros(3, dtype="float32"))
    before = snapshot([weight])
    assert changed(before, [weight]) == [False]
    weight.assign(np.ones(3, dtype="float32"))
    assert changed(before, [weight]) == [True]


@jax_only
def test_the_fused_engine_trains_an_auxiliary_classifier_as_the_classic_loop():
    from gan_cookbook.fused import FusedGANTrainer

    images = random_images(32)
    labels = np.arange(32) % 4
    runs = []
    for trainer_class in (GANTrainer, FusedGANTrainer):
        generator, discriminator, d_on_g = make_acgan(seed=5)
        trainer = trainer_class(generator, discriminator, d_on_g, num_classes=4, seed=5)
        record = StepLosses()
        trainer.fit(
            images, labels, batch_size=8, epochs=1, callbacks=[record], verbose=0
        )
        runs.append((record.logs, snapshot(generator.weights + discriminator.weights)))
    assert len(runs[0][0]) == 4
    assert_engines_agree(*runs)
