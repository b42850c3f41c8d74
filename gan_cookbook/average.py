"""The averaged generator: an exponential moving average of G's weights.

Averaging a GAN generator's weights over its last steps gives better samples than
its last weights (Yazıcı et al., ICLR 2019, "The Unusual Effectiveness of Averaging
in GAN Training"): G oscillates around a good solution and the average sits nearer
its centre. Keras' optimizers already keep such an average (``use_ema=True``,
``ema_momentum``), inside their compiled update step, on every backend and in the
fused engine's stateless step alike, so the average costs no extra call a step and
is checkpointed with the optimizer's other variables. Keras updates it as::

    average = weights                                   after the first step
    average = decay * average + (1 - decay) * weights  after every later step

It never changes training (``ema_overwrite_frequency`` stays ``None``): only what
is sampled changes. :func:`average_optimizer` turns G's optimizer into one that
averages; :class:`AveragedGenerator` keeps a copy of G holding the average, for the
sample grids, ``--eval-every`` and ``generator.keras``.

BatchNormalization's moving mean and variance are not trainable, so the optimizer
does not average them (averaging them would average what is already a moving
average). :class:`AveragedGenerator` recomputes them for the averaged weights by
default, from one large batch of noise run through the copy in training mode: the
statistics the averaged layers really produce (measured in
``docs/averaging.md``, "BatchNorm's statistics").
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from gan_cookbook.checks import check_integer
from gan_cookbook.noise import Noise

BATCHNORM_POLICIES = ("recompute", "copy")
"""What the averaged copy uses for BatchNorm's moving statistics: recomputed for the
averaged weights, or copied from the trained G."""


def check_decay(decay: Any, name: str = "decay") -> float:
    """``decay`` as a float, checked to be in (0, 1); the error names ``name``."""
    if (
        isinstance(decay, bool)
        or not isinstance(decay, (int, float))
        or not 0 < decay < 1
    ):
        raise ValueError(
            f"`{name}` must be a number in (0, 1), such as 0.99. "
            f"Received: {name}={decay!r}"
        )
    return float(decay)


def average_optimizer(
    optimizer: keras.optimizers.Optimizer, decay: float
) -> keras.optimizers.Optimizer:
    """A fresh copy of ``optimizer`` that also averages the weights it trains.

    Args:
        optimizer: An optimizer that has not been built yet (its settings are
            copied through ``get_config``).
        decay: The average's ``ema_momentum``, in (0, 1): each step keeps this
            share of the average. Its horizon is about ``1 / (1 - decay)`` steps.

    Returns:
        The same kind of optimizer, with ``use_ema=True`` and
        ``ema_momentum=decay``.
    """
    decay = check_decay(decay)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            "`optimizer` must be a keras.optimizers.Optimizer. "
            f"Received: optimizer={optimizer!r}"
        )
    config = {
        **optimizer.get_config(),
        "use_ema": True,
        "ema_momentum": decay,
        "ema_overwrite_frequency": None,
    }
    return type(optimizer).from_config(config)


def averaging_decay(optimizer: keras.optimizers.Optimizer) -> float | None:
    """The decay of the average ``optimizer`` keeps, or ``None`` if it keeps none."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return float(inner.ema_momentum) if inner.use_ema else None


class AveragedGenerator:
    """A copy of G that holds the moving average of G's weights.

    The average is the one ``optimizer`` keeps (:func:`average_optimizer`): the
    optimizer of ``d_on_g``, built for G's trainable weights. :meth:`update` copies
    it into :attr:`model`; nothing here changes G or the optimizer.

    Args:
        generator: The generator being trained (a functional or Sequential model,
            which ``keras.models.clone_model`` copies).
        optimizer: The optimizer that trains it and keeps the average.
        noise: G's input distribution, for recomputing BatchNorm's statistics.
            Defaults to uniform in [0, 1).
        batchnorm: ``"recompute"`` (the default): BatchNorm's moving mean and
            variance are those of the averaged layers, over ``batchnorm_count``
            noise vectors; ``"copy"``: the trained G's.
        batchnorm_count: Noise vectors of the one training-mode pass that
            recomputes the statistics. Defaults to 2048.
        seed: Seeds that noise: the same average gives the same statistics.
        num_classes: For a conditional G (``[noise, labels]`` in), the number of
            classes: the pass that recomputes the statistics draws every class
            equally often.

    Raises:
        ValueError: ``optimizer`` keeps no average, or a setting is not valid.
    """

    def __init__(
        self,
        generator: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        *,
        noise: Noise | None = None,
        batchnorm: str = "recompute",
        batchnorm_count: int = 2048,
        seed: int = 0,
        num_classes: int | None = None,
    ):
        decay = averaging_decay(optimizer)
        if decay is None:
            raise ValueError(
                "`optimizer` keeps no average of the weights: make it with "
                "average_optimizer(optimizer, decay) (Keras' use_ema=True). "
                f"Received: optimizer={type(optimizer).__name__} with use_ema=False"
            )
        if (len(generator.inputs) == 2) != (num_classes is not None):
            raise ValueError(
                "`num_classes` is needed for a conditional generator (noise and "
                "labels in), and only for one. Received: generator inputs "
                f"{[tuple(i.shape) for i in generator.inputs]}, "
                f"num_classes={num_classes!r}"
            )
        if batchnorm not in BATCHNORM_POLICIES:
            raise ValueError(
                f"`batchnorm` must be one of {', '.join(BATCHNORM_POLICIES)}. "
                f"Received: batchnorm={batchnorm!r}"
            )
        batchnorm_count = check_integer("batchnorm_count", batchnorm_count, minimum=2)
        self.generator = generator
        self.optimizer = optimizer
        self.noise = noise if noise is not None else Noise()
        self.batchnorm = batchnorm
        self.batchnorm_count = batchnorm_count
        self.seed = seed
        self.num_classes = num_classes
        self.decay = decay
        try:
            self.model = keras.models.clone_model(generator)
        except Exception as error:  # noqa: BLE001 - the reason is passed on
            raise ValueError(
                "`generator` cannot be copied by keras.models.clone_model "
                f"({type(error).__name__}: {error}); the averaged generator needs a "
                "functional or Sequential model, or one with get_config. "
                f"Received: generator={generator.name!r}"
            ) from None
        # Named for what it is, so that a saved file says it.
        self.model.name = f"{generator.name}_averaged"

    def update(self) -> keras.Model:
        """Refreshes :attr:`model` from the current average and returns it."""
        # The trained G's variables first (BatchNorm statistics, dropout seeds),
        # then the averaged trainable weights over them.
        for copy, variable in zip(
            self.model.variables, self.generator.variables, strict=True
        ):
            copy.assign(keras.ops.convert_to_numpy(variable))
        if int(keras.ops.convert_to_numpy(self.optimizer.iterations)) > 0:
            self.optimizer.finalize_variable_values(self.model.trainable_variables)
            # Copied through NumPy: on JAX the assignment shares the average's
            # buffer, which the next train_on_batch donates and deletes.
            for variable in self.model.trainable_variables:
                variable.assign(np.array(keras.ops.convert_to_numpy(variable)))
        if self.batchnorm == "recompute":
            self._recompute_batchnorm()
        return self.model

    def _recompute_batchnorm(self) -> None:
        layers = [
            layer
            for layer in _all_layers(self.model)
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        if not layers:
            return
        momenta = [layer.momentum for layer in layers]
        inputs = self.noise.sample(
            (self.batchnorm_count, int(self.model.inputs[0].shape[-1])),
            seed=self.seed,
        )
        if self.num_classes is not None:
            labels = np.arange(self.batchnorm_count, dtype="int32") % self.num_classes
            inputs = [inputs, keras.ops.convert_to_tensor(labels)]
        try:
            # With momentum 0 one training-mode pass sets the moving statistics to
            # those of the batch.
            for layer in layers:
                layer.momentum = 0.0
            self.model(inputs, training=True)
        finally:
            for layer, momentum in zip(layers, momenta, strict=True):
                layer.momentum = momentum


class UpdateAverage(keras.callbacks.Callback):
    """Refreshes an :class:`AveragedGenerator` at the end of every epoch.

    Put it before the callbacks that read ``averaged.model`` (sample grids,
    measurements): Keras calls callbacks in their list's order.
    """

    def __init__(self, averaged: AveragedGenerator):
        super().__init__()
        self.averaged = averaged

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.averaged.update()


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(_all_layers(layer))
    return found


def moving_statistics(model: keras.Model) -> list[np.ndarray]:
    """The moving means and variances of ``model``'s BatchNorm layers, as arrays."""
    return [
        keras.ops.convert_to_numpy(variable)
        for layer in _all_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
        for variable in (layer.moving_mean, layer.moving_variance)
    ]
