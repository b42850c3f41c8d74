"""The one place that imports a backend framework (TensorFlow, JAX or PyTorch).

Everything else in the package speaks ``keras``, ``keras.ops`` and ``keras.random``.
Imports here are lazy, so only the backend Keras runs on is ever imported.
"""

from __future__ import annotations

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

    On TensorFlow it also runs one op at a time (one inter-op thread; each op still
    uses every core), if TensorFlow has not started yet. Keras reads a variable it
    has just assigned within one train function (a weight constraint such as
    :class:`~gan_cookbook.keras_objects.ClipWeights` after the update, RMSprop's
    velocity), and TensorFlow's inter-op threads could run the read first: a clipped
    critic trained twice from one seed differed in 2 runs of 3, measured, and never
    with one inter-op thread, at no cost in step time on 2 CPU cores.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        try:
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            # TensorFlow has started (ops ran before): its threads stay as they are.
            pass


def describe_device() -> dict[str, Any]:
    """What Keras computes on: backend, its framework's version and accelerator.

    Returns:
        A dict with ``backend`` (Keras' backend name), ``framework`` and
        ``framework_version`` (the library behind it), ``device`` (``"gpu"`` or
        ``"cpu"``: where Keras puts its tensors) and ``accelerator`` (the GPU's name,
        or ``None``).
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
    return {
        "backend": name,
        "framework": framework,
        "framework_version": version,
        "device": "cpu" if accelerator is None else "gpu",
        "accelerator": accelerator,
    }
