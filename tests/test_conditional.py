"""The loop with a conditional pair: G takes [noise, labels], D [images, labels].

tests/test_backends.py runs this file on each backend.
"""

import keras
import numpy as np
import pytest
from keras import layers

from gan_cookbook.checkpoint import restore_trainer_state, trainer_state
from gan_cookbook.fused import FusedGANTrainer
from gan_cookbook.gan_model import stack
from gan_cookbook.loop import GANTrainer
from gan_cookbook.noise import Noise

from conftest import StepLosses, StopAt

CLASSES = 3


def conditional_gan(seed=0, engine=GANTrainer, **options):
    """A small conditional pair on 8x8 images: each model embeds the label and
    joins it to its input (G: to the noise; D: to the flattened image)."""
    keras.utils.set_random_seed(seed)
    noise = keras.Input((4,), name="noise")
    label = keras.Input((), dtype="int32", name="label")
    joined = layers.Concatenate()([noise, layers.Embedding(CLASSES, 4)(label)])
    hidden = layers.BatchNormalization()(layers.Dense(32, activation="relu")(joined))
    image = layers.Reshape((8, 8, 1))(layers.Dense(64, activation="tanh")(hidden))
    generator = keras.Model([noise, label], image)

    images = keras.Input((8, 8, 1), name="images")
    image_label = keras.Input((), dtype="int32", name="label")
    features = layers.Concatenate()(
        [layers.Flatten()(images), layers.Embedding(CLASSES, 8)(image_label)]
    )
    probability = layers.Dense(1, activation="sigmoid")(
        layers.Dense(16, activation="relu")(features)
    )
    discriminator = keras.Model([images, image_label], probability)
    discriminator.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy"
    )
    d_on_g = stack(generator, discriminator, keras.optimizers.Adam(1e-3))
    trainer = engine(
        generator,
        discriminator,
        d_on_g,
        Noise("uniform", -1.0, 1.0),
        seed,
        num_classes=CLASSES,
        **options,
    )
    return generator, discriminator, d_on_g, trainer


def images_and_labels(count=96, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (count, 8, 8, 1)).astype("float32")
    # Class 0 three times as often as class 1; class 2 never.
    labels = np.array([0, 0, 0, 1] * (count // 4), dtype="int64")
    return images, labels


def weights(model):
    return [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]


def moved(before, model):
    return [
        not np.array_equal(old, new)
        for old, new in zip(before, weights(model), strict=True)
    ]


def test_stack_joins_the_labels_to_both_models():
    generator, discriminator, d_on_g, _ = conditional_gan()
    assert d_on_g.input_shape == [(None, 4), (None,)]
    noise = keras.ops.zeros((2, 4))
    labels = keras.ops.convert_to_tensor(np.array([0, 2], dtype="int32"))
    fakes = generator([noise, labels], training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(d_on_g([noise, labels], training=False)),
        keras.ops.convert_to_numpy(discriminator([fakes, labels], training=False)),
        rtol=1e-6,
    )
    assert discriminator.trainable  # stack leaves D as it found it


def test_each_call_trains_only_its_model():
    generator, discriminator, d_on_g, trainer = conditional_gan()
    images, labels = images_and_labels(16)
    calls = []
    for model in (discriminator, d_on_g):
        original = model.train_on_batch

        def spy(x, y, original=original, model=model, **kwargs):
            before = weights(generator), weights(discriminator)
            result = original(x, y, **kwargs)
            calls.append(
                (
                    model.name,
                    [tuple(part.shape) for part in x],
                    discriminator.trainable,
                    moved(before[0], generator),
                    moved(before[1], discriminator),
                )
            )
            return result

        model.train_on_batch = spy
    for _ in range(2):
        trainer.train_step(images, labels)
    assert [call[0] for call in calls] == [discriminator.name, d_on_g.name] * 2
    for d_call, g_call in zip(calls[::2], calls[1::2], strict=True):
        # D: 16 real and 16 fake images with their labels; only D's weights move.
        assert d_call[1] == [(32, 8, 8, 1), (32,)] and d_call[2] is True
        assert all(d_call[4]) and not any(d_call[3])
        # d_on_g: 16 noise vectors and drawn labels; D frozen, every G weight moves.
        assert g_call[1] == [(16, 4), (16,)] and g_call[2] is False
        assert all(g_call[3]) and not any(g_call[4])


def test_fakes_labels_follow_the_training_labels():
    _, _, _, trainer = conditional_gan()
    images, labels = images_and_labels()
    trainer.fit(images, labels, batch_size=32, epochs=1, verbose=0)
    drawn = keras.ops.convert_to_numpy(trainer.fake_batch.draw_labels(20000))
    shares = np.bincount(drawn, minlength=CLASSES) / len(drawn)
    # The training labels' frequencies: 3/4, 1/4 and none.
    np.testing.assert_allclose(shares, [0.75, 0.25, 0.0], atol=0.015)
    assert shares[2] == 0


def test_the_real_labels_reach_d_with_their_images():
    generator, discriminator, _, trainer = conditional_gan()
    images, labels = images_and_labels(8)
    (d_images, d_labels), (g_noise, g_labels) = trainer.make_fake_batch(
        keras.ops.convert_to_tensor(images), keras.ops.convert_to_tensor(labels)
    )
    d_labels = keras.ops.convert_to_numpy(d_labels)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(d_images)[:8], images)
    np.testing.assert_array_equal(d_labels[:8], labels)
    assert set(d_labels[8:]) <= set(range(CLASSES))
    assert tuple(g_noise.shape) == (8, 4) and tuple(g_labels.shape) == (8,)


@pytest.mark.parametrize("stop", [(0, 2), (1, 1)], ids=["epoch-end", "mid-epoch"])
def test_restored_state_resumes_exactly(stop):
    images, labels = images_and_labels(64)
    straight = StepLosses()
    conditional_gan(seed=3)[3].fit(
        images, labels, batch_size=16, epochs=2, callbacks=[straight], verbose=0
    )
    before = StepLosses()
    first = conditional_gan(seed=3)[3]
    first.fit(
        images,
        labels,
        batch_size=16,
        epochs=2,
        callbacks=[before, StopAt(*stop)],
        verbose=0,
    )
    after = StepLosses()
    resumed = conditional_gan(seed=99)[3]
    restore_trainer_state(resumed, trainer_state(first))
    resumed.fit(images, labels, batch_size=16, epochs=2, callbacks=[after], verbose=0)
    assert before.losses + after.losses == straight.losses


def test_fused_engine_computes_what_the_classic_loop_computes():
    if keras.backend.backend() != "jax":
        pytest.skip("the fused engine runs on JAX only")
    images, labels = images_and_labels(64)
    runs = []
    for engine in (GANTrainer, FusedGANTrainer):
        generator, discriminator, _, trainer = conditional_gan(seed=4, engine=engine)
        record = StepLosses()
        trainer.fit(
            images, labels, batch_size=16, epochs=2, callbacks=[record], verbose=0
        )
        runs.append((record.losses, weights(generator) + weights(discriminator)))
    (classic_losses, classic_weights), (fused_losses, fused_weights) = runs
    np.testing.assert_allclose(fused_losses, classic_losses, rtol=1e-5, atol=1e-6)
    for fused, classic in zip(fused_weights, classic_weights, strict=True):
        np.testing.assert_allclose(fused, classic, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "labels, message",
    [
        (None, r"give `y`.*Received: y=None"),
        (np.zeros(10, dtype="int64"), r"shape \(96,\).*Received: y of shape \(10,\)"),
        (np.zeros(96, dtype="float32"), "integer class labels.*dtype float32"),
        (np.full(96, 3), r"from 0 to 2 \(num_classes=3\).*labels from 3 to 3"),
        (np.full(96, -1), "labels from -1 to -1"),
    ],
    ids=["missing", "wrong-length", "float", "too-large", "negative"],
)
def test_bad_labels_are_refused_before_training(labels, message):
    generator, discriminator, _, trainer = conditional_gan()
    before = weights(generator) + weights(discriminator)
    images, _ = images_and_labels()
    with pytest.raises(ValueError, match=message):
        trainer.fit(images, labels, batch_size=16, verbose=0)
    after = weights(generator) + weights(discriminator)
    assert all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def test_a_pair_that_does_not_match_is_refused():
    generator, discriminator, d_on_g, _ = conditional_gan()
    images = keras.Input((8, 8, 1))
    plain = keras.Model(
        images, layers.Dense(1, activation="sigmoid")(layers.Flatten()(images))
    )
    plain.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"both take one input.*\(None, 8, 8, 1\)"):
        stack(generator, plain)
    with pytest.raises(ValueError, match="needs `num_classes`.*num_classes=None"):
        GANTrainer(generator, discriminator, d_on_g)
    with pytest.raises(ValueError, match="Received: num_classes=1"):
        GANTrainer(generator, discriminator, d_on_g, num_classes=1)


def test_an_unconditional_pair_refuses_labels(gan):
    generator, discriminator, d_on_g, trainer = gan
    with pytest.raises(ValueError, match="Received: num_classes=10"):
        GANTrainer(generator, discriminator, d_on_g, num_classes=10)
    images = np.zeros((8, 28, 28, 1), dtype="float32")
    with pytest.raises(ValueError, match=r"take none.*Received: y of shape \(8,\)"):
        trainer.fit(images, np.zeros(8, dtype="int64"), batch_size=4, verbose=0)
