"""A conditional recipe cooked as a run: its models, data, grids, resume and bench."""

import csv
import json
from functools import partial

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.average import AveragedGenerator, average_optimizer
from gan_cookbook.bench import benchmark
from gan_cookbook.cli import main
from gan_cookbook.cook import cook, prepare
from gan_cookbook.gan_model import build_gan_model, stack
from gan_cookbook.images import make_grid
from gan_cookbook.models import (
    CONDITIONINGS,
    conditional_cooking_discriminator,
    conditional_cooking_generator,
    conditional_quick_discriminator,
    conditional_quick_generator,
    quick_discriminator,
    quick_generator,
)
from gan_cookbook.noise import Noise

SMALL = {"limit": 128, "batch_size": 32, "verbose": 0}


def labelled_npz(path, count=96, classes=3, seed=0):
    """Images whose mean brightness is their class: a dataset the test owns."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % classes
    images = rng.integers(0, 64, (count, 28, 28), dtype=np.uint8)
    images += (labels * 80).astype(np.uint8)[:, None, None]
    np.savez(path, x_train=images, y_train=labels)
    return path


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_each_conditioning_makes_d_depend_on_the_label(conditioning):
    keras.utils.set_random_seed(0)
    discriminator = conditional_cooking_discriminator(
        (28, 28, 1), num_classes=4, conditioning=conditioning
    )
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1))
    images = images.astype("float32")
    if conditioning != "projection":
        # Their label weights start near zero (multiply) or meet zero-mean
        # kernels (channels); training moves them, so move them here.
        for weight in discriminator.weights:
            weight.assign(np.random.default_rng(1).normal(size=weight.shape) * 0.1)
    one = discriminator.predict_on_batch([images, np.zeros(4, "int32")])
    other = discriminator.predict_on_batch([images, np.full(4, 3, "int32")])
    assert one.shape == (4, 1)
    assert not np.allclose(one, other)


def test_the_generator_draws_each_image_for_its_label():
    keras.utils.set_random_seed(0)
    generator = conditional_cooking_generator(10, (28, 28, 1), num_classes=10)
    noise = np.full((2, 10), 0.5, "float32")
    images = generator.predict_on_batch([noise, np.array([3, 7], "int32")])
    assert images.shape == (2, 28, 28, 1)
    # Same noise, two labels: two images.
    assert not np.allclose(images[0], images[1])


def test_the_quick_conditional_models_add_only_the_label_weights():
    keras.utils.set_random_seed(0)
    generator = conditional_quick_generator(32, (28, 28, 1), num_classes=10)
    discriminator = conditional_quick_discriminator((28, 28, 1), num_classes=10)
    # G: a 10-number embedding per class, read by the Dense beside the noise.
    plain_generator = quick_generator(32, (28, 28, 1))
    assert generator.count_params() == (
        plain_generator.count_params() + 10 * 10 + 10 * 7 * 7 * 64
    )
    # D: one embedding of its 7*7*64 flattened features per class.
    assert discriminator.count_params() == (
        quick_discriminator((28, 28, 1)).count_params() + 10 * 7 * 7 * 64
    )
    noise = np.full((2, 32), 0.5, "float32")
    images = generator.predict_on_batch([noise, np.array([3, 7], "int32")])
    assert images.shape == (2, 28, 28, 1) and not np.allclose(images[0], images[1])
    same = np.repeat(images[:1], 2, axis=0)
    judged = discriminator.predict_on_batch([same, np.array([3, 7], "int32")])
    assert judged.shape == (2, 1) and not np.allclose(judged[0], judged[1])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: conditional_cooking_generator(10, num_classes=1), "num_classes"),
        (lambda: conditional_cooking_discriminator(num_classes=True), "num_classes"),
        (lambda: conditional_quick_generator(32, num_classes=0), "num_classes"),
        (lambda: conditional_quick_discriminator(image_shape=(27, 28, 1)), "by 4"),
        (
            lambda: conditional_cooking_discriminator(conditioning="add"),
            "`conditioning` must be one of projection, channels, multiply",
        ),
    ],
)
def test_bad_builder_settings_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_build_gan_model_needs_num_classes_for_a_conditional_recipe_only():
    with pytest.raises(ValueError, match="conditional=True"):
        build_gan_model(recipes.get("mnist_conditional"))
    with pytest.raises(ValueError, match="conditional=False"):
        build_gan_model(recipes.get("mnist"), num_classes=10)
    gan_model = build_gan_model(recipes.get("mnist_conditional"), num_classes=10)
    assert gan_model.d_on_g.input_shape == [(None, 10), (None,)]


def test_a_conditional_run_writes_one_grid_row_per_class(tmp_path):
    data = labelled_npz(tmp_path / "three.npz")
    run = cook(
        recipes.get("mnist_conditional"),
        out=tmp_path / "run",
        data=data,
        epochs=1,
        **SMALL,
    )
    settings = json.loads((run.out / "recipe.json").read_text())
    assert settings["recipe"]["conditional"] is True
    assert settings["data"]["num_classes"] == 3
    grid_size = recipes.get("mnist_conditional").grid_size
    grid = np.asarray(Image.open(run.out / "samples" / "epoch_0001.png"))
    expected = make_grid(np.zeros((3 * grid_size, 28, 28, 1)), columns=grid_size)
    assert grid.shape[:2] == expected.shape[:2]
    # Row k of the grid is the averaged G's drawing of class k.
    noise = np.load(next((run.out / "checkpoints").glob("*.npz")))["sample_noise"]
    labels = np.repeat(np.arange(3, dtype="int32"), grid_size)
    images = run.averaged_generator.predict_on_batch([noise, labels])
    np.testing.assert_array_equal(grid, make_grid(images, columns=grid_size)[..., 0])


def test_eval_every_logs_the_label_accuracy_of_both_generators(tmp_path):
    run = cook(
        recipes.get("mnist_conditional"),
        out=tmp_path / "run",
        epochs=1,
        eval_every=1,
        eval_count=200,
        **SMALL,
    )
    with (run.out / "history.csv").open() as file:
        (row,) = csv.DictReader(file)
    for key in ("frechet_distance", "frechet_distance_raw"):
        assert float(row[key]) > 0
    for key in ("label_accuracy", "label_accuracy_raw"):
        assert 0 <= float(row[key]) <= 1


def test_a_conditional_run_resumes_exactly(tmp_path):
    data = labelled_npz(tmp_path / "three.npz")
    recipe = recipes.get("mnist_conditional")
    straight = cook(recipe, out=tmp_path / "straight", data=data, epochs=2, **SMALL)
    cook(recipe, out=tmp_path / "split", data=data, epochs=1, **SMALL)
    resumed = cook(
        recipe, out=tmp_path / "split", data=data, epochs=2, resume=True, **SMALL
    )
    assert resumed.resumed_from is not None
    for before, after in (
        (straight.generator, resumed.generator),
        (straight.discriminator, resumed.discriminator),
        (straight.averaged_generator, resumed.averaged_generator),
    ):
        for one, other in zip(before.weights, after.weights, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(one), keras.ops.convert_to_numpy(other)
            )


def test_a_conditional_recipe_refuses_data_without_labels(tmp_path):
    images = np.zeros((64, 28, 28), np.uint8)
    np.save(tmp_path / "images.npy", images)
    with pytest.raises(ValueError, match="images.npy has no labels"):
        prepare(
            recipes.get("mnist_conditional"),
            out=tmp_path / "run",
            data=tmp_path / "images.npy",
            **SMALL,
        )
    result = CliRunner().invoke(
        main,
        [
            "cook",
            "mnist_conditional",
            "--data",
            str(tmp_path / "images.npy"),
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 2
    assert "has no labels" in result.output and "--data" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_the_classes_come_from_the_data_a_folder_names_them(tmp_path):
    for index, name in enumerate(("cat", "dog")):
        folder = tmp_path / "pets" / name
        folder.mkdir(parents=True)
        for number in range(40):
            pixels = np.full((28, 28), 60 + 100 * index + number, np.uint8)
            Image.fromarray(pixels).save(folder / f"{number}.png")
    run = prepare(
        recipes.get("mnist_conditional"),
        out=tmp_path / "run",
        data=tmp_path / "pets",
        **SMALL,
    )
    assert run.num_classes == 2
    assert run.trainer.num_classes == 2
    assert run.generator.get_layer("label_embedding").input_dim == 2


def test_the_averaged_conditional_generator_recomputes_batchnorm_with_labels():
    keras.utils.set_random_seed(0)
    generator = conditional_cooking_generator(10, (28, 28, 1), num_classes=10)
    discriminator = conditional_cooking_discriminator((28, 28, 1), num_classes=10)
    discriminator.compile(optimizer="adam", loss="binary_crossentropy")
    optimizer = average_optimizer(keras.optimizers.Adam(1e-3), 0.9)
    stack(generator, discriminator, optimizer)
    with pytest.raises(ValueError, match="num_classes"):
        AveragedGenerator(generator, optimizer)
    averaged = AveragedGenerator(generator, optimizer, noise=Noise(), num_classes=10)
    before = [
        keras.ops.convert_to_numpy(v) for v in averaged.model.non_trainable_weights
    ]
    model = averaged.update()
    after = [keras.ops.convert_to_numpy(v) for v in model.non_trainable_weights]
    # The moving statistics now describe a batch of noise and all ten labels.
    assert any(
        not np.allclose(one, other) for one, other in zip(before, after, strict=True)
    )


def test_bench_times_a_conditional_step():
    result = benchmark(
        recipes.get("mnist_conditional"), steps=2, warmup=1, limit=256, batch_size=32
    )
    assert result["recipe"] == "mnist_conditional"
    assert len(result["step_ms"]) == 2


def test_a_recipe_refuses_a_conditional_that_is_not_a_bool():
    with pytest.raises(ValueError, match="Received: conditional='yes'"):
        recipes.get("mnist").replace(conditional="yes")


def test_another_conditioning_cooks_from_a_recipe_of_its_own(tmp_path):
    data = labelled_npz(tmp_path / "three.npz")
    recipe = recipes.get("mnist_conditional").replace(
        build_discriminator=partial(
            conditional_cooking_discriminator, conditioning="channels"
        )
    )
    run = cook(recipe, out=tmp_path / "run", data=data, epochs=1, **SMALL)
    assert run.discriminator.input_shape == [(None, 28, 28, 1), (None,)]


@pytest.mark.parametrize("name", ["fashion_mnist", "kmnist"])
def test_conditional_variants_take_the_measured_conditional_optimizers(name):
    variant = recipes.get(f"{name}_conditional")
    measured = recipes.get("mnist_conditional")
    unconditional = recipes.get(name)
    rate = float(variant.generator_optimizer().learning_rate)
    assert rate == pytest.approx(float(measured.generator_optimizer().learning_rate))
    assert rate != pytest.approx(
        float(unconditional.generator_optimizer().learning_rate)
    )
    # The average too: the unconditional recipes average more slowly.
    assert variant.average == measured.average != unconditional.average
    # And D's optimizer: the unconditional recipes' Adam has other moments.
    beta_1 = float(variant.discriminator_optimizer().beta_1)
    assert beta_1 == pytest.approx(float(measured.discriminator_optimizer().beta_1))
    assert beta_1 != pytest.approx(
        float(unconditional.discriminator_optimizer().beta_1)
    )
    # Everything else is the unconditional recipe's.
    assert variant.noise_dim == unconditional.noise_dim
