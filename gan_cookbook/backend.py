"""The one place that imports a backend framework (TensorFlow, JAX or PyTorch).

Everything else in the package speaks ``keras``, ``keras.ops`` and ``keras.random``.
Imports here are lazy, so only the backend Keras runs on is ever imported.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import Any

import keras


def compile_training_call(layer: keras.Layer) -> Callable[..., Any]:
    """A compiled ``layer(*args, training=True)`` that updates the layer's state.

    A layer called in training mode updates its non-trainable state (BatchNorm's moving
    statistics, seed generators), exactly as an eager call would; the function is
    compiled once and never copies its inputs or outputs to the host.

    - JAX: ``jax.jit`` over ``layer.stateless_call``, the new state assigned back.
      An eager ``layer(x, training=True)`` dispatches every op separately and costs
      more than the host round trip of ``predict_on_batch`` it would save.
    - TensorFlow: a ``tf.function``.
    - PyTorch: eager, without building an autograd graph.
    - Other backends: the eager call.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        @jax.jit
        def stateless(trainable_values, non_trainable_values, *args):
            return layer.stateless_call(
                trainable_values, non_trainable_values, *args, training=True
            )

        def call(*args):
            non_trainable = layer.non_trainable_variables
            outputs, new_values = stateless(
                [variable.value for variable in layer.trainable_variables],
                [variable.value for variable in non_trainable],
                *args,
            )
            for variable, value in zip(non_trainable, new_values, strict=True):
                variable.assign(value)
            return outputs

        return call
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(
            lambda *args: layer(*args, training=True), reduce_retracing=True
        )
    if backend == "torch":
        import torch

        def call(*args):
            with torch.no_grad():
                return layer(*args, training=True)

        return call
    return lambda *args: layer(*args, training=True)


def enable_determinism() -> None:
    """Makes the backend's kernels deterministic where it has a switch for that.

    TensorFlow may otherwise pick kernels whose float reductions run in a varying
    order; JAX and PyTorch on the CPU are deterministic for the ops used here.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def compile_fused_step(
    trainer: Any,
) -> Callable[[Any], tuple[dict[str, Any], dict[str, Any]]]:
    """Both phases of a step in one compiled function (JAX only).

    Runs exactly what :meth:`GANTrainer.train_step` runs, through the models' own
    ``train_step`` methods and optimizers: the fake batch (G in training mode, noise
    from the trainer's seed generator), D's step with D trainable, then ``d_on_g``'s
    step with D frozen. One ``jax.jit`` call a step instead of three dispatches,
    and one host transfer for the logs.

    The models must have run one classic step first: that is when Keras builds
    their losses, metrics and optimizers.

    Returns:
        A function of a batch of real images that runs the step and returns D's and
        ``d_on_g``'s logs, on the host.
    """
    import jax  # GANTrainer refuses engine="fused" on any other backend

    discriminator, d_on_g = trainer.discriminator, trainer.d_on_g
    fake_batch = trainer._fake_batch_layer

    def state_lists(model: keras.Model, discriminator_trainable: bool) -> tuple:
        discriminator.trainable = discriminator_trainable
        lists = (
            list(model.trainable_variables),
            list(model.non_trainable_variables),
            list(model.optimizer.variables),
            list(model.metrics_variables),
        )
        discriminator.trainable = True
        return lists

    discriminator_state = state_lists(discriminator, True)
    d_on_g_state = state_lists(d_on_g, False)
    fake_state = (
        list(fake_batch.trainable_variables),
        list(fake_batch.non_trainable_variables),
    )
    variables: list[Any] = []
    slots: dict[int, int] = {}
    for group in (*fake_state, *discriminator_state, *d_on_g_state):
        for variable in group:
            if id(variable) not in slots:
                slots[id(variable)] = len(variables)
                variables.append(variable)

    # train_on_batch starts every call from freshly reset metrics. The fused step
    # starts from the same reset values, kept on the device: resetting from the
    # host before each call was more than half of the step's host time.
    discriminator.reset_metrics()
    d_on_g.reset_metrics()
    reset_values = (
        [variable.value for variable in discriminator_state[3]],
        [variable.value for variable in d_on_g_state[3]],
    )

    def step(values, reset_values, real_images, d_labels, g_labels):
        values = list(values)

        def get(group):
            return [values[slots[id(variable)]] for variable in group]

        def put(group, new_values):
            for variable, value in zip(group, new_values, strict=True):
                values[slots[id(variable)]] = value

        def train(model, state, reset, data, discriminator_trainable):
            # The trainable flag is read while tracing, as train_on_batch reads it.
            discriminator.trainable = discriminator_trainable
            put(state[3], reset)
            logs, new_state = model.train_step(
                tuple(get(group) for group in state), data
            )
            for group, new_values in zip(state, new_state, strict=True):
                put(group, new_values)
            return logs

        (images, g_noise), fake_values = fake_batch.stateless_call(
            get(fake_state[0]), get(fake_state[1]), real_images, training=True
        )
        put(fake_state[1], fake_values)
        d_logs = train(
            discriminator,
            discriminator_state,
            reset_values[0],
            (images, d_labels),
            True,
        )
        g_logs = train(
            d_on_g, d_on_g_state, reset_values[1], (g_noise, g_labels), False
        )
        discriminator.trainable = True
        return d_logs, g_logs, values

    compiled = jax.jit(step)

    def call(real_images: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        d_labels, g_labels = trainer._labels_for(int(real_images.shape[0]))
        d_logs, g_logs, values = compiled(
            [variable.value for variable in variables],
            reset_values,
            real_images,
            d_labels,
            g_labels,
        )
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
        # One host transfer for both models' logs.
        return jax.device_get((d_logs, g_logs))

    return call


def cpu_name() -> str:
    """The CPU's model name, as the operating system reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: fall back on what the platform module knows
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_device() -> dict[str, Any]:
    """What Keras computes on: backend, its framework's version, CPU and accelerator.

    Returns:
        A dict with ``backend`` (Keras' backend name), ``framework`` and
        ``framework_version`` (the library behind it), ``device`` (``"gpu"`` or
        ``"cpu"``: where Keras puts its tensors), ``accelerator`` (the GPU's name, or
        ``None``), ``cpu`` (the CPU's model name) and ``cpu_cores`` (the cores this
        process may use).
    """
    name = keras.backend.backend()
    accelerator = None
    framework, version = name, "unknown"
    if name == "tensorflow":
        import tensorflow as tf

        version = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            accelerator = details.get("device_name", gpus[0].name)
    elif name == "jax":
        import jax

        version = jax.__version__
        device = jax.devices()[0]
        if device.platform != "cpu":
            accelerator = device.device_kind
    elif name == "torch":
        import torch

        version = torch.__version__
        # Keras on PyTorch puts its tensors on the first CUDA device when there is one.
        if torch.cuda.is_available():
            accelerator = torch.cuda.get_device_name(0)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    return {
        "backend": name,
        "framework": framework,
        "framework_version": version,
        "device": "cpu" if accelerator is None else "gpu",
        "accelerator": accelerator,
        "cpu": cpu_name(),
        "cpu_cores": cores,
    }
