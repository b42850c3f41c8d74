import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gan_cookbook.gan_model import (  # noqa: E402
    GANModel,
    discriminator_metrics,
    make_trainer,
    stack,
)
from gan_cookbook.models import (  # noqa: E402
    precision_scope,
    quick_discriminator,
    quick_generator,
)
from gan_cookbook.noise import Noise  # noqa: E402

ROOT = Path(__file__).parent.parent

jax_only = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the fused engine runs on JAX only; tests/test_backends.py runs this test "
    "on JAX",
)
"""For a test of the fused engine, which tests/test_backends.py runs on JAX."""

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    # What gan_cookbook.backend.enable_determinism does when a run starts, done
    # before any test runs an op: after that TensorFlow keeps its threads, and a
    # clipped critic's runs would not repeat (backend.enable_determinism says why).
    tf.config.threading.set_inter_op_parallelism_threads(1)


def make_gan(
    seed=0,
    noise=None,
    noise_dim=10,
    image_shape=(28, 28, 1),
    engine="classic",
    precision="float32",
):
    """A small DCGAN pair (BatchNorm in G, none in D, as the cooking models), compiled
    as the mnist recipe compiles its models.

    The quick recipe's models with 8 filters: the loop's behaviour does not depend on
    the models' size, and small models keep these tests fast on every backend
    (test_loop.py on TensorFlow: 71 s where the cooking models took 94 s).
    """
    keras.utils.set_random_seed(seed)
    with precision_scope(precision):
        generator = quick_generator(noise_dim, image_shape, filters=8)
        discriminator = quick_discriminator(image_shape, filters=8)
        discriminator.compile(
            optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            loss="binary_crossentropy",
            metrics=discriminator_metrics(),
        )
        d_on_g = stack(
            generator, discriminator, keras.optimizers.Adam(2e-4, beta_1=0.5)
        )
    trainer = make_trainer(
        GANModel(generator, discriminator, d_on_g), noise or Noise(), seed, engine
    )
    return generator, discriminator, d_on_g, trainer


@pytest.fixture
def gan():
    return make_gan()


def random_images(count, image_shape=(28, 28, 1), seed=0):
    return (
        np.random.default_rng(seed)
        .uniform(-1, 1, (count, *image_shape))
        .astype("float32")
    )


def write_npz(path, count=96, channels=None, seed=0):
    """A small Keras-layout .npz of uint8 images with labels."""
    rng = np.random.default_rng(seed)
    shape = (count, 28, 28) if channels is None else (count, 28, 28, channels)
    np.savez(
        path,
        x_train=rng.integers(0, 256, shape, dtype=np.uint8),
        y_train=rng.integers(0, 10, count, dtype=np.uint8),
    )
    return path


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache (classifiers, datasets) and a network that records and
    refuses every download: ``(home, downloads)``."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    downloads = []

    def refuse(url, *arguments, **options):
        downloads.append(url)
        raise OSError("network is off in tests")

    monkeypatch.setattr(keras.src.utils.file_utils, "urlretrieve", refuse)
    return home, downloads


class StopAt(keras.callbacks.Callback):
    """Stops training after a given step of a given epoch, as Ctrl-C does."""

    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step, self.current = epoch, step, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.step):
            self.act()

    def act(self):
        self.model.stop_training = True


class StepLosses(keras.callbacks.Callback):
    """Records every step's losses and logs."""

    def __init__(self):
        super().__init__()
        self.losses = []
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append((logs["d_loss"], logs["g_loss"]))
        self.logs.append(dict(logs))


def snapshot(variables):
    return [np.array(keras.ops.convert_to_numpy(variable)) for variable in variables]


def changed(before, variables):
    return [
        not np.array_equal(old, new)
        for old, new in zip(before, snapshot(variables), strict=True)
    ]


def spy_on(model, record, generator, discriminator):
    """Wraps ``model.train_on_batch`` to record which weights each call changed."""
    original = model.train_on_batch

    def train_on_batch(x, y, **kwargs):
        g_before, d_before = (
            snapshot(generator.weights),
            snapshot(discriminator.weights),
        )
        result = original(x, y, **kwargs)
        record.append(
            {
                "model": model.name,
                "x": x,
                "trainable": discriminator.trainable,
                "g_changed": changed(g_before, generator.weights),
                "d_changed": changed(d_before, discriminator.weights),
            }
        )
        return result

    model.train_on_batch = train_on_batch


def assert_same_weights(*pairs):
    """Each model's weights equal its twin's, exactly: ``(model, twin)`` pairs."""
    for model, twin in pairs:
        for weight, twin_weight in zip(model.weights, twin.weights, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(weight),
                keras.ops.convert_to_numpy(twin_weight),
            )


def assert_engines_agree(classic, fused, atol=1e-5):
    """Two runs' ``(step logs, weights)``, the classic engine's and the fused one's,
    agree step for step to float rounding: the weights within ``atol``."""
    (classic_logs, classic_weights), (fused_logs, fused_weights) = classic, fused
    assert len(fused_logs) == len(classic_logs)
    for fused_step, classic_step in zip(fused_logs, classic_logs, strict=True):
        assert sorted(fused_step) == sorted(classic_step)
        for key, value in classic_step.items():
            assert fused_step[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    for fused_weight, classic_weight in zip(
        fused_weights, classic_weights, strict=True
    ):
        np.testing.assert_allclose(fused_weight, classic_weight, rtol=1e-4, atol=atol)


def run_script(monkeypatch):
    """benchmarks/run.py as a module (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location(
        "benchmark_run", ROOT / "benchmarks" / "run.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "benchmark_run", module)  # for its dataclasses
    spec.loader.exec_module(module)
    return module
